"""The training loop: one config in, one folder out that `load_model` can read.

The output folder holds config.json + model.safetensors, training_state.safetensors
(for --resume), log.csv with every loss term, and sample and reconstruction grids
per epoch. Under torchrun it trains with DistributedDataParallel; the global batch
of each step is the same set of images whatever the number of processes, so the
gradients match a single process for objectives without per-sample noise.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from vae_models import MODEL_TYPES, BaseVAE
from vae_models.checkpoint import MODEL_FILES, TRAINING_CONFIG_NAME, write_json
from vae_models.data import ImageDataset
from vae_models.data.augment import augment, step_seed

from .checkpointing import STATE_NAME, load_training_state, save_training_state, write_atomically
from .config import ModelSection, TrainingConfig
from .grids import save_reconstructions, save_samples
from .step import (
    AUTOCAST_NAMES,
    TrainingError,
    TrainingStep,
    autocast_dtype,
    emulated_bf16_warning,
    flush_denormals,
    measure_bf16_speedup,
    use_channels_last,
)

LOG_NAME = "log.csv"


@dataclass
class Progress:
    step: int = 0
    last_saved_step: int = 0
    elapsed_seconds: float = 0.0
    autocast: str = ""  # the precision "auto" chose: fp32, bf16 or fp16


# --- set-up ---------------------------------------------------------------------------


def build_model(model: ModelSection, dataset: ImageDataset) -> BaseVAE:
    cls = MODEL_TYPES.get(model.type)
    if cls is None:
        raise TrainingError(f"model.type must be one of {sorted(MODEL_TYPES)}, got {model.type!r}")
    # What the dataset decides (channels, size, class count), unless the config says otherwise.
    kwargs = cls.dataset_kwargs(dataset.in_channels, dataset.img_size, len(dataset.class_names)) | model.kwargs
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise TrainingError(f"bad model config: {err}") from err


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --- the run ----------------------------------------------------------------------------


class Run:
    """Holds what one training run needs; `fit()` trains it to the end."""

    def __init__(self, config: TrainingConfig, *, resume: bool = False) -> None:
        self.config = config
        self.cfg = config.train
        self.rank, self.world_size = _init_distributed()
        self.device = _device_for_rank(self.rank)
        flush_denormals(self.device)
        if config.output_dir is None:  # load_config fills it in; a config built in code must say
            raise TrainingError("output_dir is required")
        self.out = Path(config.output_dir)
        self.is_main = self.rank == 0
        seed_everything(config.seed)
        self._set_up_data()
        self._set_up_model()
        self._set_up_optimiser()
        self.progress = Progress()
        self._prepare_output(resume)
        # Each process draws its own reparameterisation noise from here on.
        if not resume:
            torch.manual_seed(config.seed + 1000 * self.rank)
        self.step = self._training_step()
        self.step.amp_dtype = self._autocast_dtype()

    def _set_up_data(self) -> None:
        """The train and test sets, and this process's share of each global batch."""
        data, batch_size = self.config.data, self.cfg.batch_size
        self.train_set = data.load("train")
        self.test_set = data.load("test")
        if batch_size % self.world_size:
            raise TrainingError(f"train.batch_size {batch_size} must divide by {self.world_size} processes")
        self.local_batch = batch_size // self.world_size
        self.sampler = DistributedSampler(
            self.train_set, self.world_size, self.rank, shuffle=True, seed=self.config.seed, drop_last=True
        )
        self.steps_per_epoch = len(self.sampler) // self.local_batch
        if self.steps_per_epoch == 0:
            raise TrainingError(f"train.batch_size {batch_size} exceeds the {len(self.train_set)} images")
        self.total_steps = self.cfg.max_steps or self.cfg.epochs * self.steps_per_epoch

    def _set_up_model(self) -> None:
        self.model = build_model(self.config.model, self.train_set).to(self.device)
        self.channels_last = use_channels_last(self.device, self.cfg.channels_last)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def _set_up_optimiser(self) -> None:
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        self.scheduler = _scheduler(self.optimiser, self.cfg.schedule, self.total_steps)

    def _training_step(self) -> TrainingStep:
        """The step the loop calls: through DistributedDataParallel across processes, compiled if asked."""
        network = DistributedDataParallel(self.model) if self.world_size > 1 else self.model
        return TrainingStep(
            self.model,
            torch.compile(network) if self.cfg.compile else network,
            self.optimiser,
            dataset_size=len(self.train_set),
            channels_last=self.channels_last,
            kld_weight=self.cfg.kld_weight,
            grad_clip=self.cfg.grad_clip,
        )

    def _autocast_dtype(self) -> torch.dtype | None:
        """What "auto" picks is measured once and saved with the run: a resumed run keeps the
        precision it began with, and every process of a distributed run takes rank 0's."""
        if self.cfg.precision != "auto":
            if warning := emulated_bf16_warning(self.device, self.cfg.precision):
                self._say(warning)
            return autocast_dtype(self.device, self.cfg.precision)
        if not self.progress.autocast:
            names = [self._choose_autocast() if self.is_main else ""]
            if self.world_size > 1:
                dist.broadcast_object_list(names, src=0)
            self.progress.autocast = names[0]
        return {name: dtype for dtype, name in AUTOCAST_NAMES.items()}[self.progress.autocast]

    def _choose_autocast(self) -> str:
        speedups = []

        def bf16_speedup() -> float:
            x, y = self.train_set.batch(list(range(self.local_batch)))
            speedups.append(measure_bf16_speedup(self.step, x.to(self.device), y.to(self.device)))
            return speedups[0]

        name = AUTOCAST_NAMES[autocast_dtype(self.device, "auto", bf16_speedup)]
        if speedups:
            self._say(f"train.precision auto: {name} (a bf16 step ran {speedups[0]:.2f}x as fast as fp32 here)")
        return name

    def _prepare_output(self, resume: bool) -> None:
        has_state = (self.out / STATE_NAME).exists()
        if has_state and not resume:
            raise TrainingError(
                f"{self.out} already holds a training run; pass --resume to continue it, or set output_dir=..."
            )
        if resume and has_state:
            progress = load_training_state(self.out, self.model, self.optimiser, self.scheduler)
            self.progress = Progress(**progress)
            self._say(f"resuming {self.out} at step {self.progress.step}")
        elif resume:
            self._say(f"nothing to resume in {self.out}; starting from step 0")
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json(self.out / TRAINING_CONFIG_NAME, self.config.to_dict())
            _trim_log(self.out / LOG_NAME, self.progress.step)

    # --- loop -----------------------------------------------------------------------------

    def fit(self) -> Path:
        """Train to the last step; an interrupted run saves where it stopped first.

        SIGTERM (what the page's Stop sends) ends the run after the step under way, so that
        `--resume` continues exactly; `stopped` then says the run ended early. Ctrl-C stops at
        once, perhaps mid-step, and resumes from the last checkpoint."""
        self._started = time.perf_counter() - self.progress.elapsed_seconds
        with _stop_requests() as self._stop_requested:
            try:
                self._loop()
            except KeyboardInterrupt:
                self._checkpoint()
                raise
        self._checkpoint()
        return self.out

    @property
    def stopped(self) -> bool:
        return self.progress.step < self.total_steps

    def _loop(self) -> None:
        bar = tqdm(total=self.total_steps, initial=self.progress.step, disable=not self.is_main, dynamic_ncols=True)
        window_start, window_images = time.perf_counter(), 0
        for x, y in self._batches():
            terms = self._step(x, y)
            self.progress.step += 1
            window_images += x.shape[0] * self.world_size
            if self.progress.step % self.cfg.log_every == 0 or self.progress.step == self.total_steps:
                rate = window_images / (time.perf_counter() - window_start)
                self._log(terms, rate)
                bar.set_postfix({**{k: f"{v:.4g}" for k, v in terms.items()}, "img/s": f"{rate:.0f}"})
                window_start, window_images = time.perf_counter(), 0
            bar.update(1)
            end_of_epoch = self.progress.step % self.steps_per_epoch == 0
            if end_of_epoch:
                self._write_grids(self.progress.step // self.steps_per_epoch)
            if end_of_epoch or self.progress.step % self.cfg.checkpoint_every == 0:
                self._checkpoint()
            if self._stop_requested.is_set():
                break
        bar.close()

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The remaining batches of the run, from the exact point a resumed run left off."""
        while self.progress.step < self.total_steps:
            epoch, skip = divmod(self.progress.step, self.steps_per_epoch)
            self.sampler.set_epoch(epoch)
            indices = list(self.sampler)
            batches = [
                indices[i : i + self.local_batch]
                for i in range(0, self.steps_per_epoch * self.local_batch, self.local_batch)
            ]
            first = self.progress.step
            remaining = batches[skip : skip + self.total_steps - first]
            # Fetched directly: a DataLoader iterator draws a seed from the global RNG, which
            # would shift the reparameterisation noise of a run resumed mid-epoch.
            for offset, batch in enumerate(remaining):
                x, y = self.train_set.batch(batch)
                yield self._augmented(x, first + offset), y

    def _augmented(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """The training batch of `step`, augmented when the config asks. Its randomness comes from a
        generator seeded by (seed, step, rank), so a resumed run draws what the uninterrupted one did."""
        if not self.config.data.augment:
            return x
        return augment(x, torch.Generator().manual_seed(step_seed(self.config.seed, step, self.rank)))

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        losses = self.step(x.to(self.device, non_blocking=True), y.to(self.device))
        terms = {k: v.item() for k, v in losses.items()}
        if not math.isfinite(terms["loss"]):
            saved = self.progress.last_saved_step
            kept = (
                f"The last good checkpoint, step {saved}, is kept in {self.out}"
                if saved
                else "No checkpoint had been saved yet, so nothing is kept; a smaller train.lr may help"
            )
            raise TrainingError(
                f"the loss became {terms['loss']} at step {self.progress.step + 1} "
                f"({ {k: round(v, 4) for k, v in terms.items()} }); stopped. {kept}"
            )
        self.scheduler.step()
        return terms

    # --- output ---------------------------------------------------------------------------

    def _checkpoint(self) -> None:
        self.progress.elapsed_seconds = time.perf_counter() - self._started
        if self.is_main:
            try:
                self._save_model_files()
                progress = {**self.progress.__dict__, "last_saved_step": self.progress.step}
                save_training_state(self.out, self.model, self.optimiser, self.scheduler, progress)
                self.progress.last_saved_step = self.progress.step
            except OSError as err:
                self._say(
                    f"warning: could not save the checkpoint at step {self.progress.step} ({err}); "
                    f"the previous one, step {self.progress.last_saved_step}, is intact in {self.out}"
                )
                if self.progress.step == self.total_steps:
                    raise TrainingError(f"the final checkpoint could not be saved in {self.out}: {err}") from err
        if self.world_size > 1:
            dist.barrier()

    def _save_model_files(self) -> None:
        """config.json and model.safetensors, each replaced whole."""
        with tempfile.TemporaryDirectory(dir=self.out, prefix=".save-") as tmp:
            self.model.save_pretrained(tmp)
            for name in MODEL_FILES:
                write_atomically(self.out / name, lambda dst, name=name: shutil.copyfile(Path(tmp, name), dst))

    def _log(self, terms: dict[str, float], rate: float) -> None:
        if not self.is_main:
            return
        row = {"step": self.progress.step, "epoch": self.progress.step / self.steps_per_epoch}
        row |= {"lr": self.scheduler.get_last_lr()[0], "images_per_sec": rate, **terms}
        _append_log_row(self.out / LOG_NAME, row)

    def _write_grids(self, epoch: int) -> None:
        if not self.is_main:
            return
        self.model.eval()
        samples = self.out / f"samples_epoch{epoch:03d}.png"
        save_samples(self.model, samples, self.cfg.grid_samples, len(self.train_set.class_names), self.config.seed)
        save_reconstructions(self.model, self.test_set, self.out / f"recons_epoch{epoch:03d}.png")

    def _say(self, message: str) -> None:
        if self.is_main:
            tqdm.write(message, file=sys.stderr)


@contextlib.contextmanager
def _stop_requests() -> Iterator[threading.Event]:
    """An event that SIGTERM sets while the block runs (signals reach only the main thread)."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: requested.set())
    try:
        yield requested
    finally:
        signal.signal(signal.SIGTERM, previous)


def _append_log_row(path: Path, row: dict[str, Any]) -> None:
    new_file = not path.exists()
    if not new_file:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if header and header != list(row):
            raise TrainingError(
                f"{path} has the columns {header}, but this run logs {list(row)} (a run begun by an older "
                "version, whose loss terms had other names?); move the log aside to resume"
            )
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new_file:
            writer.writeheader()
        writer.writerow(row)


def _trim_log(path: Path, step: int) -> None:
    """Drop log rows past the resumed step, so the log has each step once."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if float(r["step"]) <= step]
    with open(path, "w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(keep)


def _scheduler(optimiser: torch.optim.Optimizer, schedule: str, total_steps: int) -> Any:
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=total_steps)
    if schedule == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimiser, factor=1.0, total_iters=0)
    raise TrainingError(f"train.schedule must be cosine or constant, got {schedule!r}")


def _init_distributed() -> tuple[int, int]:
    """(rank, world size); torchrun's environment turns on DistributedDataParallel."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return int(os.environ.get("RANK", "0")), world_size


def _device_for_rank(rank: int) -> torch.device:
    if not torch.cuda.is_available():
        return torch.device("cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    torch.cuda.set_device(local_rank % torch.cuda.device_count())
    return torch.device("cuda", torch.cuda.current_device())
