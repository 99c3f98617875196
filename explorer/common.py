"""What every tab's callbacks use: expected failures as messages, pictures and files for the page,
class choices, and uploads read into a model's domain.

Expected failures (a bad upload, a wrong class) become a gr.Error that names the problem; the
page also keeps the message next to the control that caused it (`ErrorLog`). Conversions made to
an upload are returned as notes, which the page lists under the model's view of the image.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from gradio.context import LocalContext
from PIL import Image

from vae_models import BaseVAE, ModelLoadError, explore
from vae_models.catalog import ModelInfo
from vae_models.data import DatasetUnavailableError, read_into_domain
from vae_models.data.reading import LIGHT_ON_DARK_DATASETS
from vae_models.images import ImageInputError, read_image, to_model_input, to_pil

from .animation import gif_bytes

AUTO_CLASS = "auto (best fit)"
USER_ERRORS = (ImageInputError, ValueError, KeyError, ModelLoadError, DatasetUnavailableError)
OUTPUT_DIR = Path(tempfile.gettempdir()) / "vae-explorer-outputs"  # animations, drawings, run archives
OUTPUT_MAX_AGE_S = 3600

ClassChoice = str | int | float | None  # a class name, an index, AUTO_CLASS, or nothing


# --- expected failures ---------------------------------------------------------------------------


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


def message_of(err: Exception) -> str:
    """What a user is told of an expected failure (a KeyError's own text, not its repr)."""
    return err.args[0] if isinstance(err, KeyError) and err.args else str(err)


def user_errors(fn: Callable) -> Callable:
    """Expected failures become a gr.Error with their message (no traceback reaches the page)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with torch.inference_mode():
                return fn(*args, **kwargs)
        except USER_ERRORS as err:
            ERRORS.record(message_of(err))
            raise gr.Error(message_of(err), print_exception=False) from err

    return wrapper


def last_error(request: gr.Request) -> str:
    """The message of this session's last failed action, for the note beside its control."""
    message = ERRORS.take(getattr(request, "session_hash", None))
    return f"⚠️ **Error:** {message}" if message else ""  # an event cancelled by a newer one: nothing to say


# --- pictures and files -----------------------------------------------------------------------------


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
