"""One optimisation step, and the choice of the fast path (bf16 autocast, channels-last).

The trainer and the benchmarks share this, so the speed the benchmarks report is the
speed of the step that trains the shipped models.
"""

from __future__ import annotations

import contextlib
import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vae_models import BaseVAE

# bf16 rounds activations to 8 bits of mantissa; below this speed-up fp32's exactness is worth more.
BF16_MIN_SPEEDUP = 1.1
AUTOCAST_NAMES = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what was kept."""


def cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 arithmetic in hardware. Without either, autocast emulates bf16
    and only slows the step down."""
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def emulated_bf16_warning(device: torch.device, precision: str) -> str | None:
    """A config that asks for bf16 still runs on a CPU without bf16 hardware, but emulated, which
    makes each step several times slower than fp32 (README): worth a warning, not a refusal, since
    the run still trains what was asked."""
    if precision != "bf16" or device.type != "cpu" or cpu_has_bf16():
        return None
    return (
        "train.precision bf16: this CPU has no bf16 hardware (AVX512-BF16 or AMX), so autocast emulates it "
        "and each step runs several times slower than in fp32; set train.precision=auto or train.precision=fp32"
    )


def channels_last_pays(device: torch.device) -> bool:
    """With AVX512, oneDNN's channels-last convolutions are no slower than contiguous ones for
    these networks (python -m benchmarks; README), and bf16 and AMP kernels expect that layout."""
    return device.type == "cuda" or "avx512f" in cpu_flags()


def flush_denormals(device: torch.device) -> None:
    """Subnormal floats take a slow path through x86 CPUs, and β-TCVAE's collapsed latents drive
    weights and gradients toward zero, so a run slows down as it trains (README). Values that small
    move no loss. Call it before the first parallel op: OpenMP's threads copy the floating-point
    mode of the thread that creates them, and later changes miss them."""
    if device.type == "cpu":
        torch.set_flush_denormal(True)


def autocast_dtype(
    device: torch.device, precision: str, bf16_speedup: Callable[[], float] | None = None
) -> torch.dtype | None:
    """None means plain fp32; "auto" picks bf16 where it pays. A CPU's flags cannot tell where: with
    AVX512-BF16 and no AMX, bf16 is slower than fp32 for one network and faster for another, and
    from one CPU to the next (README). So on a CPU with bf16 hardware `bf16_speedup`, a timing of
    the real step (`measure_bf16_speedup`), decides; without one, "auto" keeps fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise TrainingError(f"train.precision must be auto, bf16 or fp32, got {precision!r}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if not cpu_has_bf16() or bf16_speedup is None:
        return None
    return torch.bfloat16 if bf16_speedup() >= BF16_MIN_SPEEDUP else None


def use_channels_last(device: torch.device, setting: Any) -> bool:
    if setting == "auto":
        return channels_last_pays(device)
    return bool(setting)


@dataclass
class TrainingStep:
    """Forward under autocast, the loss in full precision, backward, clip, optimiser step.

    `network` is what runs the forward pass: the model itself, its DDP wrapper, or a
    torch.compile'd version; `model` owns the loss.
    """

    model: BaseVAE
    network: nn.Module
    optimiser: torch.optim.Optimizer
    dataset_size: int
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    kld_weight: float = 1.0
    grad_clip: float | None = None

    def __call__(self, x: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        self.model.train()
        with self._autocast(x.device.type):
            outputs = self.network(x, labels)
        losses = self.model.loss_function(*outputs, kld_weight=self.kld_weight, dataset_size=self.dataset_size)
        if not torch.isfinite(losses["loss"]):
            return losses  # the caller reports it; stepping would poison the weights
        self.optimiser.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimiser.step()
        return losses

    def _autocast(self, device_type: str) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type, dtype=self.amp_dtype)


def measure_bf16_speedup(step: TrainingStep, x: Tensor, labels: Tensor | None = None, rounds: int = 5) -> float:
    """fp32's step time over bf16's (medians, the two alternating) for this model on one batch.
    It runs on copies with a zero learning rate, so the model, its optimiser and the global
    random state are as they were."""
    timings: dict[torch.dtype | None, list[float]] = {None: [], torch.bfloat16: []}
    with torch.random.fork_rng(devices=[]):
        for dtype, way in [(dtype, _probe_step(step, dtype)) for dtype in timings] * (rounds + 1):
            start = time.perf_counter()
            way(x, labels)
            timings[dtype].append(time.perf_counter() - start)
    # The first step of each way warms its kernels up and is not counted.
    return statistics.median(timings[None][1:]) / statistics.median(timings[torch.bfloat16][1:])


def _probe_step(step: TrainingStep, dtype: torch.dtype | None) -> TrainingStep:
    model = copy.deepcopy(step.model)
    return replace(
        step, model=model, network=model, optimiser=torch.optim.SGD(model.parameters(), lr=0.0), amp_dtype=dtype
    )
