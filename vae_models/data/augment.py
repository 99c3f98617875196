"""augment: random handwriting-like changes to a batch of images in [0, 1], for training.

Photographed and drawn digits differ from the training set's in ways a writer's hand varies:
slant and rotation, size and place in the box, pen width, and the wobble of each stroke. One call
draws, per image, a small affine change (rotation, shear, scale, translation), a stroke-width
change (a blend towards a grey dilation or erosion) and a smooth elastic displacement (Simard et
al. 2003), and resamples the batch once. Everything random comes from the `generator` passed in,
never from the global RNG, so a training run that seeds it from (seed, step) resumes exactly.

from vae_models.data.augment import augment
x = augment(x, torch.Generator().manual_seed(7))  # [N, C, H, W] in [0, 1] -> the same shape
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Augmentation:
    """How far each change may go at strength 1; each is drawn uniformly within ± its bound."""

    degrees: float = 12.0  # rotation
    shear: float = 0.25  # horizontal shear (a slant), as the tangent of its angle
    # Small: the reading fits every digit to its box, so bigger moves only push ink off the frame.
    scale: float = 0.08  # zoom by 1 ± this
    translate: float = 0.04  # shift, as a share of the side
    stroke: float = 1.0  # blend weight towards the dilated (+) or eroded (−) image
    stroke_radius: int = 1  # the dilation's reach, in pixels
    elastic: float = 0.04  # the largest displacement, as a share of the side
    elastic_cells: int = 4  # the displacement field's coarse grid: the wobble's wavelength


HANDWRITING = Augmentation()


def augment(
    images: Tensor, generator: torch.Generator, strength: float = 1.0, spec: Augmentation = HANDWRITING
) -> Tensor:
    """`images` [N, C, H, W] in [0, 1], each changed at random within `spec` × `strength`; a new
    tensor of the same shape, dtype and device, still in [0, 1]. Strength 0 returns the images."""
    count = images.shape[0]
    strokes = _uniform(count, spec.stroke * strength, generator)
    thetas = _affine(count, spec, strength, generator)
    field = _uniform_field(count, spec.elastic_cells, spec.elastic * strength, generator)
    changed = stroke_width(images, strokes.to(images.device), spec.stroke_radius)
    grid = F.affine_grid(thetas.to(images), list(images.shape), align_corners=False)
    grid = grid + _smooth(field.to(images), images.shape[-2:])
    return F.grid_sample(changed, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp_(0, 1)


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """A well-mixed 63-bit seed for one training step of one process (SeedSequence's hash, so that
    neighbouring steps and seeds draw unrelated augmentations)."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def _uniform(count: int, bound: float, generator: torch.Generator) -> Tensor:
    return (torch.rand(count, generator=generator) * 2 - 1) * bound


def _affine(count: int, spec: Augmentation, strength: float, generator: torch.Generator) -> Tensor:
    """[N, 2, 3] matrices mapping output to input coordinates (affine_grid's convention, in [-1, 1])."""
    angle = _uniform(count, math.radians(spec.degrees) * strength, generator)
    shear = _uniform(count, spec.shear * strength, generator)
    zoom = 1 + _uniform(count, spec.scale * strength, generator)
    shift = torch.stack([_uniform(count, 2 * spec.translate * strength, generator) for _ in range(2)], 1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    slant = torch.eye(2).repeat(count, 1, 1)
    slant[:, 0, 1] = shear
    # Sampling the input at A·p shows the image transformed by A⁻¹; the draws are symmetric, so
    # A itself is drawn and the zoom divides.
    linear = rotation @ slant / zoom[:, None, None]
    return torch.cat([linear, shift[:, :, None]], 2)


def _uniform_field(count: int, cells: int, bound: float, generator: torch.Generator) -> Tensor:
    """Coarse displacements [N, 2, cells, cells] within ± `bound` of the side (grid units are 2 a side)."""
    return (torch.rand(count, 2, cells, cells, generator=generator) * 2 - 1) * 2 * bound


def _smooth(field: Tensor, size: torch.Size) -> Tensor:
    """The coarse field interpolated bicubically to a smooth displacement per pixel, [N, H, W, 2]."""
    return F.interpolate(field, size=tuple(size), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)


def stroke_width(images: Tensor, weights: Tensor, radius: int = 1) -> Tensor:
    """Per image, a blend towards its grey dilation (weight > 0: thicker strokes) or erosion (< 0);
    `weights` [N] in [-1, 1], `radius` the reach in pixels of the max filter (a square of 2r + 1)."""
    if radius < 1:
        return images
    side = 2 * radius + 1
    dilated = F.max_pool2d(images, side, stride=1, padding=radius)
    eroded = -F.max_pool2d(-images, side, stride=1, padding=radius)
    grow = weights.clamp(min=0)[:, None, None, None]
    shrink = (-weights).clamp(min=0)[:, None, None, None]
    return images + grow * (dilated - images) + shrink * (eroded - images)
