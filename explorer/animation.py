"""Animated GIFs of decoded sequences (traversals, interpolations, arithmetic sweeps).

Frames are image batches [T, C, H, W] in [0, 1]; each becomes one GIF frame, enlarged by pixel
repetition so small images stay sharp. Under each frame a thin bar fills from left to right, so
a viewer sees where in the sweep the frame lies; it also keeps every frame distinct, which GIF
writers need to keep a run of identical frames (an inactive latent's traversal) as many frames.
Pillow writes the file: no system install is needed.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from torch import Tensor

from vae_models.images import to_pil

MAX_FRAMES = 512
PROGRESS_BAR_PX = 3


def frames_to_pictures(frames: Tensor, scale: int = 1) -> list[Image.Image]:
    """One RGB picture per frame, `scale` times larger, with the progress bar beneath it."""
    if frames.dim() != 4 or not 1 <= len(frames) <= MAX_FRAMES:
        raise ValueError(f"an animation needs 1 to {MAX_FRAMES} frames [T, C, H, W], got {tuple(frames.shape)}")
    return [_with_progress(to_pil(frame, scale=scale), index, len(frames)) for index, frame in enumerate(frames)]


def _with_progress(picture: Image.Image, index: int, count: int) -> Image.Image:
    canvas = Image.new("RGB", (picture.width, picture.height + PROGRESS_BAR_PX), "black")
    canvas.paste(picture.convert("RGB"), (0, 0))
    filled = round(picture.width * (index + 1) / count)
    ImageDraw.Draw(canvas).rectangle([0, picture.height, filled - 1, canvas.height - 1], fill=(230, 120, 30))
    return canvas


def gif_bytes(frames: Tensor, *, scale: int = 1, frame_ms: int = 120, bounce: bool = False) -> bytes:
    """An endlessly looping GIF, one frame per image; with `bounce` it plays forward, then back."""
    pictures = frames_to_pictures(frames, scale)
    if bounce and len(pictures) > 2:
        pictures = pictures + pictures[-2:0:-1]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()
