"""Training throughput at the seeds' default architecture: plain fp32 eager against the fast path.

Both ways run the project's own TrainingStep on the same model and batches: (a) fp32,
contiguous, eager, as the reference implementation trains; (b) the fast path that
`python -m train` picks by default on this machine (train.step: channels-last on AVX512
CPUs, bf16 autocast where a timing of this step on CPU bf16 hardware says it pays, AMP on CUDA), and
torch.compile on top where it is asked for. On a CPU where (b) is not bf16, forced bf16
autocast is timed too, to show why. The ways are timed alternately in one process, so
machine noise hits them alike, and the loss curves of (a) and (b) over the same steps
are compared.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from train.step import TrainingStep, autocast_dtype, measure_bf16_speedup, use_channels_last
from vae_models import MODEL_TYPES, BaseVAE

from .timing import Timing

SEED_ARCHITECTURE = {"in_channels": 3, "img_size": 64, "hidden_dims": [32, 64, 128, 256, 512]}
LATENT_DIMS = {"vanilla_vae": 128, "wae_mmd": 128, "betatc_vae": 10, "cvae": 128}
BATCH_SIZE = 64
DATASET_SIZE = 100_000
LOSS_GAP_TOLERANCE = 0.01  # the two ways' smoothed loss curves may differ by 1% at most


@dataclass
class ThroughputResult:
    model_type: str
    fp32: Timing
    fast: Timing
    fast_path: str
    forced_bf16: Timing | None = None
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


def fast_path(device: torch.device, base: BaseVAE, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype, channels-last) as `python -m train` chooses them by default for this network,
    timed on the batch (x, y)."""
    channels_last = use_channels_last(device, "auto")
    probe = make_step(copy.deepcopy(base), device, None, channels_last)
    return autocast_dtype(device, "auto", lambda: measure_bf16_speedup(probe, x, y)), channels_last


def describe(amp: torch.dtype | None, channels_last: bool) -> str:
    precision = {None: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 AMP"}[amp]
    return precision + (" + channels-last" if channels_last else "")


def make_step(
    model: BaseVAE, device: torch.device, amp: torch.dtype | None, channels_last: bool, compile_model: bool = False
) -> TrainingStep:
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    network = torch.compile(model) if compile_model else model
    return TrainingStep(model, network, optimiser, DATASET_SIZE, amp, channels_last)


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
    model_type: str,
    device: torch.device,
    *,
    steps: int,
    rounds: int,
    compile_model: bool = False,
    forced_bf16: bool = True,
) -> ThroughputResult:
    """Alternate rounds of `steps` steps of each way; each step's time is one sample. With
    `forced_bf16`, a CPU whose fast path is not bf16 also times bf16 autocast."""
    base = seed_model(model_type)
    amp, channels_last = fast_path(device, base, *batches(1, device)[0])
    ways = {
        "fp32": make_step(copy.deepcopy(base), device, None, False),
        "fast": make_step(copy.deepcopy(base), device, amp, channels_last, compile_model),
    }
    if forced_bf16 and device.type == "cpu" and amp is None:
        ways["bf16"] = make_step(copy.deepcopy(base), device, torch.bfloat16, True)
    data = batches(steps, device)
    for step in ways.values():  # warm-up, and torch.compile's compilation
        _timed_steps(step, data[:2], device)
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way, step in ways.items():
            seconds[way] += _timed_steps(step, data, device)
    timings = {way: Timing.of(s) for way, s in seconds.items()}
    path = describe(amp, channels_last) + (" + compile" if compile_model else "")
    return ThroughputResult(model_type, timings["fp32"], timings["fast"], path, timings.get("bf16"))


def loss_curves(model_type: str, device: torch.device, steps: int) -> tuple[list[float], list[float]]:
    """The loss of each of `steps` steps, fp32 against the fast path, from the same weights,
    batches and reparameterisation noise."""
    base = seed_model(model_type)
    data = batches(steps, device)
    curves = []
    for amp, channels_last in ((None, False), fast_path(device, base, *data[0])):
        step = make_step(copy.deepcopy(base), device, amp, channels_last)
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
