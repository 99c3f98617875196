"""The page's callbacks, over a catalog of models: parse the page's values, ask vae_models, present.

`Explorer` holds one method per page event. Each resolves its model once (`Explorer.resolve`:
the loaded model and its `ModelInfo`) and hands both to the small helpers below, grouped by
tab. Per-model facts (class names, slider order, colour choices) come from `ModelInfo`; class
labels come from `class_labels`, the one place that turns the page's class choice into labels.

Expected failures (a bad upload, a wrong class) become a gr.Error that names the problem; the
page also keeps the message next to the control that caused it (`last_error`). Conversions made
to an upload are returned as notes, which the page lists under the model's view of the image.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import io
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import torch
from gradio.context import LocalContext
from PIL import Image, ImageDraw

import page_text
from examples import Example
from vae_models import BaseVAE, ModelLoadError, explore, figures
from vae_models.animation import gif_bytes
from vae_models.cartography import (
    Direction,
    MapInverse,
    class_direction,
    direction_sweep,
    factor_directions,
    manifold_codes,
    palette_codes,
)
from vae_models.catalog import Catalog, ModelInfo
from vae_models.data import DatasetUnavailableError, dsprites_factor_values, load_dataset, read_into_domain
from vae_models.data.dsprites import DSPRITES_FACTOR_MOVES
from vae_models.data.reading import LIGHT_ON_DARK_DATASETS
from vae_models.disentanglement import HEADLINE_METRICS, METRIC_TITLES, disagreements, scoreboard_rows
from vae_models.images import ImageInputError, label_rows, read_image, to_model_input, to_pil
from vae_models.latent import pca_projection, subsample, traversal_codes, tsne_projection_in_steps

MAX_SLIDERS = 16
SLIDER_SPAN = 3.0
AUTO_CLASS = "auto (best fit)"
MAP_METHODS = ("PCA", "PCA 3-D", "t-SNE")
MAP_KEYS = {"PCA": "pca2", "PCA 3-D": "pca3", "t-SNE": "tsne"}  # each method's entry in the latent cache
# A fresh t-SNE of all 10,000 dSprites test codes ran far past what a visitor waits for; the page's
# recompute takes a seeded subsample of 2,000 and half of openTSNE's 500 final iterations (README: its time).
TSNE_MAX_POINTS, TSNE_PAGE_ITERATIONS = 2_000, 250
ENCODE_BATCH = 256
MAX_MANIFOLD_STEPS = 24
USER_ERRORS = (ImageInputError, ValueError, KeyError, ModelLoadError, DatasetUnavailableError)
DEFAULT_DATASET = "digits"  # the page opens on this dataset's best model (lowest sample FD)

ClassChoice = str | int | float | None  # a class name, an index, AUTO_CLASS, or nothing


class ErrorLog:
    """The last error of each browser session, so the page can keep it beside the control that
    caused it after the toast is gone (a `.failure` listener reads it). Bounded: old sessions fall out."""

    def __init__(self, size: int = 1000) -> None:
        self._messages: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def record(self, message: str) -> None:
        request = LocalContext.request.get(None)  # set by gradio for the event being processed
        if request is None or not getattr(request, "session_hash", None):
            return  # an API call outside a page: nothing to show it beside
        with self._lock:
            self._messages[request.session_hash] = message
            self._messages.move_to_end(request.session_hash)
            while len(self._messages) > self._size:
                self._messages.popitem(last=False)

    def take(self, session: str | None) -> str:
        with self._lock:
            return self._messages.pop(session, "") if session else ""


ERRORS = ErrorLog()


def user_errors(fn: Callable) -> Callable:
    """Expected failures become a gr.Error with their message (no traceback reaches the page)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with torch.inference_mode():
                return fn(*args, **kwargs)
        except USER_ERRORS as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            ERRORS.record(message)
            raise gr.Error(message, print_exception=False) from err

    return wrapper


def notes_text(notes: list[str]) -> str:
    """How an upload was read, each step once, as the one line under the model's view of it."""
    return " · ".join(dict.fromkeys(notes))


def display(images: torch.Tensor, nrow: int | None = None) -> Image.Image:
    """Enlarge small images by pixel repetition so they stay sharp on screen.

    Each picture carries a unique PNG text chunk: gradio 6.31 caches an output under the hash of
    its bytes and rewrites that one file for every identical result, so two visitors clicking the
    same example at once could read a half-written file (about 1 call in 40 failed)."""
    size = images.shape[-1]
    scale = max(1, (192 if len(images) == 1 else 64) // size)
    return unique(to_pil(images, nrow=nrow, scale=scale))


def unique(picture: Image.Image) -> Image.Image:
    picture.info["vae-explorer-output"] = uuid.uuid4().hex  # gradio copies text chunks into the PNG
    return picture


def default_model(catalog: Catalog) -> str | None:
    """The model the page opens on: the digits model whose samples are nearest the test images
    (lowest sample FD, the one figure every kind of model has); else the first model."""
    digits = [info for info in catalog.infos.values() if info.dataset == DEFAULT_DATASET]
    scored = [info for info in digits if "sample_frechet_distance" in info.metrics]
    if scored:
        return min(scored, key=lambda info: info.metrics["sample_frechet_distance"]).name
    return catalog.names[0] if catalog.names else None


# --- class labels ---------------------------------------------------------------------------------


def class_labels(
    model: BaseVAE, info: ModelInfo, choice: ClassChoice, image: torch.Tensor | None = None, fallback: int | None = 0
) -> int | None:
    """The labels to run `model` with for the page's class choice: None for an unconditional model,
    which needs none; for a conditional one the chosen class (a name or an index), else (for "auto"
    or no choice) the class that explains `image` best, else `fallback`: class 0, unless the caller
    has a better one (the traversal start's label) or wants None to mean "no class chosen"."""
    if not model.is_conditional:
        return None
    index = class_index(info.class_names, choice)
    if index is not None:
        return index
    return explore.read_class(model, image)[0] if image is not None else fallback


def class_index(names: list[str], choice: ClassChoice) -> int | None:
    """A class name (or index, as text or number) -> its index; None for "auto" or no choice."""
    if choice in (None, "", AUTO_CLASS):
        return None
    text = str(int(choice)) if isinstance(choice, float) and choice.is_integer() else str(choice)
    if text in names:
        index = names.index(text)
    elif text.lstrip("-").isdigit():
        index = int(text)
    else:
        raise ValueError(f"unknown class {choice!r}; this model's classes are {names}")
    if not 0 <= index < len(names):
        raise ValueError(f"class index {index} is out of range; this model has {len(names)} classes")
    return index


def require_conditional(model: BaseVAE, info: ModelInfo) -> None:
    if not model.is_conditional:
        raise ValueError(f"{info.name} is a {info.model_type}, not a conditional VAE; pick a cvae")


# --- uploads and codes ------------------------------------------------------------------------------


def load_upload(
    model: BaseVAE, info: ModelInfo, path: str | None, as_is: bool = False
) -> tuple[torch.Tensor, list[str]]:
    """An uploaded file -> the model's input tensor [1, C, S, S] (`into_model`) and the steps taken."""
    if not path:
        raise ImageInputError("no image: upload one, or click an example")
    image, notes = read_image(path)
    x, steps = into_model(model, info, image, as_is)
    return x, notes + steps


def into_model(
    model: BaseVAE, info: ModelInfo, image: Image.Image, as_is: bool = False
) -> tuple[torch.Tensor, list[str]]:
    """An image read into the model's domain the way its data was made (`read_into_domain`; with
    `as_is` only fitted to the frame), and the steps taken. An image already in the model's frame
    (a test image, an example) is taken as it is, without a word."""
    if image.size == (model.img_size, model.img_size) and not as_is:
        dark_background = info.dataset in LIGHT_ON_DARK_DATASETS
        return to_model_input(image, model.in_channels, model.img_size, dark_background=dark_background)
    return read_into_domain(image, info.dataset, model.in_channels, model.img_size, as_is=as_is)


MAX_DRAWN_POINTS = 20_000  # a minute of fast drawing sends a few thousand; more is not a drawing
CANVAS_SIDE = 256  # the page's drawing, in pixels a side (shown larger or smaller as the page is wide)
DRAWING_SIDES = (8, 1024)  # the sides a drawing sent to the server may have
MAX_PEN_WIDTH = 64  # pixels; the page's brush goes to 40
# The canvas's previews bypass the queue; more at once than the Space's 2 cores only thrash.
PREVIEW_SLOTS = 2
PREVIEW_WAIT_S = 2.0
Strokes = list[tuple[float, list[tuple[float, float]]]]  # (width, points) per stroke, in pixels


def drawing_on_paper(drawing: Any) -> Image.Image | None:
    """The canvas's value ({"side": pixels, "strokes": [{"width": pixels, "points": [[x, y], ...]}]},
    canvas.js) drawn in black on white paper, with round ends and joins as the page drew it; None
    when nothing is drawn. A value that is not such a drawing is refused, naming what is wrong, before
    any work its size would cost: a caller of the page's endpoints can send anything."""
    side, strokes = _checked_drawing(drawing)
    return _drawn(side, strokes) if strokes else None


def _drawn(side: int, strokes: Strokes) -> Image.Image:
    paper = Image.new("L", (side, side), 255)
    pen = ImageDraw.Draw(paper)
    for width, points in strokes:
        radius = width / 2
        pen.line(points, fill=0, width=round(width), joint="curve")
        for x, y in (points[0], points[-1]):
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return paper


def _checked_drawing(drawing: Any) -> tuple[int, Strokes]:
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


class Reading(NamedTuple):
    """An image as the Reconstruct tab shows it: the model's view, how it was read, the
    reconstruction, and for a conditional model on "auto" the class it read in words."""

    view: torch.Tensor
    notes: list[str]
    reconstruction: torch.Tensor
    class_read: list[str]


def reconstructed(
    model: BaseVAE, info: ModelInfo, x: torch.Tensor, notes: list[str], class_choice: str = AUTO_CLASS
) -> Reading:
    """The model's view `x` reconstructed; for a conditional model on "auto" under the class it
    reads by its own likelihood ("read as a 7, p = 0.93")."""
    labels = class_labels(model, info, class_choice, fallback=None)
    if not model.is_conditional or labels is not None:
        return Reading(x, notes, explore.reconstruct(model, x, labels), [])
    label, probability = explore.read_class(model, x)
    class_read = [page_text.class_reading(info.class_names, label, probability)]
    return Reading(x, notes, explore.reconstruct(model, x, label), class_read)


class RecentReadings:
    """The last few drawings read, by model, drawing, class and reading. The preview beside the
    canvas reads each stroke, and the queued event that follows it finds the reading here rather than
    running the model again. Readings are deterministic (the class reading is seeded), so a drawing
    reads the same either way."""

    def __init__(self, kept: int = 16) -> None:
        self.kept = kept
        self._readings: collections.OrderedDict[tuple, Reading] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, read: Callable[[], Reading]) -> Reading:
        with self._lock:
            if key in self._readings:
                self._readings.move_to_end(key)
                return self._readings[key]
        reading = read()
        with self._lock:
            self._readings[key] = reading
            while len(self._readings) > self.kept:
                self._readings.popitem(last=False)
        return reading

    def forget(self, name: str) -> None:
        """Drop the readings by the model called `name` (a deleted run, whose name may be used again)."""
        with self._lock:
            for key in [key for key in self._readings if key[0] == name]:
                del self._readings[key]


def drawing_preview(reading: Reading) -> str:
    """The model's view of a drawing and its reconstruction, beside the canvas, as inline PNGs: they
    arrive with the answer, with no file to fetch, so they follow the pen closely."""

    def inline(image: torch.Tensor) -> str:
        buffer = io.BytesIO()
        to_pil(image).save(buffer, "PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

    return page_text.canvas_preview(inline(reading.view), inline(reading.reconstruction), " ".join(reading.class_read))


def shown(reading: Reading) -> tuple[Image.Image, Image.Image, str]:
    """The Reconstruct tab's panels: the model's view, the reconstruction, and the line beneath."""
    return display(reading.view), display(reading.reconstruction), notes_text([*reading.notes, *reading.class_read])


def encode_upload(
    model: BaseVAE, info: ModelInfo, path: str | None, choice: ClassChoice = AUTO_CLASS
) -> tuple[torch.Tensor, int | None, list[str]]:
    """An uploaded file -> its code [latent_dim], the labels it was encoded with, and its conversions."""
    x, notes = load_upload(model, info, path)
    labels = class_labels(model, info, choice, image=x)
    return explore.encode(model, x, labels)[0], labels, notes


def as_code(code: Any, latent_dim: int) -> torch.Tensor:
    """A latent code from the page or an API caller, checked: one flat list of `latent_dim` finite numbers."""
    try:
        tensor = torch.as_tensor(code, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"a latent code must be a list of numbers, got {code!r:.80}") from err
    if tensor.dim() != 1 or not torch.isfinite(tensor).all():
        raise ValueError(f"a latent code must be one flat list of finite numbers, got shape {tuple(tensor.shape)}")
    if len(tensor) != latent_dim:
        raise ValueError(f"this model has {latent_dim} latent dimensions; got a code of {len(tensor)}")
    return tensor


def start_point(info: ModelInfo, start: list[float] | None) -> torch.Tensor:
    """A traversal's start code; empty means the origin."""
    return as_code(start if start else [0.0] * info.latent_dim, info.latent_dim)


# --- Traverse: the sliders and the grid -----------------------------------------------------------


def slider_labels(info: ModelInfo) -> list[str]:
    """Every latent's label, in slider order (most informative first)."""
    return [info.latent_caption(dim) for dim in info.latent_order]


def latent_index(info: ModelInfo, latent: str | None) -> int:
    """A latent named as its slider is ("z3 · KL 1.20") or by its name alone ("z3") -> its index."""
    labels = slider_labels(info)
    names = [label.split(" · ")[0] for label in labels]
    if latent not in labels and latent not in names:
        raise ValueError(f"pick the latent to animate from {names} (or their slider labels)")
    return info.latent_order[labels.index(latent) if latent in labels else names.index(latent)]


def slider_updates(info: ModelInfo, start: list[float] | None = None) -> list[gr.Slider]:
    """One slider per latent (most informative first, up to MAX_SLIDERS), set to `start`."""
    code = start or [0.0] * info.latent_dim
    order, labels = info.latent_order, slider_labels(info)
    updates = [
        gr.Slider(label=labels[i], value=max(-SLIDER_SPAN, min(SLIDER_SPAN, code[order[i]])), visible=True)
        for i in range(min(MAX_SLIDERS, len(order)))
    ]
    return updates + [gr.Slider(visible=False)] * (MAX_SLIDERS - len(updates))


def slider_code(info: ModelInfo, code: list[float] | None, values: tuple[float, ...]) -> torch.Tensor:
    """`code` with the sliders' latents set to the sliders' values (latents past MAX_SLIDERS keep theirs)."""
    result = start_point(info, code).clone()
    order = info.latent_order[:MAX_SLIDERS]
    result[order] = torch.tensor(values[: len(order)], dtype=torch.float32)
    return result


def traversal_picture(
    model: BaseVAE, info: ModelInfo, code: torch.Tensor, steps: int, span: float, labels: int | None
) -> Image.Image:
    """One row per latent, each sweeping its latent over ±span around `code` (the middle column is
    `code` itself), labelled with the latent, its KL or variance, and the factor it moves."""
    codes = traversal_codes(code, info.latent_order, steps, span, around_start=True)
    grid = display(explore.decode(model, codes, labels), nrow=steps)
    offsets = [f"{v:+.1f}" if abs(v) > 1e-9 else "slider" for v in np.linspace(-span, span, steps)]
    return unique(label_rows(grid, slider_labels(info), offsets))


# --- Latent map -------------------------------------------------------------------------------------


def encode_test_set(model: BaseVAE, info: ModelInfo) -> dict[str, np.ndarray]:
    """The test set's codes, labels and (dSprites) factors: a latent cache without projections."""
    test = load_dataset(info.dataset, "test", download=False)
    images, labels = test.batch()
    batches = zip(images.split(ENCODE_BATCH), labels.split(ENCODE_BATCH), strict=True)
    codes = torch.cat([explore.encode(model, x, y) for x, y in batches])
    result = {"codes": codes.numpy(), "labels": labels.numpy()}
    return result | ({"factors": test.factors.numpy()} if test.factors is not None else {})


def projection(codes: np.ndarray, method: str, progress: Callable[[float], None] | None = None) -> dict:
    """`method`'s projection of the codes, under its latent-cache keys."""
    if method == "t-SNE":
        return {"tsne": tsne_projection_in_steps(codes, progress=progress, iterations=TSNE_PAGE_ITERATIONS)}
    dims = 3 if method == "PCA 3-D" else 2
    coords, explained, _ = pca_projection(codes, dims)
    return {f"pca{dims}": coords, f"pca{dims}_explained": explained}


def fresh_map(latents: dict, method: str, progress: Callable[[float], None]) -> tuple[dict, str]:
    """The codes projected afresh by `method`, and a sentence saying how. A t-SNE of more than
    TSNE_MAX_POINTS codes runs on a seeded random subsample of them, so it ends in seconds."""
    keep = subsample(len(latents["codes"]), TSNE_MAX_POINTS) if method == "t-SNE" else slice(None)
    per_point = {key: latents[key][keep] for key in ("codes", "labels", "factors") if key in latents}
    fresh = per_point | projection(per_point["codes"], method, progress)
    total, used = len(latents["codes"]), len(fresh["codes"])
    how = f"Recomputed {method} of {used:,} test codes"
    if method == "t-SNE":
        how += f" ({TSNE_PAGE_ITERATIONS} iterations after the exaggeration phase instead of openTSNE's 500"
        if used < total:
            how += f"; a random subsample of the {total:,}, seed 0"
        how += ", so it ends in seconds; the cached map, made by `train.evaluate`, has every code and full settings)"
    return fresh, how + "."


def map_figure(
    model: BaseVAE, info: ModelInfo, latents: dict, method: str, colour_by: str, path: str | None
) -> tuple[Any, str]:
    """The latent map of the cached (or recomputed) test codes, with the upload as a star, and its caption."""
    if method not in MAP_METHODS:
        raise ValueError(f"map method must be one of {MAP_METHODS}, got {method!r}")
    key = MAP_KEYS[method]
    coords, explained = latents[key], latents.get(f"{key}_explained")
    colour, categories = map_colours(info, latents, colour_by)
    highlight, notes = None, []
    if path:
        code, _, notes = encode_upload(model, info, path)
        highlight = place_code(latents, key, code.numpy())
    figure = figures.latent_map(
        coords,
        colour,
        colour_by,
        hover_texts(info.class_names, latents),
        categories=categories,
        explained=explained,
        highlight=highlight,
        title=f"{info.name}: {len(coords):,} test images, {method}",
    )
    text = f"{method} of {len(coords):,} test codes."
    if explained is not None:
        text += f" Explained variance: {', '.join(f'{v:.1%}' for v in explained)} (total {explained.sum():.1%})."
    return figure, "\n\n".join(filter(None, [text, notes_text(notes)]))


def map_colours(info: ModelInfo, latents: dict, colour_by: str) -> tuple[np.ndarray, list[str] | None]:
    """Each point's colour value, and the category names when the colours are categories."""
    if colour_by == "label":
        return latents["labels"], info.class_names
    if colour_by not in info.factor_names or "factors" not in latents:
        raise ValueError(f"cannot colour by {colour_by!r}; choose from {info.colour_choices}")
    column = latents["factors"][:, info.factor_names.index(colour_by)]
    return (column, info.class_names) if colour_by == "shape" else (column.astype(float), None)


def hover_texts(class_names: list[str], latents: dict) -> list[str]:
    labels = latents["labels"]
    if "factors" not in latents:
        return [f"test #{i} · {class_names[int(k)]}" for i, k in enumerate(labels)]
    values = dsprites_factor_values()
    factors = latents["factors"]
    return [
        f"test #{i} · {class_names[int(f[0])]} · scale {values['scale'][f[1]]:.1f} · "
        f"orientation {np.degrees(values['orientation'][f[2]]):.0f}° · "
        f"posX {values['posX'][f[3]]:.2f} · posY {values['posY'][f[4]]:.2f}"
        for i, f in enumerate(factors)
    ]


def place_code(latents: dict, key: str, code: np.ndarray) -> np.ndarray:
    """A new code's position on the map: PCA transforms it exactly; on the t-SNE map it sits at the
    mean position of its 10 nearest test codes (openTSNE's own initialisation for new points)."""
    codes = latents["codes"]
    if key.startswith("pca"):
        return pca_projection(codes, int(key[-1]))[2].transform(code[None])[0]
    nearest = np.argsort(((codes - code) ** 2).sum(1))[:10]
    return latents[key][nearest].mean(0)


# --- Model card -------------------------------------------------------------------------------------


def information_chart(info: ModelInfo) -> Any:
    """Each latent's information (KL, or code variance for the WAE), inactive ones greyed; None unevaluated."""
    if info.information_per_latent is None:
        return None
    values, axis_title = info.information_per_latent
    return figures.kl_bar_chart(values, [not inactive for inactive in info.inactive], axis_title)


def mutual_information_chart(info: ModelInfo) -> Any:
    """The latent × factor mutual information, for data with labelled factors (dSprites); else None."""
    if info.mutual_information is None:
        return None
    matrix, entropy = info.mutual_information
    return figures.mutual_information_heatmap(matrix, info.factor_names, entropy)


def scoreboard_table(infos: list[ModelInfo]) -> list[list[Any]]:
    """One row per model of the dataset: its recipe and "mean ± sd" per metric, or "not evaluated"."""
    boards = {info.name: info.scoreboard for info in infos if info.scoreboard}
    rows = {row[0]: row for row in scoreboard_rows(boards)}
    missing = ["not evaluated"] + ["–"] * (len(HEADLINE_METRICS) - 1)
    return [
        [info.name, page_text.recipe_name(info), *rows[info.name][1:]]
        if info.name in rows
        else [info.name, "–", *missing]
        for info in infos
    ]


SCOREBOARD_HEADERS = ["model", "recipe", *(METRIC_TITLES[key] for key in HEADLINE_METRICS)]


class TabCallbacks:
    """What every tab's callbacks share: the catalog, the examples, and the last error of a session."""

    def __init__(self, catalog: Catalog, examples: dict[str, list[Example]] | None = None) -> None:
        self.catalog = catalog
        self.examples = examples or {}
        self.map_inverses: dict[tuple, MapInverse] = {}  # made on first use: a PCA fit each
        self.direction_cache: dict[str, dict[str, Direction]] = {}
        self.drawn = RecentReadings()
        self.preview_slots = threading.BoundedSemaphore(PREVIEW_SLOTS)

    def forget(self, name: str) -> None:
        """Drop a model from the catalog and from what was worked out for it (a deleted run)."""
        self.catalog.remove(name)
        self.direction_cache.pop(name, None)
        self.drawn.forget(name)
        for key in [key for key in self.map_inverses if key[0] == name]:
            del self.map_inverses[key]

    def resolve(self, name: str) -> tuple[BaseVAE, ModelInfo]:
        """The model called `name`, loaded, and what is known about it."""
        info = self.catalog.info(name)
        return self.catalog.model(name), info

    def last_error(self, request: gr.Request) -> str:
        """The message of this session's last failed action, for the note beside its control."""
        message = ERRORS.take(getattr(request, "session_hash", None))
        return f"⚠️ **Error:** {message}" if message else ""  # an event cancelled by a newer one: nothing to say

    def _class_end(self, model: BaseVAE, info: ModelInfo, choice: str | None) -> tuple[torch.Tensor, int | None]:
        """A class as an end point: the zero code for the conditional VAE (its label says which class),
        else the class's mean test code."""
        if choice not in info.class_names:
            raise ValueError(f"pick a class from {info.class_names}")
        index = info.class_names.index(choice)
        if model.is_conditional:
            return torch.zeros(info.latent_dim), index
        latents = self.catalog.latents(info.name)
        if latents is None:
            raise ValueError(
                f"{info.name} has no latent cache, so class centres are unknown; interpolate images instead"
            )
        return torch.from_numpy(latents["codes"][latents["labels"] == index].mean(0)), None


class ImageTabs(TabCallbacks):
    """Reconstruct, Sample and Conditional: images in, images out."""

    # --- Reconstruct --------------------------------------------------------------------

    @user_errors
    def reconstruct(
        self, name: str, path: str | None, class_choice: str = AUTO_CLASS, as_is: bool = False
    ) -> tuple[Any, ...]:
        """The model's view of the upload, its reconstruction, and how it was read (with, for the
        conditional VAE on "auto", the class it read: "read as a 7, p = 0.93")."""
        model, info = self.resolve(name)
        return shown(reconstructed(model, info, *load_upload(model, info, path, as_is), class_choice))

    @user_errors
    def reconstruct_drawing(
        self, name: str, drawing: dict | None, class_choice: str = AUTO_CLASS, as_is: bool = False
    ) -> tuple[Any, ...]:
        """The canvas, read like an upload (a drawing is dark ink on white paper): as `reconstruct`."""
        reading = self._drawing_reading(name, drawing, class_choice, bool(as_is))
        if reading is None:  # cleared, or not drawn on yet: nothing to say but that
            return None, None, "_The canvas is empty: draw on it._"
        return shown(reading)

    def preview_drawing(self, asked: Any) -> dict[str, str]:
        """The canvas's own call when a stroke ends (canvas.js, through gr.HTML's server functions:
        one small request outside the queue, so it keeps up with the pen), with {"model", "drawing",
        "class_choice", "as_is"}: {"html": the model's view of the drawing and its reconstruction,
        inline, for beside the canvas}, or the reason it cannot be read. The queued event that
        follows the stroke updates the tab's panels, the upload and the map, from the same reading.

        These calls bypass the queue, so at most PREVIEW_SLOTS read at once; a stroke that finds
        no free slot in PREVIEW_WAIT_S is left to the queued event."""
        if not isinstance(asked, dict) or not isinstance(asked.get("model"), str):
            return {"html": page_text.canvas_problem("the canvas asked without a model's name")}
        if not self.preview_slots.acquire(timeout=PREVIEW_WAIT_S):
            return {"html": page_text.CANVAS_BUSY}
        try:
            choice = asked.get("class_choice") or AUTO_CLASS
            with torch.inference_mode():
                reading = self._drawing_reading(asked["model"], asked.get("drawing"), choice, bool(asked.get("as_is")))
            return {"html": page_text.EMPTY_CANVAS if reading is None else drawing_preview(reading)}
        except USER_ERRORS as err:  # not logged for the session: this is no queued event of the page
            return {"html": page_text.canvas_problem(err.args[0] if isinstance(err, KeyError) else str(err))}
        finally:
            self.preview_slots.release()

    def _drawing_reading(self, name: str, drawing: Any, class_choice: str, as_is: bool) -> Reading | None:
        """The drawing read and reconstructed by the model, or None for an empty canvas; a stroke's
        preview and its queued event share one reading (`RecentReadings`)."""
        model, info = self.resolve(name)
        side, strokes = _checked_drawing(drawing)
        if not strokes:
            return None
        key = (name, id(model), side, tuple((width, tuple(points)) for width, points in strokes), class_choice, as_is)

        def read() -> Reading:
            return reconstructed(model, info, *into_model(model, info, _drawn(side, strokes), as_is), class_choice)

        return self.drawn.get(key, read)

    def drawing_file(self, drawing: dict | None) -> str | None:
        """The drawing as a PNG on white paper, to stand as the upload: the other tabs (the map's star,
        Traverse, Interpolate, Compare) then use it like a photo. None for an empty canvas."""
        with contextlib.suppress(ImageInputError):
            paper = drawing_on_paper(drawing)
            if paper is not None:
                buffer = io.BytesIO()
                paper.save(buffer, "PNG")
                return output_file(buffer.getvalue(), ".png")
        return None

    @user_errors
    def compare(self, name: str, path: str | None, as_is: bool = False) -> tuple[list[tuple[Image.Image, str]], str]:
        """Every model of the same data reconstructs the upload; how it was read is noted once."""
        x, notes = load_upload(*self.resolve(name), path, as_is)
        results = [(display(x), "input")]
        for other in self.catalog.same_data(name):
            model, info = self.resolve(other)
            recon = explore.reconstruct(model, x, class_labels(model, info, AUTO_CLASS, image=x))
            results.append((display(recon), other))
        return results, notes_text(notes)

    def compare_if_open(self, name: str, path: str | None, as_is: bool, comparing: bool) -> tuple:
        """After a stroke on the canvas: Compare's gallery again, for the new drawing, while it is open.
        A drawing that cannot be read leaves the last comparison up, and the note says why (the
        reconstruction's own note and toast say it too)."""
        if not comparing or path is None:
            return gr.skip(), gr.skip()
        try:
            return self.compare(name, path, as_is)
        except gr.Error as err:
            return gr.skip(), f"_Not compared: {err.message}_"

    def example_gallery(self, name: str) -> list[tuple[str, str]]:
        """The thumbnails of the model's dataset, each captioned with its class."""
        return [(e.path, e.caption) for e in self.examples.get(self.catalog.info(name).dataset, [])]

    def example_path(self, name: str, index: int) -> str:
        examples = self.examples.get(self.catalog.info(name).dataset, [])
        if not 0 <= index < len(examples):
            raise ValueError(f"no example {index} for {name}")
        return examples[index].path

    @user_errors
    def reconstruct_example(self, name: str, class_choice: str, evt: gr.SelectData) -> tuple[Any, ...]:
        """A click on an example thumbnail: it becomes the upload and is reconstructed at once."""
        path = self.example_path(name, evt.index)
        return (path, *self.reconstruct(name, path, class_choice))

    @user_errors
    def refresh_reconstruct(self, name: str, path: str | None, shown: str | None) -> tuple:
        """After a model switch: the upload reconstructed by the new model, or, when the data changed
        (or nothing was uploaded yet), the new data's first example; Compare's gallery is cleared and
        hidden, and stops following the canvas."""
        dataset = self.catalog.info(name).dataset
        if not path or shown != dataset:
            path = self.example_path(name, 0) if self.examples.get(dataset) else None
        images = self.reconstruct(name, path, AUTO_CLASS) if path else (None, None, "")
        return (path, *images, None, "", gr.Column(visible=False), False, dataset)

    # --- Sample and Conditional ------------------------------------------------------------

    @user_errors
    def sample(self, name: str, count: int = 64, seed: int = 0, temperature: float = 1.0) -> Image.Image:
        model, _ = self.resolve(name)
        codes = explore.prior_codes(model, int(count), int(seed), float(temperature))
        each_class = torch.arange(len(codes)) % max(1, model.num_classes)  # an unconditional model ignores them
        return display(explore.decode(model, codes, each_class))

    @user_errors
    def generate(
        self, name: str, class_choice: str, count: int = 16, seed: int = 0, temperature: float = 1.0
    ) -> Image.Image:
        model, info = self.resolve(name)
        require_conditional(model, info)
        label = class_labels(model, info, class_choice, fallback=None)
        if label is None:
            raise ValueError("pick a class to generate (the Class control at the top of the page)")
        return display(explore.prior_samples(model, int(count), int(seed), float(temperature), label))

    @user_errors
    def class_style(self, name: str, styles: int = 8, seed: int = 0, temperature: float = 1.0) -> Image.Image:
        model, info = self.resolve(name)
        require_conditional(model, info)
        return display(explore.class_style_grid(model, int(styles), int(seed), float(temperature)), nrow=int(styles))

    def conditional_target(self, name: str) -> str | None:
        """The conditional model trained on the same data as `name` (itself if it is one), or None."""
        return next((n for n in self.catalog.same_data(name) if self.catalog.info(n).is_conditional), None)

    def conditional_panel(self, name: str) -> tuple[Any, ...]:
        """The Conditional tab for `name`: its controls and a fresh class × style grid for a conditional
        model; for another model, a word of why there is nothing here and a button to switch."""
        info, target = self.catalog.info(name), self.conditional_target(name)
        if info.is_conditional:
            grid = self.class_style(name, 8, 0, 1.0)
            return gr.Column(visible=True), gr.Markdown(visible=False), gr.Button(visible=False), grid
        why = f"**{name}** is a {info.model_type}: it is not conditioned on a class, so there is nothing to choose."
        why += f" The conditional VAE of this data is **{target}**." if target else " No conditional model here."
        button = gr.Button(f"Switch to {target}", visible=True) if target else gr.Button(visible=False)
        return gr.Column(visible=False), gr.Markdown(why, visible=True), button, None

    def switch_to_conditional(self, name: str) -> dict:
        return gr.update(value=self.conditional_target(name) or name)


class LatentTabs(TabCallbacks):
    """Traverse and the latent map: codes, sliders and projections."""

    # --- Traverse -----------------------------------------------------------------------

    @user_errors
    def decode(self, name: str, code: list[float], class_choice: str = AUTO_CLASS) -> Image.Image:
        """One latent vector -> one image (the /decode endpoint; the sliders use it)."""
        model, info = self.resolve(name)
        labels = class_labels(model, info, class_choice)
        return display(explore.decode(model, as_code(code, model.latent_dim), labels))

    @user_errors
    def decode_sliders(
        self, name: str, code: list[float], start_label: int | None, class_choice: str, *values: float
    ) -> tuple[Image.Image, list[float], str]:
        """A slider move: the image of the sliders' code, and that code (what the grid sweeps around)."""
        model, info = self.resolve(name)
        current = slider_code(info, code, values)
        labels = class_labels(model, info, class_choice, fallback=0 if start_label is None else start_label)
        return display(explore.decode(model, current, labels)), current.tolist(), page_text.code_text(current.tolist())

    @user_errors
    def traverse(
        self,
        name: str,
        code: list[float] | None = None,
        steps: int = 9,
        span: float = SLIDER_SPAN,
        class_choice: str = AUTO_CLASS,
        start_label: int | None = None,
    ) -> Image.Image:
        """The traversal grid around `code` (the page sends its sliders' code), rows labelled; on
        "auto" the conditional VAE keeps the class its start was read as (`start_label`)."""
        model, info = self.resolve(name)
        labels = class_labels(model, info, class_choice, fallback=0 if start_label is None else int(start_label))
        return traversal_picture(model, info, start_point(info, code), int(steps), float(span), labels)

    @user_errors
    def set_start(self, name: str, source: str, index: int, path: str | None, class_choice: str) -> list:
        """Move the traversal's start point: the code (and its one-line view), its label, the decoded
        image and the sliders."""
        model, info = self.resolve(name)
        code, label = self._start_code(model, info, source, index, path, class_choice)
        labels = class_labels(model, info, class_choice, fallback=label)
        image = display(explore.decode(model, start_point(info, code), labels))
        return [code, page_text.code_text(code), label, image, *slider_updates(info, code)]

    @user_errors
    def start_from_example(self, name: str, class_choice: str, evt: gr.SelectData) -> list:
        """A click on an example thumbnail on the Traverse tab: its code becomes the start point."""
        return self.set_start(name, "uploaded image", 0, self.example_path(name, evt.index), class_choice)

    @user_errors
    def reset_traverse(self, name: str, steps: int = 9, span: float = SLIDER_SPAN) -> list:
        """After a model switch (and on load): sliders at zero, the origin decoded at once, and the
        grid around it, so no panel keeps the previous model's pictures."""
        model, info = self.resolve(name)
        start = self.set_start(name, "zero", 0, None, AUTO_CLASS)
        grid = traversal_picture(model, info, start_point(info, None), int(steps), float(span), start[2])
        return [*start, grid, page_text.slider_note(info)]

    def _start_code(
        self, model: BaseVAE, info: ModelInfo, source: str, index: int, path: str | None, class_choice: str
    ) -> tuple[list[float], int | None]:
        """The traversal's start point: (code, label it was encoded with)."""
        if source == "test image":
            latents = self.catalog.latents(info.name)
            if latents is None:
                raise ValueError(f"{info.name} has no latent cache; start from zero or an uploaded image")
            if not 0 <= int(index) < len(latents["codes"]):
                raise ValueError(f"test image index must be in [0, {len(latents['codes']) - 1}]")
            label = class_labels(model, info, None, fallback=int(latents["labels"][int(index)]))
            return latents["codes"][int(index)].tolist(), label
        if source == "uploaded image":
            code, label, _ = encode_upload(model, info, path, class_choice)
            return code.tolist(), label
        return [0.0] * model.latent_dim, class_labels(model, info, None)

    # --- Latent map ---------------------------------------------------------------------

    @user_errors
    def recompute_map(
        self,
        name: str,
        method: str = "PCA",
        colour_by: str = "label",
        path: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - gradio's idiom
    ) -> tuple[Any, str]:
        progress(0.0, desc="encoding the test set")
        model, info = self.resolve(name)
        latents = dict(self.catalog.latents(name) or {}) or encode_test_set(model, info)
        progress(0.1, desc=f"projecting with {method}")
        fresh, how = fresh_map(latents, method, lambda done: progress(0.1 + 0.85 * done, desc=f"{method}"))
        progress(0.97, desc="drawing")
        if method in ("PCA", "t-SNE"):  # a click on this map decodes on its own points (seeded: the same for all)
            self.map_inverses[(name, method, "recomputed")] = map_inverse(fresh, method)
        figure, text = map_figure(model, info, fresh, method, colour_by, path)
        return figure, f"{how} {text}"

    @user_errors
    def latent_map(
        self, name: str, method: str = "PCA", colour_by: str = "label", path: str | None = None
    ) -> tuple[Any, str]:
        model, info = self.resolve(name)
        latents = self.catalog.latents(name)
        if latents is None:
            raise ValueError(f"{name} has no latent cache; press Recompute to encode the test set")
        return map_figure(model, info, latents, method, colour_by, path)

    def map_with_image(self, name: str, method: str, colour_by: str, path: str | None) -> tuple[Any, ...]:
        """A new upload or drawing on the cached map, as the red star; left as it is where there is no
        cached map or the image cannot be read (the Reconstruct tab already says why)."""
        try:
            return self.latent_map(name, method, colour_by, path)
        except gr.Error:
            return gr.skip(), gr.skip()

    def reset_map(self, name: str, method: str = "PCA") -> tuple[Any, ...]:
        """After a model switch (and on load): its colour choices and its cached map, coloured by
        label; without a cache, the old map is cleared with a word of why."""
        colours = gr.Dropdown(self.catalog.info(name).colour_choices, value="label")
        if self.catalog.latents(name) is None or method not in MAP_METHODS:
            return (
                colours,
                None,
                page_text.switched(name, "it has no latent cache, so there is no map yet: press **Recompute**."),
            )
        return colours, *self.latent_map(name, method, "label", None)


# --- Cartography: points on the map, the manifold, arithmetic, palettes and animations -------------

PLANE_BASES = ("data mean", "Traverse start")  # where a PCA map's off-plane components come from
BETWEEN_CLASSES = "between classes (From → To)"
WEAK_R_SQUARED = 0.1  # below this, a factor is hardly encoded linearly: its direction is close to aimless
PALETTE_CORNERS = ("top left", "top right", "bottom left", "bottom right")
OUTPUT_DIR = Path(tempfile.gettempdir()) / "vae-explorer-outputs"  # animations and drawings
OUTPUT_MAX_AGE_S = 3600


def map_inverse(latents: dict, method: str) -> MapInverse:
    """What turns a location on `method`'s map of these latents back into a code."""
    if method not in ("PCA", "t-SNE"):
        raise ValueError(f"a click decodes on the 2-D maps (PCA or t-SNE), not on {method!r}")
    key = MAP_KEYS[method]
    pca = pca_projection(latents["codes"], 2)[2] if key == "pca2" else None
    return MapInverse(latents[key], latents["codes"], pca)


def plane_base(inverse: MapInverse, base: str, start: list[float] | None, info: ModelInfo) -> np.ndarray:
    """The code whose off-plane components a PCA map's point takes: the data mean or the Traverse start."""
    if base not in PLANE_BASES:
        raise ValueError(f"the off-plane components come from one of {PLANE_BASES}, got {base!r}")
    if base == "Traverse start":
        return start_point(info, start).numpy().astype(np.float64)
    return inverse.pca.mean_ if inverse.pca is not None else inverse.codes.mean(0)


def model_directions(info: ModelInfo, latents: dict) -> dict[str, Direction]:
    """Each ordered factor's direction, learnt from the test codes: "move right (posX)"..."""
    if "factors" not in latents:
        return {}
    moves = {
        k: f"{DSPRITES_FACTOR_MOVES[n]} ({n})" for k, n in enumerate(info.factor_names) if n in DSPRITES_FACTOR_MOVES
    }
    return factor_directions(latents["codes"], latents["factors"], moves)


def output_file(data: bytes, suffix: str) -> str:
    """`data` written to a file of its own (gradio serves files), dropping those over an hour old."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    now = time.time()
    for old in OUTPUT_DIR.iterdir():
        with contextlib.suppress(OSError):  # another request may be removing it too
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                old.unlink()
    path = OUTPUT_DIR / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    return str(path)


def animation(frames: torch.Tensor) -> str:
    """A looping GIF, one frame per image, enlarged to about 128 px (a bar under each frame shows
    where in the sweep it lies)."""
    scale = max(1, 128 // frames.shape[-1])
    return output_file(gif_bytes(frames, scale=scale), ".gif")


class CartographyTabs(TabCallbacks):
    """Click-to-decode and the manifold (Latent map), arithmetic, palettes and animations."""

    # --- the map as an instrument -------------------------------------------------------

    @user_errors
    def decode_point(
        self,
        name: str,
        method: str = "PCA",
        x: float = 0.0,
        y: float = 0.0,
        base: str = "data mean",
        start: list[float] | None = None,
        class_choice: str = AUTO_CLASS,
        recomputed: bool = False,
    ) -> tuple[Image.Image, list[float], str, float, float]:
        """The map location (x, y) decoded: the image, its code, how it was found, and the point
        (moved inside the map if it lay outside); on the map Recompute drew, with `recomputed`."""
        model, info = self.resolve(name)
        inverse = self.map_inverse(name, method, recomputed)
        base_code = plane_base(inverse, base, start, info)
        code, point, notes = inverse.code_at((float(x), float(y)), base_code)
        labels = class_labels(model, info, class_choice)
        image = display(explore.decode(model, torch.from_numpy(code).float(), labels))
        if labels is not None:
            notes.append(f"decoded as class {info.class_names[labels]} (the Class control at the top picks another)")
        text = page_text.point_text(method, base, notes)
        return image, code.tolist(), text, float(point[0]), float(point[1])

    def map_inverse(self, name: str, method: str, recomputed: bool = False) -> MapInverse:
        """The inverse of the cached map, made once per model and method, or with `recomputed`, of the
        map Recompute drew last (the cached one if none was)."""
        if recomputed and (name, method, "recomputed") in self.map_inverses:
            return self.map_inverses[(name, method, "recomputed")]
        key = (name, method)
        if key not in self.map_inverses:
            latents = self.catalog.latents(name)
            if latents is None:
                raise ValueError(f"{name} has no latent cache, so its map has no points to decode from")
            self.map_inverses[key] = map_inverse(latents, method)
        return self.map_inverses[key]

    @user_errors
    def manifold(
        self,
        name: str,
        steps: int = 16,
        extent: float = 2.0,
        base: str = "data mean",
        start: list[float] | None = None,
        class_choice: str = AUTO_CLASS,
    ) -> Image.Image:
        """Kingma & Welling's manifold for any latent size: a steps × steps grid decoded over the PCA
        plane, ±extent standard deviations of the map's points along each axis, top row at the top."""
        model, info = self.resolve(name)
        if not 2 <= int(steps) <= MAX_MANIFOLD_STEPS or not 0 < float(extent) <= 5:
            raise ValueError(f"the manifold needs 2 to {MAX_MANIFOLD_STEPS} steps and an extent in (0, 5] sd")
        inverse = self.map_inverse(name, "PCA")
        half = float(extent) * inverse.coords.std(0)
        box = (-half[0], half[0], -half[1], half[1])
        codes = manifold_codes(inverse.pca, plane_base(inverse, base, start, info), box, int(steps))
        labels = class_labels(model, info, class_choice)
        return display(explore.decode(model, torch.from_numpy(codes).float(), labels), nrow=int(steps))

    @user_errors
    def start_from_point(self, name: str, code: list[float] | None, class_choice: str) -> list:
        """The decoded map point becomes the Traverse tab's start (its outputs, in that tab's order)."""
        model, info = self.resolve(name)
        if not code:
            raise ValueError("click a point on the map first: its code becomes the start")
        start = start_point(info, code)
        labels = class_labels(model, info, class_choice)
        image = display(explore.decode(model, start, labels))
        return [start.tolist(), page_text.code_text(start.tolist()), labels, image, *slider_updates(info, code)]

    # --- latent arithmetic --------------------------------------------------------------

    def directions(self, name: str) -> dict[str, Direction]:
        if name not in self.direction_cache:
            latents = self.catalog.latents(name)
            self.direction_cache[name] = model_directions(self.catalog.info(name), latents) if latents else {}
        return self.direction_cache[name]

    @user_errors
    def arithmetic(
        self,
        name: str,
        code: list[float] | None = None,
        direction: str = BETWEEN_CLASSES,
        class_from: str | None = None,
        class_to: str | None = None,
        strength: float = 1.0,
        steps: int = 8,
        class_choice: str = AUTO_CLASS,
    ) -> tuple[Image.Image, str, str]:
        """`code` pushed along a direction, from strength 0 to `strength` in `steps`: the row, a note
        (with the direction's R² when it comes from a factor) and the row as a GIF."""
        model, info = self.resolve(name)
        if not 2 <= int(steps) <= 32 or not abs(float(strength)) <= 5:
            raise ValueError("arithmetic takes 2 to 32 steps and a strength within ±5")
        start = start_point(info, code)
        if model.is_conditional and direction == BETWEEN_CLASSES:
            frames, note = self._relabel(model, info, start, class_from, class_to, int(steps))
        else:
            chosen = self._direction(info, direction, class_from, class_to)
            codes = direction_sweep(start, chosen, float(strength), int(steps))
            frames = explore.decode(model, codes, class_labels(model, info, class_choice))
            note = page_text.direction_note(chosen, float(strength), WEAK_R_SQUARED)
        return display(frames, nrow=int(steps)), note, animation(frames)

    def _relabel(
        self,
        model: BaseVAE,
        info: ModelInfo,
        code: torch.Tensor,
        class_from: str | None,
        class_to: str | None,
        steps: int,
    ) -> tuple[torch.Tensor, str]:
        """The conditional VAE keeps the class in its label, not its code: the same code (the style)
        decoded with a label blended from one class's one-hot vector to the other's."""
        source, target = (class_index(info.class_names, c) for c in (class_from, class_to))
        if source is None or target is None:
            raise ValueError(f"pick the From and To classes from {info.class_names}")
        ends = torch.eye(len(info.class_names))[[source, target]]
        labels = torch.lerp(ends[0], ends[1], torch.linspace(0, 1, steps)[:, None])
        frames = explore.decode(model, code.expand(steps, -1), labels)
        return frames, page_text.relabel_note(info.class_names[source], info.class_names[target])

    def _direction(self, info: ModelInfo, direction: str, class_from: str | None, class_to: str | None) -> Direction:
        if direction != BETWEEN_CLASSES:
            known = self.directions(info.name)
            if direction not in known:
                raise ValueError(
                    f"{info.name} has no direction {direction!r}; choose from {self.direction_names(info.name)}"
                )
            return known[direction]
        latents = self.catalog.latents(info.name)
        if latents is None:
            raise ValueError(f"{info.name} has no latent cache, so its class means are unknown")
        source, target = (class_index(info.class_names, c) for c in (class_from, class_to))
        if source is None or target is None:
            raise ValueError(f"pick the From and To classes from {info.class_names}")
        name = f"{info.class_names[source]} → {info.class_names[target]}"
        return class_direction(latents["codes"], latents["labels"], source, target, name)

    def direction_names(self, name: str) -> list[str]:
        return [*self.directions(name), BETWEEN_CLASSES]

    def reset_arithmetic(self, name: str) -> tuple[Any, ...]:
        """After a model switch: its directions, its classes (From and To differ), how linearly each
        factor is encoded, and its first direction applied to the origin, so no row is stale."""
        info = self.catalog.info(name)
        names, classes = self.direction_names(name), info.class_names
        pair = classes[0], classes[min(1, len(classes) - 1)]
        try:
            row, note, gif = self.arithmetic(name, [], names[0], *pair)
        except gr.Error as err:  # no latent cache: no directions to learn (the note says so)
            row, note, gif = None, page_text.switched(name, err.message), None
        return (
            gr.Dropdown(names, value=names[0]),
            gr.Dropdown(classes, value=pair[0]),
            gr.Dropdown(classes, value=pair[1]),
            page_text.linearity_text(self.directions(name), WEAK_R_SQUARED),
            row,
            gr.Image(value=gif, visible=gif is not None),
            note,
        )

    # --- palettes -----------------------------------------------------------------------

    @user_errors
    def palette(
        self,
        name: str,
        source: str = "classes",
        steps: int = 7,
        mode: str = "linear",
        *corners: str | None,
    ) -> tuple[Image.Image, str]:
        """An steps × steps grid blending four corners in latent space. `corners` are the four classes
        (top left, top right, bottom left, bottom right), then the four image paths; `source` says
        which four are used."""
        model, info = self.resolve(name)
        if len(corners) not in (4, 8):
            raise ValueError(f"a palette takes four classes and four images ({', '.join(PALETTE_CORNERS)})")
        if not 2 <= int(steps) <= 16:
            raise ValueError("a palette takes 2 to 16 steps per side")
        chosen = list(corners[:4] if source == "classes" else corners[4:8])
        codes, labels, notes = self._corner_codes(model, info, source, chosen)
        grid = palette_codes(torch.stack(codes), int(steps), mode)
        # The conditional VAE's corners also differ in their labels: those blend bilinearly too.
        blended = palette_codes(torch.eye(len(info.class_names))[labels], int(steps)) if model.is_conditional else None
        return display(explore.decode(model, grid, blended), nrow=int(steps)), notes_text(notes)

    def reset_palette(self, name: str) -> tuple[Any, ...]:
        """After a model switch: four different classes at the corners (as far as there are) and their
        palette, so no grid is stale."""
        names = self.catalog.info(name).class_names
        corners = [names[i % len(names)] for i in range(4)]
        try:
            grid, notes = self.palette(name, "classes", 7, "linear", *corners)
        except gr.Error as err:  # no latent cache: class centres are unknown (the note says so)
            grid, notes = None, page_text.switched(name, err.message)
        return (*[gr.Dropdown(names, value=corner) for corner in corners], grid, notes)

    def _corner_codes(
        self, model: BaseVAE, info: ModelInfo, source: str, corners: list[str | None]
    ) -> tuple[list[torch.Tensor], list[int | None], list[str]]:
        if source not in ("images", "classes"):
            raise ValueError(f"palette corners are 'images' or 'classes', got {source!r}")
        empty = [where for where, corner in zip(PALETTE_CORNERS, corners, strict=True) if not corner]
        if empty:
            raise ValueError(
                f"the {' and '.join(empty)} corner{'s are' if len(empty) > 1 else ' is'} empty: "
                f"give all four corners {'an image' if source == 'images' else 'a class'}"
            )
        if source == "classes":
            ends = [self._class_end(model, info, corner) for corner in corners]
            return [e[0] for e in ends], [e[1] for e in ends], []
        encoded = [encode_upload(model, info, corner) for corner in corners]
        return [e[0] for e in encoded], [e[1] for e in encoded], [n for e in encoded for n in e[2]]

    def reset_point(self, name: str) -> tuple[Any, ...]:
        """After a model switch: the map's origin decoded (the mean code), and no manifold of the
        previous model."""
        hidden = gr.Image(value=None, visible=False)
        if self.catalog.latents(name) is None:
            note = page_text.switched(name, "it has no latent cache, so there is no map to click.")
            return None, None, note, 0.0, 0.0, hidden
        image, code, note, x, y = self.decode_point(name, "PCA", 0.0, 0.0)
        return image, code, f"The map's origin, the mean code. {note} Click anywhere on a 2-D map.", x, y, hidden

    # --- animations ---------------------------------------------------------------------

    def animation_latents(self, name: str) -> tuple[gr.Dropdown, gr.Image]:
        """The latents a traversal can animate (slider order), and no stale animation."""
        labels = slider_labels(self.catalog.info(name))
        return gr.Dropdown(labels, value=labels[0]), gr.Image(value=None, visible=False)

    @user_errors
    def animate_traversal(
        self,
        name: str,
        code: list[float] | None = None,
        latent: str | None = None,
        steps: int = 9,
        span: float = SLIDER_SPAN,
        class_choice: str = AUTO_CLASS,
    ) -> str:
        """One latent swept over ±span around `code` (the Traverse grid's row for it), as a GIF."""
        model, info = self.resolve(name)
        dim = latent_index(info, latent)
        codes = traversal_codes(start_point(info, code), [dim], int(steps), float(span), around_start=True)
        return animation(explore.decode(model, codes, class_labels(model, info, class_choice)))


# --- shared links: the model, the tab and the code in the page's URL --------------------------------

TAB_IDS = (
    "reconstruct",
    "sample",
    "conditional",
    "traverse",
    "latent-map",
    "interpolate",
    "arithmetic",
    "palette",
    "train",
    "model-card",
)


def shared_state(
    params: dict[str, str], names: list[str], default: str | None
) -> tuple[str | None, str | None, list[float] | None, list[str]]:
    """A link's model, tab and code, checked: what is wrong falls back to the default, with a note."""
    notes = []
    model = params.get("model") or default
    if model not in names:
        notes.append(f"the link's model {model!r} is not on this server, so the page shows {default}")
        model = default
    tab = params.get("tab")
    if tab and tab not in TAB_IDS:
        notes.append(f"the link's tab {tab!r} does not exist; tabs are {', '.join(TAB_IDS)}")
        tab = None
    code = link_code(params.get("code", ""))
    if params.get("code") and code is None:
        notes.append("the link's code is not a comma-separated list of finite numbers, so the start is zero")
    return model, tab, code, notes


def link_code(text: str) -> list[float] | None:
    """A link's code: comma-separated finite numbers; None for anything else (or nothing)."""
    try:
        code = [float(v) for v in text.split(",")]
    except ValueError:
        return None
    return code if np.isfinite(code).all() else None


class Explorer(ImageTabs, LatentTabs, CartographyTabs):
    """The app's callbacks, over a catalog of models, grouped by tab in its bases; each is a few
    lines: parse, compute, present. This class adds Interpolate, the Model card and the page's
    updates when the model changes."""

    # --- Interpolate --------------------------------------------------------------------

    @user_errors
    def interpolate(
        self,
        name: str,
        source: str = "images",
        path_a: str | None = None,
        path_b: str | None = None,
        class_a: str | None = None,
        class_b: str | None = None,
        steps: int = 8,
        mode: str = "linear",
    ) -> tuple[Image.Image, str]:
        """The row of decoded in-betweens, and the conversions made to the two images."""
        row, notes = self._interpolation(name, source, (path_a, path_b), (class_a, class_b), int(steps), mode)
        return display(row, nrow=int(steps)), notes_text(notes)

    @user_errors
    def animate_interpolation(
        self,
        name: str,
        source: str = "images",
        path_a: str | None = None,
        path_b: str | None = None,
        class_a: str | None = None,
        class_b: str | None = None,
        steps: int = 8,
        mode: str = "linear",
    ) -> str:
        """The interpolation's row as a GIF, one frame per image."""
        return animation(self._interpolation(name, source, (path_a, path_b), (class_a, class_b), int(steps), mode)[0])

    def _interpolation(
        self, name: str, source: str, paths: tuple, classes: tuple, steps: int, mode: str
    ) -> tuple[torch.Tensor, list[str]]:
        model, info = self.resolve(name)
        if source == "images":
            ends = [encode_upload(model, info, path) for path in paths]
        elif source == "classes":
            ends = [(*self._class_end(model, info, choice), []) for choice in classes]
        else:
            raise ValueError(f"interpolate between 'images' or 'classes', got {source!r}")
        (start, label_a, notes_a), (end, label_b, notes_b) = ends
        return explore.interpolate(model, start, end, steps, mode, labels=(label_a, label_b)), notes_a + notes_b

    def interpolate_example(self, name: str, target: str, evt: gr.SelectData) -> tuple[Any, ...]:
        """A click on an example thumbnail: it fills image A or B (as chosen), and the next click the other."""
        path = self.example_path(name, evt.index)
        other = "B" if target == "A" else "A"
        return (path, gr.skip(), other) if target == "A" else (gr.skip(), path, other)

    @user_errors
    def reset_interpolate(self, name: str, path_a: str | None, path_b: str | None, shown: str | None) -> tuple:
        """On load and after a model switch: the two class choices (B differs from A) and a fresh row
        between the two images, or, when the data changed or none were chosen, between the first and
        the last example (two classes)."""
        info = self.catalog.info(name)
        names = info.class_names
        classes = gr.Dropdown(names, value=names[0]), gr.Dropdown(names, value=names[min(1, len(names) - 1)])
        examples = self.examples.get(info.dataset, [])
        if (not path_a or not path_b or shown != info.dataset) and len(examples) > 1:
            path_a, path_b = examples[0].path, examples[-1].path
        if not path_a or not path_b:
            cleared = page_text.switched(name, "pick two images (or classes) and press **Interpolate**.")
            return (*classes, None, None, None, cleared, info.dataset)
        row, notes = self.interpolate(name, "images", path_a, path_b)
        return (*classes, path_a, path_b, row, notes, info.dataset)

    # --- Model card, and the page's updates when the model changes ----------------------------

    @user_errors
    def model_card(self, name: str) -> tuple[str, Any, Any, str, str]:
        """The card: heading, the two charts, the metrics with their meaning, and the configs."""
        info = self.catalog.info(name)
        metrics = page_text.metrics_markdown(info.metrics)
        return (
            page_text.card_heading(info),
            information_chart(info),
            mutual_information_chart(info),
            metrics,
            page_text.configs_markdown(info),
        )

    @user_errors
    def scoreboard(self, name: str) -> tuple[Any, ...]:
        """Every model of `name`'s data side by side on the disentanglement metrics: the table, the
        chart, a note (recipe, where the metrics disagree, who is not evaluated) and the provenance."""
        infos = [self.catalog.info(n) for n in self.catalog.same_data(name)]
        boards = {info.name: info.scoreboard for info in infos if info.scoreboard}
        if not self.has_scoreboard(name):
            return None, None, f"_{infos[0].dataset} has no labelled factors: no disentanglement scoreboard._", ""
        chart = figures.scoreboard_chart(boards, HEADLINE_METRICS, METRIC_TITLES) if boards else None
        note = page_text.scoreboard_note(infos, disagreements(boards) if boards else "")
        table = {"headers": SCOREBOARD_HEADERS, "data": scoreboard_table(infos)}
        return table, chart, note, page_text.provenance_markdown(infos)

    def factor_panels(self, name: str) -> tuple[gr.Column, gr.Plot, gr.Plot]:
        """The card's panels that only data with factors fills: the scoreboard, the mutual information
        and the scoreboard's chart (once some model is scored); the others are hidden, not left empty."""
        infos = [self.catalog.info(n) for n in self.catalog.same_data(name)]
        scored = any(info.scoreboard for info in infos)
        has_mi = self.catalog.info(name).mutual_information is not None
        return gr.Column(visible=self.has_scoreboard(name)), gr.Plot(visible=has_mi), gr.Plot(visible=scored)

    def has_scoreboard(self, name: str) -> bool:
        """Whether `name`'s data has labelled factors, so that its models can be scored on them."""
        return any(self.catalog.info(n).factor_names for n in self.catalog.same_data(name))

    def open_shared(self, request: gr.Request) -> tuple[Any, ...]:
        """On load: the link's model and tab, the code waiting for that model's Traverse tab, and a note."""
        names = self.catalog.names
        model, tab, code, notes = shared_state(dict(request.query_params), names, default_model(self.catalog))
        pending = {"model": model, "code": code} if code is not None else None
        text = "⚠️ " + "; ".join(notes) + "." if notes else ""
        return gr.Dropdown(value=model), gr.Tabs(selected=tab) if tab else gr.skip(), pending, text

    def apply_shared_code(self, name: str, pending: dict | None, class_choice: str) -> tuple[Any, ...]:
        """Once the link's model is shown: its code becomes the Traverse start (or a note says why not)."""
        if not pending or pending["model"] != name:
            return (*[gr.skip()] * (4 + MAX_SLIDERS), pending, gr.skip())
        info = self.catalog.info(name)
        if len(pending["code"]) != info.latent_dim:
            note = f"⚠️ the link's code has {len(pending['code'])} numbers but {name} has {info.latent_dim} latents"
            return (*[gr.skip()] * (4 + MAX_SLIDERS), None, note + ", so the start is zero.")
        return (*self.start_from_point(name, pending["code"], class_choice), None, gr.skip())

    def class_dropdown(self, name: str) -> gr.Dropdown:
        info = self.catalog.info(name)
        return gr.Dropdown([AUTO_CLASS, *info.class_names], value=AUTO_CLASS, visible=info.is_conditional)

    def sliders(self, name: str, start: list[float] | None = None) -> list[gr.Slider]:
        """One slider per latent (most informative first, up to MAX_SLIDERS), set to `start`."""
        return slider_updates(self.catalog.info(name), start)
