"""read_into_domain: an outside image (a photo, a scan, a drawing) read the way a data set was made.

A model only knows its training images. A photo of a thin pen "7", small and off-centre on grey
paper, is nothing like the digits data set's thick, box-filling light-on-black strokes, and the
models answer it with a blob. So each data set says how an outside image enters its domain:

- digits: the UCI recipe (Alpaydin & Kaynak 1998): the ink as a binary bitmap, cropped to the ink,
  fitted to the 32-pixel height of a 32x32 box and at most 20 pixels wide (as the training digits
  are), counted in 4x4 blocks to 8x8 (0..16). Strokes are first brought to the training set's
  ink coverage, since the UCI writers' pens were thick.
- dsprites: the shape as a binary 64x64 frame, left where it is and at its size, because position
  and scale are the data set's factors.
- mnist, mnist-full, fashion_mnist-full: MNIST's recipe: the ink fitted to 20x20 keeping its
  aspect (grey levels from the resampling), its centre of mass put at the centre of 28x28, that
  field padded to the 32x32 frame the data sets serve. A digit already in MNIST's frame (an MNIST
  digit saved as a 28x28 image) is kept as it is.
- celeba, folder: centre-cropped to a square and resized, as their training transform does.

The ink is separated from the paper under uneven light for dark-on-light and light-on-dark images
alike: the paper's brightness is estimated with a wide morphological closing, each pixel's darkness
is taken relative to it, and Otsu's threshold splits ink from paper. The photo is first reduced to
at most WORK_SIDE pixels a side, so a 12-megapixel photo costs little more than a small one.
The recipes end where training begins: counts or bytes resized by the data set's own code.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import Tensor
from torchvision import transforms

from ..images import ImageInputError, to_model_input
from .dataset import TensorImageDataset
from .mnist import MNIST_FIELD, to_frame

WORK_SIDE = 640  # the photo's long side is reduced to at most this before any analysis
MIN_INK_CONTRAST = 0.15  # ink is at least this much darker (or lighter) than the paper around it
MIN_INK_EXTENT = 0.04  # a kept blob narrower and shorter than this share of the photo's long side is a speck
UCI_BOX, UCI_BLOCK = 32, 4
# The UCI digits fill the box's height but are at most UCI_WIDTH wide (NIST's normalisation squeezed
# wider ones): every training digit inks all 8 rows, columns 0 and 7 are all but empty, and the
# zeros' edge columns hold what a 20-pixel-wide ring gives. A test pins both to the training split.
UCI_WIDTH = 20
# The share of the 32x32 box that is ink in the digits data set (the mean of its 8x8 images / 16);
# a test pins it to the training split. It hardly varies by class (0.30 to 0.32).
DIGITS_INK_COVERAGE = 0.305
# How many box pixels across a loop keeps when strokes are thickened: 2 can close in the fitting's
# resampling, and a 2-pixel loop may then vanish into one 4x4 block's count.
LOOP_ACROSS = 3
MNIST_BOX = 20
# MNIST's mean pixel (0.1307 over 28x28, the figure everyone normalises with) as a share of the 20x20 box.
MNIST_INK_COVERAGE = 0.1307 * MNIST_FIELD**2 / MNIST_BOX**2
DSPRITES_SIDE = 64
LIGHT_ON_DARK_DATASETS = ("digits", "dsprites", "mnist", "mnist-full", "fashion_mnist-full", "kmnist-full")
_ORIENTATION_TAG = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_into_domain(
    image: Image.Image, dataset: str | None, in_channels: int, img_size: int, *, as_is: bool = False
) -> tuple[Tensor, list[str]]:
    """A decoded image (from `read_image`) -> the model's input [1, in_channels, img_size, img_size]
    in [0, 1], read the way `dataset`'s images were made, and the steps taken, in words.

    With `as_is`, or for a data set without a recipe, the image is only fitted to the frame (and
    inverted for light-on-dark data), to show how the model meets images outside its domain.
    Raises ImageInputError when there is nothing to read: blank paper, or only a speck of ink.
    """
    recipe = _RECIPES.get(dataset or "")
    if as_is or recipe is None:
        dark = dataset in LIGHT_ON_DARK_DATASETS
        x, notes = to_model_input(image, in_channels, img_size, dark_background=dark)
        why = "read as it is" if as_is else f"no reading recipe for {dataset!r}: read as it is"
        return x, [why, *notes]
    return recipe(image, in_channels, img_size)


# --- separating ink from paper ------------------------------------------------------------------


@dataclass(frozen=True)
class _Ink:
    """The main ink blob of a photo at working resolution, cropped to its bounding box."""

    mask: np.ndarray  # bool [h, w], the blob's ink within its box
    box: tuple[int, int, int, int]  # top, left, bottom, right (exclusive) in the working image
    frame: tuple[int, int]  # the working image's height and width
    steps: list[str]
    darkness: np.ndarray  # [h, w] in [0, 1] within the box: how inky each pixel looks, whatever the polarity
    paper_darkness: float  # the same for the paper: the median over the image's pixels that are not ink


def _read_ink(image: Image.Image, noun: str) -> _Ink:
    """Find the ink and keep its main blob; refuse blank paper and specks."""
    grey, steps = _working_grey(image)
    ink_is_dark = _ink_is_dark(grey)
    darkness = 1 - grey if ink_is_dark else grey
    mask = _ink_mask(1 - darkness)
    if not mask.any():
        raise ImageInputError(
            f"no {noun} found: the image looks like blank paper (nothing stands out from its background by "
            f"{MIN_INK_CONTRAST:.0%} and beyond the photo's noise); photograph or draw it with more contrast"
        )
    kept, blob_count = _main_blob(mask)
    rows, cols = np.nonzero(kept)
    box = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    extent = max(box[2] - box[0], box[3] - box[1])
    if extent < MIN_INK_EXTENT * max(grey.shape):
        raise ImageInputError(
            f"almost no {noun}: only a speck {extent / max(grey.shape):.0%} of the image across was found; "
            f"draw or photograph it larger"
        )
    polarity = "dark on light" if ink_is_dark else "light on dark"
    steps.append(f"{noun} separated from the background ({polarity}), uneven light evened out")
    if blob_count > 1:
        steps.append(f"largest of {blob_count} {noun} blobs kept")
    if box[0] == 0 or box[1] == 0 or box[2] == grey.shape[0] or box[3] == grey.shape[1]:
        steps.append(f"the {noun} touches the image's edge, so part of it may be cut off: read as it is")
    window = (slice(box[0], box[2]), slice(box[1], box[3]))
    paper = float(np.median(darkness[~mask])) if not mask.all() else 0.0
    return _Ink(kept[window], box, grey.shape, steps, darkness[window], paper)


def _working_grey(image: Image.Image) -> tuple[np.ndarray, list[str]]:
    """Grey levels in [0, 1], the long side reduced to at most WORK_SIDE (box averaging, which is
    fast and keeps thin strokes as faint lines rather than dropping them), turned upright."""
    orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    factor = -(-max(image.size) // WORK_SIDE)
    small = image.reduce(factor) if factor > 1 else image
    steps = []
    if orientation in _UPRIGHT:
        small = small.transpose(_UPRIGHT[orientation])
        steps.append("turned upright, as the camera's orientation tag says")
    if small.mode == "F":
        return np.clip(np.asarray(small, dtype=np.float32), 0, 1), steps
    return np.asarray(small.convert("L"), dtype=np.float32) / 255, steps


def _ink_is_dark(grey: np.ndarray) -> bool:
    """Whether the ink is darker than the paper.

    The light is evened out first, by a median filter over half the image, so that a gradient
    across the photo is not mistaken for ink. Ink is a minority of any such window, of either
    polarity; over a quarter, a bold digit filling the photo was the majority near its strokes, and
    the paper beside them read as light ink. The ink is then the side with clearly more pixels far
    from that level. A large filled shape leaves no such excess, and then the paper is what the
    border shows: ink is dark on a border lighter than the image's mean.
    """
    coarse = _block_mean(grey, 32)
    level = _upsample(ndimage.median_filter(coarse, size=max(3, max(coarse.shape) // 2)), grey.shape)
    residual = grey - level
    step = max(4 * 1.4826 * float(np.median(np.abs(residual))), 0.05)  # four robust noise deviations
    darker, lighter = int((residual < -step).sum()), int((residual > step).sum())
    if max(darker, lighter) >= max(2 * min(darker, lighter), 0.0005 * grey.size):
        return darker > lighter
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border)) >= float(grey.mean())


def _ink_mask(grey: np.ndarray) -> np.ndarray:
    """The pixels darker than the paper around them by Otsu's threshold of that darkness (a share of
    the paper's brightness, at least MIN_INK_CONTRAST), and by more than the photo's noise explains."""
    paper = _paper(grey)
    darkness = np.clip((paper - grey) / np.maximum(paper, 0.05), 0, 1)
    beyond_noise = paper - grey > 6 * _noise(grey)
    return beyond_noise & (darkness >= max(_otsu(darkness), MIN_INK_CONTRAST))


def _paper(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness under the ink: a grey closing (a maximum then a minimum filter) over a
    quarter of the image, on a coarse grid.

    It removes every dark stroke narrower than that and follows the light's gradients. Filled shapes
    wider than that leave their outline, which the callers fill in where shapes are solid. Beyond
    the frame the light is taken to go on as it goes at the border (a local average, reflected
    through the border point by point), so that a photo darker at one edge does not read as ink there.
    """
    coarse = _block_mean(grey, 96)
    size = max(3, max(coarse.shape) // 4)
    trend = ndimage.uniform_filter(coarse, max(3, size // 3), mode="nearest")
    extended = np.pad(trend, size, mode="reflect", reflect_type="odd")
    extended[size:-size, size:-size] = coarse
    paper = ndimage.uniform_filter(ndimage.grey_closing(extended, size=size), max(3, size // 3))
    return _upsample(paper[size:-size, size:-size], grey.shape)


def _noise(grey: np.ndarray) -> float:
    """The standard deviation of the pixel noise, from the differences of neighbours (robustly: most
    neighbours are both paper, and the median ignores the rest)."""
    return float(1.4826 * np.median(np.abs(np.diff(grey, axis=1))) / math.sqrt(2))


def _block_mean(grey: np.ndarray, side: int) -> np.ndarray:
    """The image averaged over square blocks, to about `side` blocks along its long side."""
    block = max(1, max(grey.shape) // side)
    height, width = grey.shape[0] // block * block, grey.shape[1] // block * block
    return grey[:height, :width].reshape(height // block, block, width // block, block).mean(axis=(1, 3))


def _upsample(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    picture = Image.fromarray(coarse.astype(np.float32), mode="F")
    return np.asarray(picture.resize(shape[::-1], Image.Resampling.BILINEAR))


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 1]: the split of 256 levels with the most between-class variance.
    Some value is always at or above it, as the split leaves pixels on both sides; values all at one
    level have no split, and nothing is above their threshold (infinity)."""
    counts = np.bincount((values * 255).astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = (np.arange(256) + 0.5) / 255
    share = np.cumsum(counts) / counts.sum()
    splits = (share > 0) & (share < 1)
    if not splits.any():
        return math.inf
    mean_below = np.cumsum(counts * levels) / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        between = np.where(splits, (mean_below[-1] * share - mean_below) ** 2 / (share * (1 - share)), -1)
    # The upper edge of the best split's lower class: values at or above it are the upper class.
    return float(np.argmax(between) + 1) / 255


def _main_blob(mask: np.ndarray, gap: float = 0.1, speck: float = 0.01) -> tuple[np.ndarray, int]:
    """The blob with the most ink, and how many blobs there are.

    A blob is a group of ink components whose boxes lie within `gap` of the group's size of each
    other, so a broken stroke or a digit written in two strokes stays whole, while two digits
    side by side are two blobs. Components under `speck` of the largest one's ink are noise.
    """
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = ndimage.find_objects(labels)
    candidates = [index for index in np.argsort(-areas)[:64] if areas[index] >= speck * areas.max()]
    groups = []
    while candidates:
        group, candidates = _grow_group(candidates, boxes, gap)
        groups.append(group)
    best = max(groups, key=lambda group: areas[group].sum())
    return np.isin(labels, np.asarray(best) + 1), len(groups)


def _grow_group(candidates: list[int], boxes: list[tuple[slice, slice]], gap: float) -> tuple[list[int], list[int]]:
    """The group grown from the first (largest) candidate, and the candidates left over."""
    group, rest = [candidates[0]], candidates[1:]
    top, left, bottom, right = _bounds(boxes[candidates[0]])
    grown = True
    while grown:
        grown = False
        reach = gap * max(bottom - top, right - left)
        for index in list(rest):
            other_top, other_left, other_bottom, other_right = _bounds(boxes[index])
            apart = max(other_top - bottom, top - other_bottom, other_left - right, left - other_right)
            if apart <= reach:
                group.append(index)
                rest.remove(index)
                top, left = min(top, other_top), min(left, other_left)
                bottom, right = max(bottom, other_bottom), max(right, other_right)
                grown = True
    return group, rest


def _bounds(box: tuple[slice, slice]) -> tuple[int, int, int, int]:
    return box[0].start, box[1].start, box[0].stop, box[1].stop


# --- shaping the ink like the training data -----------------------------------------------------


@dataclass(frozen=True)
class _Box:
    """Where a recipe fits the ink: into a `side`-pixel square keeping its aspect, at most `max_width`
    wide; or, with `fill_height`, to the square's full height and at most `max_width` wide, a wider
    ink squeezed to that width."""

    side: int
    max_width: int
    fill_height: bool = False

    def scales(self, height: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The vertical and horizontal scale from ink pixels to box pixels, for ink of that extent."""
        horizontal = np.minimum(self.side / height, self.max_width / width)
        return (self.side / height if self.fill_height else horizontal), horizontal

    def coverage(self, area: np.ndarray, height: np.ndarray, width: np.ndarray) -> np.ndarray:
        """The share of the square that `area` ink pixels of that extent cover once fitted."""
        vertical, horizontal = self.scales(height, width)
        return area * vertical * horizontal / self.side**2

    def pixel(self, height: np.ndarray, width: np.ndarray) -> np.ndarray:
        """How many ink pixels one box pixel spans along the coarser axis, for ink of that extent."""
        return 1 / np.minimum(*self.scales(height, width))


UCI_FIT = _Box(UCI_BOX, UCI_WIDTH, fill_height=True)
MNIST_FIT = _Box(MNIST_BOX, MNIST_BOX)


def _squeeze(mask: np.ndarray, box: _Box) -> np.ndarray:
    """A mask wider than the box allows for its height, squeezed to that width, so that the strokes
    are then thickened evenly; other masks as they are."""
    height, width = mask.shape
    allowed = max(1, round(height * box.max_width / box.side))
    if not box.fill_height or width <= allowed:
        return mask
    picture = Image.fromarray(mask.astype(np.float32), mode="F")
    return np.asarray(picture.resize((allowed, height), Image.Resampling.BOX)) >= 0.5


def _match_coverage(mask: np.ndarray, target: float, box: _Box) -> tuple[np.ndarray, str | None]:
    """Thicken (or thin) the strokes of a cropped ink mask so that, fitted to `box`, the ink covers
    `target` of its square; the mask is cropped to its new extent. Thickening stops short of
    closing a loop (a small 8 drawn with a fine pen would become a blob).

    The work is done with one distance transform on the mask reduced to about 4 pixels per box
    pixel (a block with any ink is ink, so thin strokes survive): the ink at distance r has
    count(distance <= r) more pixels and an extent 2r larger, read off for every r at once.
    """
    ink = _any_in_blocks(mask, max(1, max(mask.shape) // (4 * box.side)))
    pad = max(ink.shape) // 4 + 1
    padded = np.pad(ink, pad)
    before = float(box.coverage(ink.sum(), *ink.shape))
    thicken = before < target
    distance = ndimage.distance_transform_edt(~padded if thicken else padded)
    radii = np.arange(0, pad, 0.5)
    grown = (2 if thicken else -2) * radii
    height, width = np.maximum(ink.shape[0] + grown, 1), np.maximum(ink.shape[1] + grown, 1)
    covered = np.searchsorted(np.sort(distance[distance > 0]), radii, side="right")
    area = ink.sum() + covered if thicken else ink.sum() - covered
    coverage = box.coverage(area, height, width)
    index = int(np.argmin(np.abs(coverage - target) + (area <= 0)))
    if thicken:
        index = min(index, _loop_room(padded, distance, radii, box.pixel(height, width)))
    if index == 0:
        return _crop_to_ink(padded), None
    shaped = distance <= radii[index] if thicken else distance > radii[index]
    verb = "thickened" if thicken else "thinned"
    short = f", short of {target:.0%} to keep its loops open" if abs(coverage[index] - target) > 0.02 else ""
    return _crop_to_ink(
        shaped
    ), f"strokes {verb} to the training ink coverage ({before:.0%} → {coverage[index]:.0%}{short})"


def _loop_room(ink: np.ndarray, distance: np.ndarray, radii: np.ndarray, pixel: np.ndarray) -> int:
    """The index of the last of `radii` to which the strokes may grow before a loop of the digit
    narrows below LOOP_ACROSS box pixels across (`pixel`: the box pixel's span in ink pixels at
    each radius).

    Growing by r takes r off every hole's inner radius (the distance from its deepest point to the
    ink): a hole of inner radius m stays open while m - r >= pixel(r) * LOOP_ACROSS / 2. Holes
    narrower than one box pixel to begin with are gaps, not loops.
    """
    labels, count = ndimage.label(~ink)
    outside = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    holes = np.setdiff1d(np.arange(1, count + 1), outside)
    inner = np.asarray(ndimage.maximum(distance, labels, holes)) if holes.size else np.zeros(0)
    loops = inner[inner >= pixel[0]]
    if not loops.size:
        return len(radii) - 1
    return max(0, int(np.count_nonzero(loops.min() - radii >= pixel * LOOP_ACROSS / 2)) - 1)


def _any_in_blocks(mask: np.ndarray, factor: int) -> np.ndarray:
    """Reduce a mask by `factor`, a block being ink when any of its pixels is."""
    if factor == 1:
        return mask
    height, width = -(-mask.shape[0] // factor) * factor, -(-mask.shape[1] // factor) * factor
    padded = np.pad(mask, ((0, height - mask.shape[0]), (0, width - mask.shape[1])))
    return padded.reshape(height // factor, factor, width // factor, factor).any(axis=(1, 3))


def _crop_to_ink(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit(ink: np.ndarray, box: _Box) -> np.ndarray:
    """Resample into `box` (see _Box), by area: each pixel the share of it inked."""
    vertical, horizontal = box.scales(*ink.shape)
    size = (max(1, round(ink.shape[1] * float(horizontal))), max(1, round(ink.shape[0] * float(vertical))))
    picture = Image.fromarray(ink.astype(np.float32), mode="F")
    return np.asarray(picture.resize(size, Image.Resampling.BOX))


def _place(picture: np.ndarray, side: int, top: int, left: int) -> np.ndarray:
    """`picture` on a black side×side field with its corner at (top, left), clipped to the field."""
    field = np.zeros((side, side), dtype=np.float32)
    rows = slice(max(top, 0), min(top + picture.shape[0], side))
    cols = slice(max(left, 0), min(left + picture.shape[1], side))
    field[rows, cols] = picture[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    return field


def _as_training(pixels: np.ndarray, max_value: int, name: str, in_channels: int, img_size: int) -> Tensor:
    """Integer pixels [H, W] in [0, max_value] -> [1, in_channels, img_size, img_size], resized by the
    very code that resizes the training images (the grey copied to every channel the model has)."""
    held = TensorImageDataset(
        torch.from_numpy(pixels.astype(np.uint8))[None, None],
        max_value=max_value,
        name=name,
        labels=torch.zeros(1),
        class_names=[name],
        in_channels=1,
        img_size=img_size,
    )
    return held.batch()[0].expand(-1, in_channels, -1, -1).contiguous()


# --- the recipes ---------------------------------------------------------------------------------


def _digits(image: Image.Image, in_channels: int, img_size: int) -> tuple[Tensor, list[str]]:
    """UCI: a 32x32 binary bitmap of the ink, fitted to the box's height and at most UCI_WIDTH wide,
    centred, counted in 4x4 blocks to 8x8 (0..16)."""
    ink = _read_ink(image, "ink")
    squeezed = _squeeze(ink.mask, UCI_FIT)
    shaped, thickness = _match_coverage(squeezed, DIGITS_INK_COVERAGE, UCI_FIT)
    fitted = _fit(shaped, UCI_FIT) >= 0.5
    top, left = (UCI_BOX - fitted.shape[0]) // 2, (UCI_BOX - fitted.shape[1]) // 2
    bitmap = _place(fitted, UCI_BOX, top, left)
    cells = UCI_BOX // UCI_BLOCK
    counts = bitmap.reshape(cells, UCI_BLOCK, cells, UCI_BLOCK).sum(axis=(1, 3))
    fitting = f"cropped to the ink, fitted to the {UCI_BOX}-pixel height of the {UCI_BOX}×{UCI_BOX} box"
    wide = squeezed.shape[1] < ink.mask.shape[1]
    steps = [*ink.steps, fitting + (f", squeezed to {UCI_WIDTH} pixels wide" if wide else ", keeping its aspect")]
    steps += [thickness] if thickness else []
    steps.append(f"counted in {UCI_BLOCK}×{UCI_BLOCK} blocks to {cells}×{cells} (0–16) as the UCI digits were")
    return _as_training(counts, UCI_BLOCK**2, "digits", in_channels, img_size), steps


def _mnist_like(
    image: Image.Image, in_channels: int, img_size: int, *, name: str, thicken: bool
) -> tuple[Tensor, list[str]]:
    """MNIST: the ink fitted to 20x20 keeping its aspect, grey where a pixel is partly inked, and
    moved so that its centre of mass is the centre of 28x28. Pen strokes are brought to MNIST's ink
    coverage first; Fashion-MNIST's solid items are filled in instead. A digit already in MNIST's
    frame is kept as it is (`_in_mnist_frame`). The 28x28 field is padded to the 32x32 frame."""
    framed = _in_mnist_frame(image) if thicken else None
    if framed is not None:
        steps = ["already a digit in MNIST's 28×28 frame, fitted to 20×20 and centred by its mass: kept as it is"]
        return _as_training(to_frame(framed), 255, name, in_channels, img_size), steps
    ink = _read_ink(image, "ink" if thicken else "item")
    steps = list(ink.steps)
    if thicken:
        shaped, thickness = _match_coverage(ink.mask, MNIST_INK_COVERAGE, MNIST_FIT)
        steps += [thickness] if thickness else []
    else:
        shaped = ndimage.binary_fill_holes(ink.mask)
    fitted = _fit(shaped, MNIST_FIT)
    rows, cols = ndimage.center_of_mass(fitted)
    centre = (MNIST_FIELD - 1) / 2
    field = _place(fitted, MNIST_FIELD, round(centre - rows), round(centre - cols))
    steps.append(f"fitted to {MNIST_BOX}×{MNIST_BOX} keeping its aspect, centre of mass put at the centre of 28×28")
    steps.append("padded to the 32×32 frame the MNIST data sets serve")
    return _as_training(to_frame(np.round(field * 255)), 255, name, in_channels, img_size), steps


def _in_mnist_frame(image: Image.Image) -> np.ndarray | None:
    """The image's grey levels (uint8 [28, 28], ink light on black) when it is already a digit as
    MNIST made them, else None.

    That is: 28x28, upright, grey, its background (the median pixel) exactly black, or exactly white
    for a digit saved inverted; its ink 19 or 20 pixels along its longer side (every one of the
    shipped 5,000 is) and its centre of mass within a pixel of the field's centre (MNIST moved each
    digit by whole pixels to put it there). Such an image is MNIST's frame already, and the recipe,
    which binarises the ink, would only lose its grey levels.
    """
    if image.size != (MNIST_FIELD, MNIST_FIELD) or image.getexif().get(_ORIENTATION_TAG, 1) != 1:
        return None
    if image.mode == "F":
        grey = np.round(np.clip(np.asarray(image, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    else:
        channels = np.asarray(image.convert("RGB"), dtype=np.uint8)
        if (channels != channels[..., :1]).any():  # colour: not an MNIST digit
            return None
        grey = channels[..., 0]
    background = int(np.median(grey))
    if background not in (0, 255):
        return None
    digit = grey if background == 0 else 255 - grey
    rows, cols = np.nonzero(digit)
    if rows.size == 0 or max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 not in (MNIST_BOX - 1, MNIST_BOX):
        return None
    centre = (MNIST_FIELD - 1) / 2
    if np.abs(np.asarray(ndimage.center_of_mass(digit.astype(np.float64))) - centre).max() > 1 + 1e-6:
        return None
    return digit


def _dsprites(image: Image.Image, in_channels: int, img_size: int) -> tuple[Tensor, list[str]]:
    """dSprites: the shape as a binary 64x64 frame, kept where it is and at its size, since position
    and scale are factors. A drawn outline is filled in: every sprite is solid."""
    ink = _read_ink(image, "shape")
    solid, filled = _solid_shape(ink)
    steps = [*ink.steps, *filled]
    height, width = ink.frame
    side = max(height, width)
    if height != width:
        steps.append("padded to a square frame around the photo, the shape left in place")
    top, left = ink.box[0] + (side - height) // 2, ink.box[1] + (side - width) // 2
    scale = DSPRITES_SIDE / side
    # Resample the shape's own box into the frame, from its exact position, so that nothing moves.
    size = (max(1, round(solid.shape[1] * scale)), max(1, round(solid.shape[0] * scale)))
    shape = np.asarray(Image.fromarray(solid.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))
    frame = _place(shape >= 0.5, DSPRITES_SIDE, round(top * scale), round(left * scale))
    if not frame.any():
        raise ImageInputError("the shape is smaller than a pixel of the 64×64 frame: photograph or draw it larger")
    steps.append(f"kept where it is and at its size in a binary {DSPRITES_SIDE}×{DSPRITES_SIDE} frame")
    return _as_training(frame, 1, "dsprites", in_channels, img_size), steps


def _solid_shape(ink: _Ink) -> tuple[np.ndarray, list[str]]:
    """The shape as solid ink, and what was done: every sprite is solid.

    Inside an outline drawn with a pen is paper, and the pen's centre line is the shape's edge, so
    the filled outline is cut back by half the pen's width (the distance from a stroke's ridge to
    its edge); otherwise a drawn 10-pixel square would read one or two scale steps too big. Inside
    a solid shape wider than the paper estimate's window is ink the mask missed: that is only filled.
    """
    solid = ndimage.binary_fill_holes(ink.mask)
    inside = solid & ~ink.mask
    if inside.sum() <= 0.05 * ink.mask.sum():  # pinholes in a solid shape, or none
        return solid, []
    inside_darkness = float(np.median(ink.darkness[inside]))
    ink_darkness = float(np.median(ink.darkness[ink.mask]))
    if abs(inside_darkness - ink_darkness) < abs(inside_darkness - ink.paper_darkness):
        return solid, ["the shape's middle filled in"]
    from_edge = ndimage.distance_transform_edt(np.pad(ink.mask, 1))[1:-1, 1:-1]  # the box's edge is paper too
    ridge = ink.mask & (from_edge >= ndimage.maximum_filter(from_edge, 3))
    half_pen = float(np.median(from_edge[ridge]))
    cut = ndimage.distance_transform_edt(np.pad(solid, 1))[1:-1, 1:-1] > half_pen
    if not cut.any():  # the pen was as wide as the shape: nothing but ink
        return solid, ["outline filled in"]
    return cut, [f"outline filled in, and cut back to the pen's centre line ({2 * half_pen:.0f}-pixel pen)"]


def _centre_crop(image: Image.Image, in_channels: int, img_size: int) -> tuple[Tensor, list[str]]:
    """Natural images: the shorter side resized to img_size and the middle square kept, as the
    folder data set's training transform does."""
    factor = min(image.size) // (2 * img_size)
    small = image.reduce(factor) if factor > 1 else image
    if small.mode == "F":
        small = Image.fromarray(np.round(np.clip(np.asarray(small), 0, 1) * 255).astype(np.uint8))
    small = small.convert("L" if in_channels == 1 else "RGB")
    read = transforms.Compose([transforms.Resize(img_size), transforms.CenterCrop(img_size), transforms.ToTensor()])
    return read(small)[None], [f"centre-cropped to a square and resized to {img_size}×{img_size}"]


_Recipe = Callable[[Image.Image, int, int], tuple[Tensor, list[str]]]  # (image, in_channels, img_size)
_RECIPES: dict[str, _Recipe] = {
    "digits": _digits,
    "dsprites": _dsprites,
    "mnist": functools.partial(_mnist_like, name="mnist", thicken=True),
    "mnist-full": functools.partial(_mnist_like, name="mnist-full", thicken=True),
    "fashion_mnist-full": functools.partial(_mnist_like, name="fashion_mnist-full", thicken=False),
    "celeba": _centre_crop,
    "folder": _centre_crop,
}
