"""Animated GIFs of decoded sequences (traversals, interpolations, arithmetic sweeps).

Frames are image batches [T, C, H, W] in [0, 1]; each becomes one GIF frame, enlarged by pixel
repetition so small images stay sharp. Pillow writes the file: no system install is needed.
"""

from __future__ import annotations

import io

from PIL import Image
from torch import Tensor

from .images import to_pil

MAX_FRAMES = 512


def frames_to_pictures(frames: Tensor, scale: int = 1) -> list[Image.Image]:
    """One greyscale or RGB picture per frame, each `scale` times larger."""
    if frames.dim() != 4 or not 1 <= len(frames) <= MAX_FRAMES:
        raise ValueError(f"an animation needs 1 to {MAX_FRAMES} frames [T, C, H, W], got {tuple(frames.shape)}")
    return [to_pil(frame, scale=scale) for frame in frames]


def gif_bytes(frames: Tensor, *, scale: int = 1, frame_ms: int = 120, bounce: bool = True) -> bytes:
    """An endlessly looping GIF of the frames; with `bounce` it plays forward, then back."""
    pictures = frames_to_pictures(frames, scale)
    if bounce and len(pictures) > 2:
        pictures = pictures + pictures[-2:0:-1]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0, optimize=False
    )
    return buffer.getvalue()
