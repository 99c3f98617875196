"""Driving the real page in headless Chromium, for the canvas benchmark and the page tests.

Playwright drives Debian's `chromium` (or the CHROMIUM environment variable's binary); it never
downloads a browser of its own.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

Point = tuple[float, float]


def chromium_path() -> str | None:
    """The Chromium binary to drive: $CHROMIUM, else /usr/bin/chromium, else `chromium` on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def draw_strokes(page: Any, canvas: Any, strokes: Sequence[Sequence[Point]], steps: int = 8) -> None:
    """Draw `strokes` with the mouse on the Reconstruct tab's canvas (`canvas`, a locator of the
    <canvas> element), the points given as fractions of its side, (0, 0) its top left. The canvas is
    scrolled into view first: the mouse reaches only what the viewport shows."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=steps)
        page.mouse.up()


def picture(page: Any, src: str) -> Image.Image:
    """The image a page element shows, fetched as the browser fetched it, in grey levels."""
    response = page.request.get(src)
    if not response.ok:
        raise RuntimeError(f"the page's image {src} did not load: HTTP {response.status}")
    return Image.open(io.BytesIO(response.body())).convert("L")
