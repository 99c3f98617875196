"""The drawing canvas of the Reconstruct tab: strokes drawn with a mouse, pen or finger (canvas.js),
checked and drawn in black on white paper, then read like a photo of ink on paper."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from vae_models import explore
from vae_models.images import ImageInputError, to_pil

from . import text
from .common import AUTO_CLASS, USER_ERRORS, class_labels, into_model, message_of
from .state import Explorer

MAX_DRAWN_POINTS = 20_000  # a minute of fast drawing sends a few thousand; more is not a drawing
CANVAS_SIDE = 256  # the page's drawing, in pixels a side (shown larger or smaller as the page is wide)
DRAWING_SIDES = (8, 1024)  # the sides a drawing sent to the server may have
MAX_PEN_WIDTH = 64  # pixels; the page's brush goes to 40
PREVIEW_WAIT_S = 2.0
CANVAS_JS = Path(__file__).with_name("canvas.js").read_text()
CANVAS_CSS = """
.sketch-tools { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; }
.sketch-tools button { padding: 4px 12px; border: 1px solid var(--border-color-primary); border-radius: 6px; }
.sketch-canvas { width: min(100%, 320px); aspect-ratio: 1; border: 1px solid var(--border-color-primary);
  touch-action: none; cursor: crosshair; display: block; }
.sketch-hint { font-size: 13px; color: var(--body-text-color-subdued); }
.sketch { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.sketch-preview { max-width: 360px; padding-top: 40px; }
.canvas-preview { display: flex; gap: 12px; }
.sketch-preview figure { margin: 0; text-align: center; font-size: 13px; }
.sketch-preview img { width: 160px; height: 160px; image-rendering: pixelated; background: #000; }
"""
Strokes = list[tuple[float, list[tuple[float, float]]]]  # (width, points) per stroke, in pixels


class Reading(NamedTuple):
    """An image as the Reconstruct tab shows it: the model's view, how it was read, the
    reconstruction, and for a conditional model on "auto" the class it read in words."""

    view: torch.Tensor
    notes: list[str]
    reconstruction: torch.Tensor
    class_read: list[str]


def reconstructed(model: Any, info: Any, x: torch.Tensor, notes: list[str], class_choice: str = AUTO_CLASS) -> Reading:
    """The model's view `x` reconstructed; for a conditional model on "auto" under the class it
    reads by its own likelihood ("read as a 7, p = 0.93")."""
    labels = class_labels(model, info, class_choice, fallback=None)
    if not model.is_conditional or labels is not None:
        return Reading(x, notes, explore.reconstruct(model, x, labels), [])
    label, probability = explore.read_class(model, x)
    class_read = [text.class_reading(info.class_names, label, probability)]
    return Reading(x, notes, explore.reconstruct(model, x, label), class_read)


def drawing_on_paper(drawing: Any) -> Image.Image | None:
    """The canvas's value ({"side": pixels, "strokes": [{"width": pixels, "points": [[x, y], ...]}]},
    canvas.js) drawn in black on white paper, with round ends and joins as the page drew it; None
    when nothing is drawn. A value that is not such a drawing is refused, naming what is wrong, before
    any work its size would cost: a caller of the page's endpoints can send anything."""
    side, strokes = checked_drawing(drawing)
    return drawn(side, strokes) if strokes else None


def drawn(side: int, strokes: Strokes) -> Image.Image:
    paper = Image.new("L", (side, side), 255)
    pen = ImageDraw.Draw(paper)
    for width, points in strokes:
        radius = width / 2
        pen.line(points, fill=0, width=round(width), joint="curve")
        for x, y in (points[0], points[-1]):
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return paper


def checked_drawing(drawing: Any) -> tuple[int, Strokes]:
    """The side and the strokes (width, points) of a drawing, checked; no strokes for an empty one."""
    if not drawing:
        return 0, []
    shape = "a drawing is {'side': pixels, 'strokes': [{'width': pixels, 'points': [[x, y], ...]}, ...]}"
    if not isinstance(drawing, dict) or not isinstance(drawing.get("strokes", []), list):
        raise ImageInputError(f"the drawing is not a list of strokes: {shape}")
    raw = drawing.get("strokes", [])
    try:
        too_many = len(raw) + sum(len(stroke["points"]) for stroke in raw) > MAX_DRAWN_POINTS
        side = int(drawing["side"])
        strokes = [] if too_many else [(float(s["width"]), [(float(x), float(y)) for x, y in s["points"]]) for s in raw]
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise ImageInputError(f"the drawing is not a list of strokes with a width and [x, y] points: {shape}") from err
    if too_many:
        raise ImageInputError("the drawing has too many strokes to read: Clear the canvas and draw again")
    if not DRAWING_SIDES[0] <= side <= DRAWING_SIDES[1]:
        raise ImageInputError(f"the drawing's side must be {DRAWING_SIDES[0]} to {DRAWING_SIDES[1]} pixels, not {side}")
    for width, points in strokes:
        if not points or not 0 < width <= MAX_PEN_WIDTH or not np.isfinite(points).all():
            raise ImageInputError(
                f"each stroke needs points and a width of up to {MAX_PEN_WIDTH} pixels, all of them numbers"
            )
    return side, strokes


def drawing_reading(explorer: Explorer, name: str, drawing: Any, class_choice: str, as_is: bool) -> Reading | None:
    """The drawing read and reconstructed by the model, or None for an empty canvas; a stroke's
    preview and its queued event share one reading (readings are deterministic: the class reading
    is seeded)."""
    model, info = explorer.resolve(name)
    side, strokes = checked_drawing(drawing)
    if not strokes:
        return None
    key = (name, id(model), side, tuple((width, tuple(points)) for width, points in strokes), class_choice, as_is)

    def read() -> Reading:
        return reconstructed(model, info, *into_model(model, info, drawn(side, strokes), as_is), class_choice)

    return explorer.readings.get(key, read)


def inline_png(image: torch.Tensor) -> str:
    buffer = io.BytesIO()
    to_pil(image).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def preview_drawing(explorer: Explorer, asked: Any) -> dict[str, str]:
    """The canvas's own call when a stroke ends (canvas.js, through gr.HTML's server functions: one
    small request outside the queue, so it keeps up with the pen), with {"model", "drawing",
    "class_choice", "as_is"}: {"html": the model's view of the drawing and its reconstruction, inline,
    for beside the canvas}, or the reason it cannot be read. The queued event that follows the stroke
    updates the tab's panels, the upload and the map, from the same reading.

    These calls bypass the queue, so at most PREVIEW_SLOTS read at once; a stroke that finds no free
    slot in PREVIEW_WAIT_S is left to the queued event."""
    if not isinstance(asked, dict) or not isinstance(asked.get("model"), str):
        return {"html": text.canvas_problem("the canvas asked without a model's name")}
    if not explorer.preview_slots.acquire(timeout=PREVIEW_WAIT_S):
        return {"html": text.CANVAS_BUSY}
    try:
        choice = asked.get("class_choice") or AUTO_CLASS
        with torch.inference_mode():
            reading = drawing_reading(explorer, asked["model"], asked.get("drawing"), choice, bool(asked.get("as_is")))
        if reading is None:
            return {"html": text.EMPTY_CANVAS}
        class_read = " ".join(reading.class_read)
        return {"html": text.canvas_preview(inline_png(reading.view), inline_png(reading.reconstruction), class_read)}
    except USER_ERRORS as err:  # not logged for the session: this is no queued event of the page
        return {"html": text.canvas_problem(message_of(err))}
    finally:
        explorer.preview_slots.release()


def canvas(explorer: Explorer) -> gr.HTML:
    """A canvas to draw on with a mouse, pen or finger, with a brush size, Undo and Clear, and beside
    it the model's view and reconstruction of the drawing (canvas.js). Its value is the strokes."""

    def preview_drawing_call(asked: Any) -> dict[str, str]:  # a plain function: gradio lets the page call it
        return preview_drawing(explorer, asked)

    preview_drawing_call.__name__ = "preview_drawing"  # the name canvas.js calls
    return gr.HTML(
        value={"side": CANVAS_SIDE, "strokes": []},
        html_template=f"""
        <div class="sketch">
          <div>
            <div class="sketch-tools">
              <label>Brush size <input class="sketch-size" type="range" min="4" max="40" value="14"></label>
              <button type="button" class="sketch-undo">Undo</button>
              <button type="button" class="sketch-clear">Clear</button>
            </div>
            <canvas class="sketch-canvas" width="{CANVAS_SIDE}" height="{CANVAS_SIDE}"
              aria-label="Drawing canvas"></canvas>
            <p class="sketch-hint">Draw a digit or a shape in dark ink; it is read like a photo of ink on paper.</p>
          </div>
          <div class="sketch-preview" aria-live="polite">{text.EMPTY_CANVAS}</div>
        </div>
        """,
        css_template=CANVAS_CSS,
        js_on_load=CANVAS_JS,
        server_functions=[preview_drawing_call],
        elem_id="canvas",
    )
