"""Training throughput at the seeds' default architecture: plain fp32 eager against the fast path.

Both ways run the project's own TrainingStep on the same model and batches: (a) fp32,
contiguous, eager, as the reference implementation trains; (b) bf16 autocast and
channels-last (AMP on CUDA), and torch.compile on top where it is asked for. The two
are timed alternately in one process, so machine noise hits both alike, and their
loss curves over the same steps are compared.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from train.step import TrainingStep, autocast_dtype
from vae_models import MODEL_TYPES, BaseVAE

from .timing import Timing

SEED_ARCHITECTURE = {"in_channels": 3, "img_size": 64, "hidden_dims": [32, 64, 128, 256, 512]}
LATENT_DIMS = {"vanilla_vae": 128, "wae_mmd": 128, "betatc_vae": 10, "cvae": 128}
BATCH_SIZE = 64
DATASET_SIZE = 100_000


@dataclass
class ThroughputResult:
    model_type: str
    fp32: Timing
    fast: Timing
    fast_path: str
    loss_gap: float | None = None

    @property
    def speed_up(self) -> float:
        return self.fp32.median / self.fast.median


def seed_model(model_type: str) -> BaseVAE:
    torch.manual_seed(0)
    return MODEL_TYPES[model_type](latent_dim=LATENT_DIMS[model_type], **SEED_ARCHITECTURE)


def batches(count: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        (
            torch.rand(BATCH_SIZE, 3, 64, 64, generator=generator).to(device),
            torch.randint(0, 10, (BATCH_SIZE,), generator=generator).to(device),
        )
        for _ in range(count)
    ]


def make_step(model: BaseVAE, device: torch.device, fast: bool, compile_model: bool = False) -> TrainingStep:
    model = model.to(device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    network = torch.compile(model) if compile_model else model
    amp = autocast_dtype(device, "bf16" if device.type == "cpu" else "auto") if fast else None
    return TrainingStep(model, network, optimiser, DATASET_SIZE, amp, fast)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed_steps(step: TrainingStep, data: list, device: torch.device) -> list[float]:
    seconds = []
    for x, y in data:
        start = time.perf_counter()
        step(x, y)
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def throughput(
    model_type: str, device: torch.device, *, steps: int, rounds: int, compile_model: bool = False
) -> ThroughputResult:
    """Alternate rounds of `steps` steps of (a) and (b); each step's time is one sample."""
    base = seed_model(model_type)
    plain = make_step(copy.deepcopy(base), device, fast=False)
    fast = make_step(copy.deepcopy(base), device, fast=True, compile_model=compile_model)
    data = batches(steps, device)
    for step in (plain, fast):  # warm-up, and torch.compile's compilation
        _timed_steps(step, data[:2], device)
    plain_s, fast_s = [], []
    for _ in range(rounds):
        plain_s += _timed_steps(plain, data, device)
        fast_s += _timed_steps(fast, data, device)
    path = "bf16 autocast + channels-last" if device.type == "cpu" else "AMP + channels-last"
    return ThroughputResult(
        model_type, Timing.of(plain_s), Timing.of(fast_s), path + (" + compile" if compile_model else "")
    )


def loss_curves(model_type: str, device: torch.device, steps: int) -> tuple[list[float], list[float]]:
    """The loss of each of `steps` steps, fp32 against the fast path, from the same weights,
    batches and reparameterisation noise."""
    base = seed_model(model_type)
    data = batches(steps, device)
    curves = []
    for fast in (False, True):
        step = make_step(copy.deepcopy(base), device, fast=fast)
        torch.manual_seed(2)
        curves.append([step(x, y)["loss"].item() for x, y in data])
    return curves[0], curves[1]


def relative_gap(plain: list[float], fast: list[float], window: int = 10) -> float:
    """Largest relative difference between the two curves' moving averages."""

    def smooth(curve: list[float]) -> torch.Tensor:
        values = torch.tensor(curve)
        return values.unfold(0, window, 1).mean(1) if len(values) >= window else values

    a, b = smooth(plain), smooth(fast)
    return ((a - b).abs() / a.abs()).max().item()
