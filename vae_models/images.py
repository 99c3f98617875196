"""Images in and out of the models: any upload to a model's input tensor, tensors to PIL.

`read_image` accepts whatever a user may upload (PNG, JPEG, WebP, GIF, BMP; any mode
or size) and refuses what cannot be read with an `ImageInputError` that names the
problem. Conversions it had to make (first frame of an animation, 16-bit to float,
transparency flattened, colour to grey) come back as notes, so the caller can tell
the user what was done to their image.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError
from torch import Tensor
from torchvision.transforms.v2 import functional as TF
from torchvision.utils import make_grid

MAX_PIXELS = 50_000_000
MAX_FILE_BYTES = 20 * 1024 * 1024


class ImageInputError(ValueError):
    """An upload that cannot be used; the message says why, in words meant for the user."""


def read_image(source: str | Path | bytes) -> tuple[Image.Image, list[str]]:
    """Open and fully decode an upload. Returns the image (mode L, RGB or F) and notes on conversions."""
    data = source if isinstance(source, bytes) else _read_bytes(Path(source))
    if not data:
        raise ImageInputError("the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_pixels(image.size)
            frames = getattr(image, "n_frames", 1)
            notes = [f"animated {image.format}: used the first of its {frames} frames"] if frames > 1 else []
            image.seek(0)
            image.load()
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageInputError(
            f"the image is over the {MAX_PIXELS / 1e6:.0f}-megapixel limit (a decompression bomb?)"
        ) from err
    except UnidentifiedImageError as err:
        raise ImageInputError("not a readable image: the file is not PNG, JPEG, WebP, GIF, BMP or TIFF") from err
    except Exception as err:  # PIL's decoders raise many types (struct.error, IndexError...) on damaged files
        raise ImageInputError(f"not a readable image: the file is corrupted or cut short ({err})") from err
    return _normalise_mode(image, notes)


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageInputError(f"the file is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
        return path.read_bytes()
    except OSError as err:
        raise ImageInputError(f"cannot read the upload: {err.strerror or err}") from err


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageInputError(
            f"the image is {width}×{height} = {width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:.0f} (a decompression bomb?)"
        )
    if width == 0 or height == 0:
        raise ImageInputError(f"the image has no pixels ({width}×{height})")


def _normalise_mode(image: Image.Image, notes: list[str]) -> tuple[Image.Image, list[str]]:
    """Bring every PIL mode to L, RGB or F (grey in [0, 1] for high bit depths)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        notes.append(f"{image.mode} image: scaled to [0, 1] from its {'16-bit' if top > 255 else '8-bit'} range")
        return Image.fromarray(np.clip(pixels / top, 0, 1).astype(np.float32), mode="F"), notes
    if image.mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        notes.append("palette image: converted to full colour")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
        notes.append("transparency flattened onto white")
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("L", "RGB"):
        notes.append(f"{image.mode} image: converted to RGB")
        image = image.convert("RGB")
    return image, notes


def to_model_input(
    image: Image.Image, in_channels: int, img_size: int, *, dark_background: bool = False
) -> tuple[Tensor, list[str]]:
    """A decoded image (from read_image) -> [1, in_channels, img_size, img_size] in [0, 1], and notes.

    The image is resized to fit, then padded to a square with its own border colour (so
    nothing is cropped, and memory follows the model's size rather than the upload's). With
    `dark_background` (models trained on light strokes on black), an image whose border is
    light is inverted.
    """
    factor = max(image.size) // (4 * img_size)
    pixels, notes = _as_channels(image.reduce(factor) if factor > 1 else image, in_channels)
    x = torch.from_numpy(pixels).permute(2, 0, 1)
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=1).median(dim=1).values
    height, width = x.shape[1:]
    scale = img_size / max(height, width)
    fitted = [max(1, round(height * scale)), max(1, round(width * scale))]
    x = _pad_to_square(TF.resize(x.unsqueeze(0), fitted, antialias=True)[0], border, img_size)
    x = x.unsqueeze(0).clamp(0, 1)
    if dark_background and border.mean() > 0.5:
        x = 1 - x
        notes.append("dark-on-light image: inverted to match the model's light-on-dark training images")
    return x, notes


def _as_channels(image: Image.Image, in_channels: int) -> tuple[np.ndarray, list[str]]:
    """H×W×C float pixels in [0, 1], with C = in_channels."""
    if image.mode == "RGB":
        rgb = np.array(image, dtype=np.float32) / 255
        if in_channels != 1:
            return rgb, []
        coloured = np.ptp(rgb, axis=2).max() > 0
        notes = ["colour image: converted to greyscale for this one-channel model"] if coloured else []
        return np.array(image.convert("L"), dtype=np.float32)[:, :, None] / 255, notes
    grey = np.array(image, dtype=np.float32)
    grey = grey if image.mode == "F" else grey / 255
    if in_channels == 1:
        return grey[:, :, None], []
    notes = [f"greyscale image: copied to all {in_channels} channels of this colour model"]
    return np.repeat(grey[:, :, None], in_channels, axis=2), notes


def _pad_to_square(x: Tensor, fill: Tensor, side: int) -> Tensor:
    _, height, width = x.shape
    canvas = fill.view(-1, 1, 1).expand(-1, side, side).clone()
    top, left = (side - height) // 2, (side - width) // 2
    canvas[:, top : top + height, left : left + width] = x
    return canvas


# --- tensors to pictures ---------------------------------------------------------------------


def to_pil(images: Tensor, nrow: int | None = None, scale: int = 1, padding: int = 2) -> Image.Image:
    """A batch [B, C, H, W] (or one image [C, H, W]) in [0, 1] -> one PIL image, a grid if B > 1.

    `scale` enlarges by pixel repetition, so small images stay sharp on screen.
    """
    if images.dim() == 3:
        images = images.unsqueeze(0)
    images = images.detach().float().cpu().clamp(0, 1)
    if len(images) > 1:
        images = make_grid(images, nrow=nrow or math.ceil(math.sqrt(len(images))), padding=padding, pad_value=0.5)
        images = images.unsqueeze(0)
    picture = TF.to_pil_image(images[0])
    if scale > 1:
        picture = ImageOps.scale(picture, scale, resample=Image.Resampling.NEAREST)
    return picture


def label_rows(picture: Image.Image, labels: list[str], columns: list[str] = (), font_size: int = 14) -> Image.Image:
    """`picture` (a grid with one row per label) with each row's label in a margin on its left and,
    above it, a band with each column's heading (`columns`, one per column, may be empty)."""
    font = ImageFont.load_default(size=font_size)
    probe = ImageDraw.Draw(picture)
    margin = int(12 + max((probe.textlength(label, font=font) for label in labels), default=0))
    band = 2 * font_size + 8  # room for the page's own label badge over the top-left corner, and the headings
    canvas = Image.new("RGB", (picture.width + margin, picture.height + band), "white")
    canvas.paste(picture.convert("RGB"), (margin, band))
    draw = ImageDraw.Draw(canvas)
    pitch = picture.height / max(1, len(labels))
    for row, label in enumerate(labels):
        draw.text((6, band + (row + 0.5) * pitch), label, fill="black", font=font, anchor="lm")
    width = picture.width / max(1, len(columns))
    for column, heading in enumerate(columns):
        draw.text((margin + (column + 0.5) * width, band - 4), heading, fill="black", font=font, anchor="md")
    return canvas
