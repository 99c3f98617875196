"""dSprites (Matthey et al. 2017), generated procedurally instead of downloaded.

Every image is one white sprite on black, 64x64, for each of the 737,280
combinations of five factors: shape (square, ellipse, heart), scale (6 values in
[0.5, 1]), orientation (40 values in [0, 2π]; 0 and 2π both occur, as in the
original), posX and posY (32 values each in [0, 1]). The canonical index counts
them in that order with posY fastest, like the rows of the original .npz.

Geometry: the sprite's centroid sits at pixel (16 + 32·posX, 16 + 32·posY),
columns from the left and rows from the top, and the sprite turns
counter-clockwise on screen as the orientation grows. At scale 1 the square is
20 px wide, the ellipse 26x14 px with its long axis horizontal at orientation 0,
and the heart 20x17 px with its point down; sizes scale linearly.

Each pixel's coverage is estimated from 4x4 sub-pixel samples and thresholded at
0.5, so images are exactly 0.0 or 1.0. Only pixels near the outline need the
sub-samples: every pixel of a 32x32 window around the sprite is first tested at
its centre, and sub-sampled only where its 3x3 neighbourhood is mixed. That is
about 4x less work than sub-sampling everything and gives the same images up to
floating-point ties (the tests compare it with brute force).

Rendering runs on one thread. Its operations are small, so a second intra-op
thread gains a quarter at best on an idle machine, while on a busy one two
threads fighting another process for two cores made it a hundred times slower;
DataLoader workers have one thread each anyway.
"""

from __future__ import annotations

import time
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor

from .dataset import ImageDataset

DSPRITES_FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
DSPRITES_FACTOR_SIZES = (3, 6, 40, 32, 32)
DSPRITES_SHAPES = ("square", "ellipse", "heart")
# What a step up each ordered factor looks like (posY grows downwards: the centroid's row is 16 + 32·posY).
DSPRITES_FACTOR_MOVES = {"scale": "bigger", "orientation": "rotate", "posX": "move right", "posY": "move down"}
DSPRITES_COUNT = int(np.prod(DSPRITES_FACTOR_SIZES))
_STRIDES = np.cumprod((1, *DSPRITES_FACTOR_SIZES[:0:-1]))[::-1].copy()  # 245760, 40960, 1024, 32, 1

IMAGE_SIZE = 64
_WINDOW = 32  # every sprite lies within 14.2 px of its centre (the square's half-diagonal)
_SUB = 4  # sub-samples per pixel side
_CHUNK = 256  # sprites drawn at once: bigger batches spill the intermediates out of the CPU caches
# Per shape: pixels per shape unit along the shape's own horizontal and vertical
# axes at scale 1, and the vertical shape coordinate of the centroid (the heart's
# lobes put it 0.29 units above the middle of its height). The heart curve spans
# |a| ≤ 1.139 and -1 ≤ b ≤ 1.236 units.
_SHAPE_UNITS = torch.tensor([[10.0, 10.0, 0.0], [13.0, 7.0, 0.0], [10.0 / 1.139, 17.0 / 2.236, 0.2935]])


def dsprites_factor_values() -> dict[str, np.ndarray]:
    """The value behind each class index, as in the original's latents_values."""
    return {
        "shape": np.array([1.0, 2.0, 3.0]),
        "scale": np.linspace(0.5, 1.0, 6),
        "orientation": np.linspace(0.0, 2 * np.pi, 40),
        "posX": np.linspace(0.0, 1.0, 32),
        "posY": np.linspace(0.0, 1.0, 32),
    }


_VALUES = {name: torch.from_numpy(v).float() for name, v in dsprites_factor_values().items()}


def dsprites_index_to_classes(index: ArrayLike) -> np.ndarray:
    """Canonical indices [N] -> factor class indices [N, 5] (int64)."""
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    if index.size and (index.min() < 0 or index.max() >= DSPRITES_COUNT):
        raise ValueError(f"dSprites indices must be in [0, {DSPRITES_COUNT}), got {index.min()}..{index.max()}")
    return index[:, None] // _STRIDES % np.array(DSPRITES_FACTOR_SIZES)


def dsprites_classes_to_index(classes: ArrayLike) -> np.ndarray:
    """Factor class indices [N, 5] -> canonical indices [N] (int64)."""
    return _check_classes(np.asarray(classes)) @ _STRIDES


def render_dsprites(classes: ArrayLike | Tensor) -> Tensor:
    """Factor class indices [N, 5] -> binary images [N, 1, 64, 64] (float32), drawn on one thread."""
    classes = _check_classes(np.asarray(classes))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        images = torch.zeros(len(classes), 1, IMAGE_SIZE, IMAGE_SIZE)
        for first in range(0, len(classes), _CHUNK):
            _draw(classes[first : first + _CHUNK], images[first : first + _CHUNK].view(-1))
    finally:
        torch.set_num_threads(threads)
    return images


def dsprites_throughput(n: int = 4096, batch_size: int = 64, seed: int = 0) -> float:
    """Images per second that render_dsprites makes, in batches of batch_size."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, DSPRITES_FACTOR_SIZES, size=(n, len(DSPRITES_FACTOR_SIZES)))
    render_dsprites(classes[:batch_size])  # warm-up: first calls allocate
    start = time.perf_counter()
    for first in range(0, n, batch_size):
        render_dsprites(classes[first : first + batch_size])
    return n / (time.perf_counter() - start)


def _check_classes(classes: np.ndarray) -> np.ndarray:
    if classes.ndim != 2 or classes.shape[1] != len(DSPRITES_FACTOR_SIZES):
        raise ValueError(f"dSprites classes must have shape [N, 5], got {list(classes.shape)}")
    if not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"dSprites classes must be integers, got {classes.dtype}")
    classes = classes.astype(np.int64)
    if ((classes < 0) | (classes >= np.array(DSPRITES_FACTOR_SIZES))).any():
        raise ValueError(f"dSprites classes must lie below {DSPRITES_FACTOR_SIZES} per factor")
    return classes


def _draw(classes: np.ndarray, pixels: Tensor) -> None:
    """Draw sprites [n, 5] onto the flat, zeroed pixels of their n images."""
    order = np.argsort(classes[:, 0], kind="stable")  # sprites grouped by shape, so each shape's test runs once
    shape_bounds = torch.from_numpy(np.searchsorted(classes[order, 0], np.arange(len(DSPRITES_SHAPES) + 1)))
    sprites = torch.from_numpy(classes[order])
    centre = 16 + 32 * torch.stack([_VALUES["posX"][sprites[:, 3]], _VALUES["posY"][sprites[:, 4]]], 1)
    corner = (centre.floor() - (_WINDOW // 2 - 1)).clamp(0, IMAGE_SIZE - _WINDOW)  # window's (left, top) pixel
    windows = _render_windows(_window_coefficients(sprites, centre, corner), shape_bounds)
    offsets = torch.arange(_WINDOW)
    rows = corner[:, 1, None].long() + offsets
    cols = corner[:, 0, None].long() + offsets
    targets = (torch.from_numpy(order)[:, None, None] * IMAGE_SIZE + rows[:, :, None]) * IMAGE_SIZE + cols[:, None, :]
    pixels.index_copy_(0, targets.view(-1), windows.view(-1))


def _window_coefficients(sprites: Tensor, centre: Tensor, corner: Tensor) -> Tensor:
    """Per sprite, the affine map from window (col, row) to shape coordinates (a, b): [n, 2, 3].

    (a, b) are the shape's own axes, b pointing up. Measured from the centroid,
    u = x - centre_x points right and v = centre_y - y points up (screen rows grow
    downwards), so a counter-clockwise turn on screen is the usual rotation by the
    angle in the (u, v) plane, and (a, b) is (u, v) turned back. coef[:, :, 0] is
    (a, b) at the window's corner pixel, coef[:, :, 1] the step one column right
    and coef[:, :, 2] the step one row down.
    """
    angle = _VALUES["orientation"][sprites[:, 2]]
    cos, sin = angle.cos(), angle.sin()
    to_shape = torch.stack([torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1)  # (u, v) -> (a, b)
    shape = _SHAPE_UNITS[sprites[:, 0]]
    units = shape[:, :2] * _VALUES["scale"][sprites[:, 1], None]
    uv_at_corner = torch.stack([corner[:, 0] - centre[:, 0], centre[:, 1] - corner[:, 1]], 1)
    constant = (to_shape @ uv_at_corner[:, :, None]).squeeze(2) / units
    constant[:, 1] += shape[:, 2]
    return torch.stack([constant, to_shape[:, :, 0] / units, -to_shape[:, :, 1] / units], 2)


def _render_windows(coef: Tensor, shape_bounds: Tensor) -> Tensor:
    """Coefficients [n, 2, 3] of sprites sorted by shape -> binary 32x32 windows [n, 32, 32].

    Pixel centres first; then the 4x4 sub-samples, only where a 3x3 neighbourhood is mixed.
    """
    pixel = torch.arange(_WINDOW, dtype=torch.float32)
    windows = _inside(coef[:, None, None], pixel[:, None], pixel, shape_bounds).float()
    padded = F.pad(windows, (1, 1, 1, 1))
    across = padded[:, :, :-2] + padded[:, :, 1:-1] + padded[:, :, 2:]
    around = across[:, :-2] + across[:, 1:-1] + across[:, 2:]  # 3x3 box sums
    outline = ((around > 0) & (around < 9)).view(-1).nonzero().squeeze(1)
    sprite, row, col = outline // _WINDOW**2, outline // _WINDOW % _WINDOW, outline % _WINDOW
    sub = (torch.arange(_SUB, dtype=torch.float32) + 0.5) / _SUB - 0.5
    rows, cols = row[:, None] + sub.repeat_interleave(_SUB), col[:, None] + sub.repeat(_SUB)
    hits = _inside(coef[sprite, None], rows, cols, torch.searchsorted(sprite, shape_bounds))
    windows.view(-1).index_copy_(0, outline, (hits.sum(1) >= _SUB * _SUB // 2).float())
    return windows


def _inside(coef: Tensor, row: Tensor, col: Tensor, shape_bounds: Tensor) -> Tensor:
    """Whether window points (row, col) lie in their sprite; coef [n, ..., 2, 3] broadcasts against them.

    The n sprites come sorted by shape, shape s occupying shape_bounds[s]:shape_bounds[s + 1].
    """
    a = coef[..., 0, 0] + coef[..., 0, 1] * col + coef[..., 0, 2] * row
    b = coef[..., 1, 0] + coef[..., 1, 1] * col + coef[..., 1, 2] * row
    square, ellipse, heart = (slice(lo, hi) for lo, hi in pairwise(shape_bounds.tolist()))
    a2, b2 = a[ellipse].square(), b[ellipse].square()
    ha2, hb2 = a[heart].square(), b[heart].square()
    return torch.cat(
        [
            torch.maximum(a[square].abs(), b[square].abs()) <= 1,  # square: |a|, |b| ≤ 1
            a2 + b2 <= 1,  # ellipse: the unit circle, stretched by _SHAPE_UNITS
            (ha2 + hb2 - 1).pow_(3) <= ha2 * hb2 * b[heart],  # heart: inside (a² + b² - 1)³ = a² b³, point down
        ]
    )


class DSpritesDataset(ImageDataset):
    """dSprites images for the given canonical indices, rendered when asked for.

    labels are the shape class (what the conditional VAE conditions on); factors
    [N, 5] are the class indices of all five factors. Any combination of factors can
    be rendered (`render_factors`), which the disentanglement metrics sample from.
    """

    factor_sizes = DSPRITES_FACTOR_SIZES
    # Shape is a category; scale, orientation and position are ordered quantities.
    continuous_factors = (False, True, True, True, True)
    label_factor = 0  # the label is the shape

    def __init__(self, indices: ArrayLike) -> None:
        factors = torch.from_numpy(dsprites_index_to_classes(indices))
        super().__init__(
            name="dsprites",
            labels=factors[:, 0].clone(),
            class_names=DSPRITES_SHAPES,
            in_channels=1,
            img_size=IMAGE_SIZE,
            factors=factors,
            factor_names=DSPRITES_FACTOR_NAMES,
        )

    def _images(self, index: Tensor) -> Tensor:
        return render_dsprites(self.factors[index])

    def render_factors(self, factors: ArrayLike) -> Tensor:
        return render_dsprites(factors)
