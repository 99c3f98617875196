"""What the explorer does with a model, as pure functions: tensors in, image batches out.

Every function runs under `torch.inference_mode()`, takes its inputs on the CPU,
moves them to the model's device and returns CPU tensors, so callers never think
about devices. Randomness comes from an explicit seed, never the global RNG, so
concurrent callers cannot disturb each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base import BaseVAE, LabelsLike
from .cvae import CLASS_READING_SAMPLES
from .latent import traversal_codes

INTERPOLATION_MODES = ("linear", "spherical")


@torch.inference_mode()
def read_class(model: BaseVAE, x: Tensor, samples: int = CLASS_READING_SAMPLES) -> tuple[int, float]:
    """The class a conditional model reads one image as, by its own likelihood: the most probable
    class under p(y | x) ∝ p(x | y) (the importance-weighted bound of `class_posterior`), and its
    probability."""
    posterior = model.class_posterior(x.to(model.device), samples)[0]
    return int(posterior.argmax()), float(posterior.max())


@torch.inference_mode()
def encode(model: BaseVAE, x: Tensor, labels: LabelsLike | None = None) -> Tensor:
    """Images [B, C, H, W] -> deterministic codes [B, latent_dim] (posterior means; z for the WAE)."""
    return model.embed(x.to(model.device), labels).float().cpu()


@torch.inference_mode()
def decode(model: BaseVAE, codes: Tensor, labels: LabelsLike | None = None) -> Tensor:
    """Codes [B, latent_dim] (or one code) -> images [B, C, H, W] in [0, 1]."""
    codes = torch.as_tensor(codes, dtype=torch.float32)
    codes = codes.unsqueeze(0) if codes.dim() == 1 else codes
    if codes.shape[-1] != model.latent_dim:
        raise ValueError(f"this model has {model.latent_dim} latent dimensions; got a code of {codes.shape[-1]}")
    return model.decode(codes.to(model.device), labels).float().cpu()


def reconstruct(model: BaseVAE, x: Tensor, labels: LabelsLike | None = None) -> Tensor:
    return decode(model, encode(model, x, labels), labels)


def prior_codes(model: BaseVAE, count: int, seed: int, temperature: float = 1.0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return model.prior_codes(count, "cpu", temperature=temperature, generator=generator)


def prior_samples(
    model: BaseVAE, count: int, seed: int, temperature: float = 1.0, labels: LabelsLike | None = None
) -> Tensor:
    """`count` decoded prior draws; the same seed gives the same images on any device."""
    return decode(model, prior_codes(model, count, seed, temperature), labels)


def class_style_grid(model: BaseVAE, styles: int, seed: int, temperature: float = 1.0) -> Tensor:
    """Rows are classes, columns share one z: the same "style" written as every class."""
    codes = prior_codes(model, styles, seed, temperature).repeat(model.num_classes, 1)
    labels = torch.arange(model.num_classes).repeat_interleave(styles)
    return decode(model, codes, labels)


def traversal_grid(
    model: BaseVAE,
    start: Tensor,
    dims: Sequence[int],
    steps: int = 9,
    span: float = 3.0,
    labels: LabelsLike | None = None,
) -> Tensor:
    """One row per latent in `dims`, swept over ±span from `start`, decoded as one batch."""
    return decode(model, traversal_codes(start.float(), dims, steps, span), labels)


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between two codes at fractions t; linear when they are (anti)parallel."""
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    if torch.sin(omega) < 1e-6:  # parallel or opposite: no unique great circle
        return torch.lerp(a, b, t[:, None])
    return (torch.sin((1 - t) * omega)[:, None] * a + torch.sin(t * omega)[:, None] * b) / torch.sin(omega)


def interpolate(
    model: BaseVAE,
    start: Tensor,
    end: Tensor,
    steps: int = 8,
    mode: str = "linear",
    labels: tuple[int | None, int | None] | None = None,
) -> Tensor:
    """Decoded in-betweens of two codes; a conditional model also blends the one-hot labels of its two
    ends (class 0 where they have none); other models ignore `labels`."""
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"interpolation mode must be one of {INTERPOLATION_MODES}, got {mode!r}")
    t = torch.linspace(0, 1, steps)
    codes = slerp(start, end, t) if mode == "spherical" else torch.lerp(start, end, t[:, None])
    soft_labels = None
    if model.is_conditional:
        ends = [0 if label is None else label for label in labels or (None, None)]
        one_hot = torch.eye(model.num_classes)[ends]
        soft_labels = torch.lerp(one_hot[0], one_hot[1], t[:, None])
    return decode(model, codes, soft_labels)
