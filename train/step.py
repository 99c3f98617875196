"""One optimisation step, and the choice of the fast path (bf16 autocast, channels-last).

The trainer and the benchmarks share this, so the speed the benchmarks report is the
speed of the step that trains the shipped models.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vae_models import BaseVAE, ConditionalVAE


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what was kept."""


def cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_supports_bf16() -> bool:
    """AMX makes bf16 convolutions faster than fp32 on the CPU. AVX512-BF16 alone does not: on
    such a CPU bf16 autocast ran the seeds' architecture at 0.91-0.94x of fp32 (python -m
    benchmarks; README), so "auto" keeps fp32 there."""
    return "amx_bf16" in cpu_flags()


def channels_last_pays(device: torch.device) -> bool:
    """With AVX512, oneDNN's channels-last convolutions ran within 5% of contiguous ones at the
    seeds' architecture (python -m benchmarks) and faster for the small shipped networks in a
    side-by-side probe; bf16 and AMP kernels expect that layout too."""
    return device.type == "cuda" or "avx512f" in cpu_flags()


def flush_denormals(device: torch.device) -> None:
    """Subnormal floats take a slow path through x86 CPUs. As β-TCVAE's collapsed latents drive
    weights and gradients toward zero, a dSprites run slowed from 1,080 to about 600 img/s; the
    same step on its weights ran 1.4-1.8x faster with subnormals flushed to zero (side by side).
    Values that small move no loss. Call it before the first parallel op: OpenMP's threads copy
    the floating-point mode of the thread that creates them, and later changes miss them."""
    if device.type == "cpu":
        torch.set_flush_denormal(True)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """None means plain fp32; "auto" picks bf16 where the hardware makes it pay."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise TrainingError(f"train.precision must be auto, bf16 or fp32, got {precision!r}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else None


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
        extra = {"labels": labels} if isinstance(self.model, ConditionalVAE) else {}
        self.model.train()
        with self._autocast(x.device.type):
            outputs = self.network(x, **extra)
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
