"""Training runs started from the page: each in its own process, one at a time per server.

A run is the CLI's own training, `python -m train CONFIG` (exact resume, NaN stop, atomic
checkpoints), in a child process with one thread; then `python -m train.live RUN JUDGES` evaluates
it as `python -m train.evaluate RUN --fast` would and writes its card as `python -m train.card RUN RUN`
would, in one process (each start of Python with torch costs seconds). Its folder is a checkpoint
like the shipped ones, and `python -m train RUN/training_config.json` reruns it.

The page watches a run through its folder: log.csv for the curves, the latest checkpoint for the
grids and the information per latent (`TrainingService.snapshot`). Nothing here imports Gradio.
"""

from __future__ import annotations

import atexit
import csv
import inspect
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from vae_models import MODEL_TYPES, load_model
from vae_models.checkpoint import METRICS_NAME, TRAINING_CONFIG_NAME, WEIGHTS_NAME, read_json_object, write_json
from vae_models.checks import require_choice, require_float, require_int
from vae_models.data import DatasetUnavailableError
from vae_models.data.uploads import UploadError, unpack_images
from vae_models.disentanglement import FAST_RECIPE
from vae_models.distributions import gaussian_kl_per_dim
from vae_models.metrics import latents_in_use

from .card import publish
from .checkpointing import STATE_NAME, read_progress
from .config import DataSection, TrainingConfig, TrainSection, load_config
from .evaluate import evaluate_checkpoint
from .limits import upload_limits_from_env

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).resolve().parent / "configs"
LOG_NAME = "log.csv"
OUTPUT_NAME = "output.log"  # the child processes' stdout and stderr
MAX_SECONDS_ENV = "VAE_EXPLORER_TRAIN_MAX_SECONDS"
RUN_TTL_ENV = "VAE_EXPLORER_RUN_TTL_SECONDS"
LIVE_SAMPLES = 36  # the live sample grid: 6 × 6
LIVE_RECONSTRUCTIONS = 8  # test images, each beside its reconstruction
LIVE_TEST_IMAGES = 200  # what the live information per latent is measured on
JUDGES_FOLDER = "judges"  # beside the runs: the evaluation's classifier per dataset, trained once
UPLOAD_FOLDER = "data"  # inside the run's folder: the unpacked upload
MIN_TRAINING_IMAGES = 30  # so that the 15% test split has the few images evaluation maps
FOLDER_SIZE = 32  # uploaded images are trained on at 32×32, like the digits: a minute gets somewhere
TRAINABLE_DATASETS = ("digits", "dsprites", "folder")
MAX_LATENTS, MAX_STEPS, MAX_BATCH = 64, 100_000, 1024  # the wall-time cap bounds a run before these do
CHECKPOINT_EVERY = 50  # steps: how often a page run saves, and so how often its grids can change

QUEUED, TRAINING, EVALUATING, FINISHED, STOPPED, FAILED = (
    "queued",
    "training",
    "evaluating",
    "finished",
    "stopped",
    "failed",
)
ENDED = (FINISHED, STOPPED, FAILED)


@dataclass(frozen=True)
class TrainingLimits:
    """What one server allows: a Space sets these strict, a laptop generous (by environment variable)."""

    max_seconds: float = 600.0  # the wall time of one training segment; then it stops as if by Stop
    ttl_seconds: float = 3600.0  # an ended run is deleted this long after its page last asked for it

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TrainingLimits:
        environ = os.environ if environ is None else environ
        values = {}
        for key, name in (("max_seconds", MAX_SECONDS_ENV), ("ttl_seconds", RUN_TTL_ENV)):
            if (raw := environ.get(name)) is not None:
                try:
                    values[key] = float(raw)
                except ValueError:
                    raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
                if not values[key] > 0:
                    raise ValueError(f"{name} must be positive, got {raw!r}")
        return cls(**values)


# --- what a run is asked for ------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """The Train tab's form: one run. `dataset` is digits, dsprites or folder (uploaded images)."""

    model_type: str = "vanilla_vae"
    dataset: str = "digits"
    latent_dim: int = 8
    weight: float | None = None  # the model's regulariser weight (β, λ); None keeps the config's
    steps: int = 900
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    data_root: str | None = None  # the unpacked upload, for "folder"
    in_channels: int | None = None

    def __post_init__(self) -> None:
        """The form's values, checked; each message names its field."""
        try:
            require_choice("the model type", self.model_type, MODEL_TYPES)
            require_choice("the dataset", self.dataset, TRAINABLE_DATASETS)
            require_int("the number of latents", self.latent_dim, 1, MAX_LATENTS)
            require_int("steps", self.steps, 1, MAX_STEPS)
            require_int("the batch size", self.batch_size, 1, MAX_BATCH)
            require_float("the learning rate", self.lr, 0.0, allow_low=False)
            if self.weight is not None:
                require_float("the regulariser weight", self.weight, 0.0)
        except TypeError as err:
            raise ValueError(str(err)) from None

    def title(self) -> str:
        key, _ = MODEL_TYPES[self.model_type].regulariser_weight
        weight = "" if self.weight is None else f", {WEIGHT_SYMBOLS.get(key, key)} = {self.weight:g}"
        return f"{self.model_type} on {self.dataset}{weight}, {self.latent_dim} latents, {self.steps} steps"

    def config(self, folder: Path) -> TrainingConfig:
        """The CLI's config for this run: the shipped config of its model and data, with the form's values."""
        base = CONFIGS / f"{self.model_type}-{'dsprites' if self.dataset == 'dsprites' else 'digits'}.yaml"
        overrides = {
            "output_dir": str(folder),
            "seed": self.seed,
            "model.latent_dim": self.latent_dim,
            "data.name": self.dataset,
            "data.root": self.data_root,
            "data.in_channels": self.in_channels,
            "data.img_size": FOLDER_SIZE if self.dataset == "folder" else None,
            "train.max_steps": self.steps,
            "train.batch_size": self.batch_size,
            "train.lr": self.lr,
            "train.checkpoint_every": CHECKPOINT_EVERY,
            "train.log_every": 10,
            "train.precision": "fp32",  # "auto" would spend seconds timing bf16 on every run
        }
        if self.weight is not None:
            key, _ = MODEL_TYPES[self.model_type].regulariser_weight
            overrides[f"{'train' if key in TrainSection.__dataclass_fields__ else 'model'}.{key}"] = self.weight
        return load_config(base, [f"{key}={_yaml(value)}" for key, value in overrides.items()])


WEIGHT_SYMBOLS = {"kld_weight": "β", "beta": "β", "reg_weight": "λ"}


def default_weight(model_type: str, dataset: str) -> float:
    """The regulariser weight a run of this model on this data gets when the form leaves it as is:
    the shipped config's (β = 6 for the β-TCVAE on digits, λ = 100 for the WAE, ...)."""
    config = RunRequest(model_type, dataset).config(Path("unused"))
    key, _ = MODEL_TYPES[model_type].regulariser_weight
    if key in TrainSection.__dataclass_fields__:
        return float(getattr(config.train, key))
    return float(config.model.kwargs.get(key, inspect.signature(MODEL_TYPES[model_type]).parameters[key].default))


@dataclass(frozen=True)
class Preset:
    """Runs that teach one thing side by side, trained one after another."""

    description: str  # what to look for
    runs: tuple[RunRequest, ...]


PRESETS = {
    "β = 0.1, 1 and 10 on digits: watch latents collapse": Preset(
        "the larger β, the more latents the KL term pushes onto the prior: count the grey (inactive) bars",
        tuple(RunRequest("vanilla_vae", "digits", 8, beta, 600) for beta in (0.1, 1.0, 10.0)),
    ),
    "VAE against WAE-MMD: how their codes fill the prior": Preset(
        "with two latents the map is the code space itself: each VAE code is a posterior mean, and the "
        "WAE matches only the codes' overall spread to the prior",
        tuple(RunRequest(kind, "digits", 2, None, 900) for kind in ("vanilla_vae", "wae_mmd")),
    ),
    "VAE against β-TCVAE on dSprites: factors separating": Preset(
        "the β-TCVAE penalises the total correlation of its latents: fewer latents carry information, "
        "and in Traverse each moves one factor; the VAE's mix them",
        tuple(RunRequest(kind, "dsprites", 6, None, 1500) for kind in ("vanilla_vae", "betatc_vae")),
    ),
}


def _yaml(value: Any) -> str:
    return "null" if value is None else str(value)


# --- one run -------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """What the page shows of a run's latest checkpoint."""

    samples: torch.Tensor  # [LIVE_SAMPLES, C, H, W]
    reconstructions: torch.Tensor  # [2 * LIVE_RECONSTRUCTIONS, C, H, W]: each test image, then its reconstruction
    information: list[float]  # KL per latent (nats), or code variance for a model without a KL
    unit: str
    active: list[bool]  # which latents carry information (vae_models.metrics.latents_in_use)


@dataclass
class LiveRun:
    id: str
    owner: str
    folder: Path
    title: str
    total_steps: int
    batch_size: int
    group: str | None = None  # the preset it was started by
    state: str = QUEUED
    message: str = ""
    commands: list[list[str]] = field(default_factory=list)  # what is left to run, in order
    process: subprocess.Popen | None = None
    stopping: str = ""  # why a stop was asked for, while the trainer finishes its step
    failure: str = ""  # why the training failed (its checkpoint, if any, is still evaluated)
    segment_started: float = 0.0
    touched: float = field(default_factory=time.monotonic)
    notes: list[str] = field(default_factory=list)  # what reading the uploaded images said
    snapshot_cache: tuple[float, Snapshot] | None = None
    live_test: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def name(self) -> str:
        """Its name among the page's models."""
        return f"your run {self.id}"

    @property
    def has_model(self) -> bool:
        return (self.folder / METRICS_NAME).exists()

    @property
    def saved_step(self) -> int:
        return read_progress(self.folder)["step"] if (self.folder / STATE_NAME).exists() else 0

    def log(self) -> dict[str, list[float]]:
        """log.csv as columns (step, epoch, lr, images_per_sec and the loss terms)."""
        path = self.folder / LOG_NAME
        if not path.exists():
            return {}
        with open(path, newline="") as f:
            rows = [row for row in csv.DictReader(f) if None not in row.values()]  # a half-written last row
        return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}

    def metrics(self) -> dict[str, Any]:
        return read_json_object(self.folder / METRICS_NAME, str(self.folder)) if self.has_model else {}


def progress_line(run: LiveRun, log: dict[str, list[float]], place: int | None) -> str:
    """One line on where a run is: its state, step, speed and time left."""
    if run.state == QUEUED:
        ahead = "next to start" if place == 1 else f"{place - 1} queued run(s) ahead of it"
        return f"queued: {ahead}, after the run training now" if place else "queued"
    step = int(log["step"][-1]) if log else 0
    line = f"{run.state}: step {step:,} of {run.total_steps:,}"
    if run.state == TRAINING and log:
        rate = log["images_per_sec"][-1]
        left = (run.total_steps - step) * run.batch_size / rate if rate > 0 else math.inf
        line += f" · {rate:,.0f} images/s · about {left:.0f} s left"
    return line + (f" · {run.message}" if run.message else "")


# --- the service ----------------------------------------------------------------------------------


class TrainingService:
    """Every run of one server: a queue, one run at a time, each in its own process with one thread.

    A run belongs to the session that started it (`owner`): only that session sees, stops or resumes
    it. A supervisor thread advances the runs, stops a segment at the wall-time cap, and deletes
    ended runs `ttl_seconds` after their page last asked about them (`on_delete` is told first).
    Evaluation keeps its judge classifier per dataset in `judges` (default: beside the runs).
    """

    def __init__(
        self,
        root: str | Path,
        limits: TrainingLimits | None = None,
        poll_seconds: float = 0.5,
        judges: str | Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.judges = Path(judges) if judges else self.root / JUDGES_FOLDER
        self.limits = limits or TrainingLimits.from_env()
        self.poll_seconds = poll_seconds
        self.on_delete: list[Any] = []  # callables taking the deleted LiveRun
        self._runs: dict[str, LiveRun] = {}
        self._queue: deque[str] = deque()
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> TrainingService:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="training-supervisor", daemon=True)
            self._supervisor.start()
            atexit.register(self.shutdown)
        return self

    # --- what the page asks --------------------------------------------------------------------

    def submit(
        self, owner: str, request: RunRequest, *, uploads: Sequence[str | Path] = (), group: str | None = None
    ) -> LiveRun:
        """Queue a new run; it starts when no other run is training. For the "folder" dataset the
        uploaded files are checked and unpacked into the run's folder first (UploadError if unusable)."""
        run_id = secrets.token_hex(4)
        folder = self.root / run_id
        folder.mkdir(parents=True)
        try:
            request, notes = _read_uploads(request, uploads, folder) if request.dataset == "folder" else (request, [])
            config = request.config(folder)
        except (ValueError, DatasetUnavailableError):  # UploadError and ConfigError among them
            shutil.rmtree(folder, ignore_errors=True)
            raise
        write_json(folder / TRAINING_CONFIG_NAME, config.to_dict())
        run = LiveRun(run_id, owner, folder, request.title(), request.steps, request.batch_size, group, notes=notes)
        run.commands = self._commands(run, resume=False)
        with self._lock:
            self._runs[run_id] = run
            self._queue.append(run_id)
        self.tick()
        return run

    def runs_of(self, owner: str) -> list[LiveRun]:
        """The owner's runs, oldest first; asking counts as the page still being open."""
        with self._lock:
            runs = [run for run in self._runs.values() if run.owner == owner]
        for run in runs:
            run.touched = time.monotonic()
        return runs

    def run(self, owner: str, run_id: str) -> LiveRun:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.owner != owner:
            raise KeyError(f"no run {run_id!r} of yours (runs are deleted after {self.limits.ttl_seconds:.0f} s idle)")
        return run

    def place(self, run: LiveRun) -> int | None:
        """1 for the next to start, and so on; None when not queued."""
        with self._lock:
            return self._queue.index(run.id) + 1 if run.id in self._queue else None

    def stop(self, owner: str, run_id: str, reason: str = "stopped by you") -> str:
        """Stop a run after the step under way; what it learned is kept, evaluated and resumable."""
        run = self.run(owner, run_id)
        with self._lock:
            if run.state == QUEUED:
                self._queue.remove(run.id)
                run.state, run.message = STOPPED, "taken off the queue"
                return run.message
            if run.state != TRAINING:
                return f"the run is {run.state}; there is no training to stop"
            if run.stopping:
                return f"already stopping ({run.stopping}); it ends after the step under way"
            self._request_stop(run, reason)
            return "stopping after the step under way; what it has learned is kept"

    def resume(self, owner: str, run_id: str) -> str:
        run = self.run(owner, run_id)
        with self._lock:
            if run.state != STOPPED:
                return f"only a stopped run can be resumed; this one is {run.state}"
            run.commands = self._commands(run, resume=True)
            run.state, run.message = QUEUED, ""
            self._queue.append(run.id)
        self.tick()
        return "resumed: it continues exactly where it stopped"

    def close_owner(self, owner: str) -> None:
        """The owner's page has closed: stop what it is training and drop what it queued."""
        for run in self.runs_of(owner):
            if run.state in (QUEUED, TRAINING):
                self.stop(owner, run.id, reason="its page was closed")

    def snapshot(self, run: LiveRun) -> Snapshot | None:
        """The latest checkpoint's grids and information per latent; recomputed only when it changes."""
        weights = run.folder / WEIGHTS_NAME
        try:
            changed = weights.stat().st_mtime
        except FileNotFoundError:
            return None
        if run.snapshot_cache is None or run.snapshot_cache[0] != changed:
            try:
                run.live_test = run.live_test or live_test_set(run.folder)
                run.snapshot_cache = (changed, take_snapshot(run.folder, run.live_test))
            except (OSError, ValueError, RuntimeError):  # a checkpoint replaced while being read: next time
                return run.snapshot_cache[1] if run.snapshot_cache else None
        return run.snapshot_cache[1]

    # --- the supervisor ------------------------------------------------------------------------

    def tick(self) -> None:
        """Advance the running run, start the next one, delete expired ones; then make the running
        run's grids from its latest checkpoint here, off the page's requests."""
        with self._lock:
            active = self._active()
            if active is not None:
                self._advance(active)
            if self._active() is None and self._queue:
                self._launch(self._runs[self._queue.popleft()])
            self._expire()
        if active is not None:
            self.snapshot(active)

    def shutdown(self) -> None:
        """Stop every child process (the server is exiting): no run outlives it."""
        self._closed.set()
        with self._lock:
            for run in self._runs.values():
                if run.process is not None and run.process.poll() is None:
                    run.process.kill()
                    run.process.wait()

    def _supervise(self) -> None:
        while not self._closed.wait(self.poll_seconds):
            self.tick()

    def _active(self) -> LiveRun | None:
        return next((run for run in self._runs.values() if run.process is not None), None)

    def _commands(self, run: LiveRun, resume: bool) -> list[list[str]]:
        folder = str(run.folder)
        train = ["-m", "train", str(run.folder / TRAINING_CONFIG_NAME), "--no-eval", *(["--resume"] if resume else [])]
        return [train, ["-m", "train.live", folder, str(self.judges)]]

    def _launch(self, run: LiveRun) -> None:
        command = run.commands.pop(0)
        run.state = TRAINING if command[1] == "train" else EVALUATING
        if run.state == TRAINING:
            run.segment_started, run.stopping = time.monotonic(), ""
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
        with open(run.folder / OUTPUT_NAME, "a") as output:
            run.process = subprocess.Popen(
                [sys.executable, *command], cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        _leave_a_core_to_the_page(run.process.pid)

    def _advance(self, run: LiveRun) -> None:
        code = run.process.poll()
        if code is None:
            over = time.monotonic() - run.segment_started > self.limits.max_seconds
            if run.state == TRAINING and over and not run.stopping:
                self._request_stop(run, f"the wall-time cap of {self.limits.max_seconds:.0f} s")
            return
        run.process = None
        if run.stopping and code == -signal.SIGTERM:  # stopped while starting, before its first step
            run.commands = []
            run.state, run.message = STOPPED, f"{run.stopping} before its first step; Resume starts it"
        elif code != 0:
            run.failure = self._failure(run, code)
            # A training that failed (a NaN loss) after a checkpoint still gets that checkpoint evaluated.
            if run.state != TRAINING or not run.saved_step:
                run.commands = []
                run.state, run.message = FAILED, run.failure
            else:
                self._launch(run)
        elif run.commands:
            self._launch(run)
        else:
            self._end(run)

    def _end(self, run: LiveRun) -> None:
        """A segment's last command succeeded: the run is finished, stopped, or failed with a model."""
        if run.failure:
            run.state, run.message = FAILED, f"{run.failure}; that checkpoint is in your model picker"
        elif run.saved_step >= run.total_steps:
            run.state, run.message = FINISHED, ""
        else:
            run.state, run.message = STOPPED, f"{run.stopping}; Resume continues it"

    def _request_stop(self, run: LiveRun, reason: str) -> None:
        run.stopping = reason
        run.process.send_signal(signal.SIGTERM)

    def _failure(self, run: LiveRun, code: int) -> str:
        """The child's own error line (the CLI prints one), or its exit status."""
        output = (run.folder / OUTPUT_NAME).read_text(errors="replace")
        errors = re.findall(r"error: (.+)", output)  # after a progress bar's carriage return, perhaps
        return errors[-1].strip() if errors else f"the training process ended with status {code}"

    def _expire(self) -> None:
        now = time.monotonic()
        for run in list(self._runs.values()):
            if run.state in ENDED and now - run.touched > self.limits.ttl_seconds:
                for notify in self.on_delete:
                    notify(run)
                del self._runs[run.id]
                shutil.rmtree(run.folder, ignore_errors=True)


def _read_uploads(request: RunRequest, uploads: Sequence[str | Path], folder: Path) -> tuple[RunRequest, list[str]]:
    """The request for the unpacked upload: its folder and channels, and a batch no larger than its
    training split."""
    if not uploads:
        raise UploadError("upload a zip of images, or several image files, to train on your own images")
    limits = upload_limits_from_env()
    limits = replace(limits, min_images=max(limits.min_images, MIN_TRAINING_IMAGES))
    unpacked = unpack_images(uploads, folder / UPLOAD_FOLDER, limits)
    data = DataSection("folder", root=str(unpacked.root), in_channels=unpacked.in_channels, img_size=FOLDER_SIZE)
    training_images = len(data.load("train"))
    notes = list(unpacked.notes)
    if request.batch_size > training_images:
        notes.append(f"batch size {request.batch_size} lowered to the {training_images} training images")
    request = replace(
        request,
        data_root=str(unpacked.root),
        in_channels=unpacked.in_channels,
        batch_size=min(request.batch_size, training_images),
    )
    return request, notes


def _leave_a_core_to_the_page(pid: int) -> None:
    """On a machine with more than one core, pin the run to the last one and lower its priority,
    so requests to the page are served on the others at once."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    try:
        if len(cores) > 1:
            os.sched_setaffinity(pid, {cores[-1]})
        os.setpriority(os.PRIO_PROCESS, pid, 10)
    except (OSError, AttributeError):  # the process already ended, or no such call here
        pass


# --- what a checkpoint shows ----------------------------------------------------------------------


@torch.inference_mode()
def take_snapshot(folder: Path, test: tuple[torch.Tensor, torch.Tensor]) -> Snapshot:
    """Prior samples (the same draws every time), reconstructions of `test`'s first images, and the
    information per latent over all of them."""
    model = load_model(folder, device="cpu")
    labels = torch.arange(LIVE_SAMPLES) % max(model.num_classes, 1)
    generator = torch.Generator().manual_seed(0)
    samples = model.sample(LIVE_SAMPLES, model.device, labels=labels, generator=generator)
    shown, shown_labels = test[0][:LIVE_RECONSTRUCTIONS], test[1][:LIVE_RECONSTRUCTIONS]
    pairs = torch.stack([shown, model.generate(shown, shown_labels)], dim=1).flatten(0, 1)
    outputs = model(*test)
    codes = (outputs.mu if model.has_kl else outputs.z).float()
    variance = codes.var(0)  # of the posterior means: what "active" means in the metrics too
    kl = gaussian_kl_per_dim(outputs.mu.float(), outputs.log_var.float()).mean(0).tolist() if model.has_kl else None
    information, unit = (kl, "nats") if kl else (variance.tolist(), "code variance")
    return Snapshot(samples.float(), pairs.float(), information, unit, latents_in_use(kl, variance.tolist()))


def live_test_set(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Test images spread over the run's test set, so that every class shows."""
    config = read_json_object(folder / TRAINING_CONFIG_NAME, str(folder))
    test = DataSection(**config["data"]).load("test", download=False)
    return test.batch(torch.linspace(0, len(test) - 1, min(LIVE_TEST_IMAGES, len(test))).long())


def evaluate_and_publish(folder: Path, judges: Path) -> None:
    """Metrics, latent cache and card for a run's checkpoint: what makes it one of the page's models."""
    evaluate_checkpoint(folder, recipe=FAST_RECIPE, judges=judges)
    publish(folder, folder)


def main(argv: list[str] | None = None) -> int:
    """python -m train.live RUN_DIR JUDGES_DIR: the step after training of a run started in the page."""
    folder, judges = (Path(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    try:
        evaluate_and_publish(folder, judges)
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        print(f"error: the evaluation of {folder} failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
