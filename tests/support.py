"""What the explorer's test modules share besides fixtures (those are in conftest.py): the
shipped checkpoints they use, and made-up image files and the checks on what is said about them.

Only cvae-digits and vanilla_vae-digits are assumed to exist in checkpoints/; nothing depends on
their metric values, since they are retrained from time to time.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = REPO_ROOT / "checkpoints"
CVAE, VANILLA = "cvae-digits", "vanilla_vae-digits"
NAMES = [CVAE, VANILLA]


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise_rgb(width: int = 24, height: int = 20, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def dark_on_light(size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A black bar on white, as a user would draw a digit."""
    image = Image.new("L", size, 255)
    image.paste(0, (size[0] // 2 - 3, 4, size[0] // 2 + 3, size[1] - 4))
    return image


# What a message must say, by problem: any one of the phrases (the wording is the library's to polish).
NOT_AN_IMAGE = ("not a readable image", "not an image", "not png")


def says(message: str, phrases: tuple[str, ...]) -> bool:
    return any(phrase in message.lower() for phrase in phrases)


def noted(notes: list[str], *words: str) -> bool:
    """Some note mentions all of `words` (case-insensitive)."""
    return any(all(word.lower() in note.lower() for word in words) for note in notes)
