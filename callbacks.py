"""The page's callbacks, over a catalog of models: parse the page's values, ask vae_models, present.

`Explorer` holds one method per page event. Each resolves its model once (`Explorer.resolve`:
the loaded model and its `ModelInfo`) and hands both to the small helpers below, grouped by
tab. Per-model facts (class names, slider order, colour choices) come from `ModelInfo`; class
labels come from `class_labels`, the one place that turns the page's class choice into labels.

Expected failures (a bad upload, a wrong class) become a gr.Error that names the problem;
conversions made to an upload become gr.Warning toasts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import gradio as gr
import numpy as np
import torch
from PIL import Image

from vae_models import BaseVAE, ModelLoadError, explore, figures
from vae_models.catalog import Catalog, ModelInfo
from vae_models.checkpoint import metrics_table
from vae_models.data import DatasetUnavailableError, dsprites_factor_values, load_dataset
from vae_models.images import ImageInputError, read_image, to_model_input, to_pil
from vae_models.latent import pca_projection, tsne_projection

MAX_SLIDERS = 16
SLIDER_SPAN = 3.0
AUTO_CLASS = "auto (best fit)"
LIGHT_ON_DARK_DATASETS = ("digits", "dsprites", "mnist", "fashion_mnist")
MAP_METHODS = ("PCA", "PCA 3-D", "t-SNE")
MAP_KEYS = {"PCA": "pca2", "PCA 3-D": "pca3", "t-SNE": "tsne"}  # each method's entry in the latent cache
ENCODE_BATCH = 256
USER_ERRORS = (ImageInputError, ValueError, KeyError, ModelLoadError, DatasetUnavailableError)

ClassChoice = str | int | float | None  # a class name, an index, AUTO_CLASS, or nothing


def user_errors(fn: Callable) -> Callable:
    """Expected failures become a gr.Error with their message (no traceback reaches the page)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with torch.inference_mode():
                return fn(*args, **kwargs)
        except USER_ERRORS as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            raise gr.Error(message, print_exception=False) from err

    return wrapper


def warn(notes: list[str]) -> None:
    for note in notes:
        gr.Warning(note)


def display(images: torch.Tensor, nrow: int | None = None) -> Image.Image:
    """Enlarge small images by pixel repetition so they stay sharp on screen."""
    size = images.shape[-1]
    scale = max(1, (192 if len(images) == 1 else 64) // size)
    return to_pil(images, nrow=nrow, scale=scale)


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
    return explore.best_label(model, image) if image is not None else fallback


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


def load_upload(model: BaseVAE, info: ModelInfo, path: str | None) -> torch.Tensor:
    """An uploaded file -> the model's input tensor [1, C, S, S]; conversions are announced."""
    if not path:
        raise ImageInputError("no image: upload one, or click an example")
    image, notes = read_image(path)
    dark_background = info.dataset in LIGHT_ON_DARK_DATASETS
    x, more = to_model_input(image, model.in_channels, model.img_size, dark_background=dark_background)
    warn(notes + more)
    return x


def encode_upload(
    model: BaseVAE, info: ModelInfo, path: str | None, choice: ClassChoice = AUTO_CLASS
) -> tuple[torch.Tensor, int | None]:
    """An uploaded file -> its code [latent_dim] and the labels it was encoded with."""
    x = load_upload(model, info, path)
    labels = class_labels(model, info, choice, image=x)
    return explore.encode(model, x, labels)[0], labels


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


# --- Traverse: the sliders ------------------------------------------------------------------------


def slider_labels(info: ModelInfo) -> list[str]:
    """Every latent's slider label, in slider order (most informative first)."""
    return [info.latent_label(dim) for dim in info.latent_order]


def slider_updates(info: ModelInfo, start: list[float] | None = None) -> list[gr.Slider]:
    """One slider per latent (most informative first, up to MAX_SLIDERS), set to `start`."""
    code = start or [0.0] * info.latent_dim
    order, labels = info.latent_order, slider_labels(info)
    updates = [
        gr.Slider(label=labels[i], value=max(-SLIDER_SPAN, min(SLIDER_SPAN, code[order[i]])), visible=True)
        for i in range(min(MAX_SLIDERS, len(order)))
    ]
    return updates + [gr.Slider(visible=False)] * (MAX_SLIDERS - len(updates))


# --- Latent map -------------------------------------------------------------------------------------


def encode_test_set(model: BaseVAE, info: ModelInfo) -> dict[str, np.ndarray]:
    """The test set's codes, labels and (dSprites) factors: a latent cache without projections."""
    test = load_dataset(info.dataset, "test", download=False)
    images, labels = test.batch()
    batches = zip(images.split(ENCODE_BATCH), labels.split(ENCODE_BATCH), strict=True)
    codes = torch.cat([explore.encode(model, x, y) for x, y in batches])
    result = {"codes": codes.numpy(), "labels": labels.numpy()}
    return result | ({"factors": test.factors.numpy()} if test.factors is not None else {})


def projection(codes: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """`method`'s projection of the codes, under its latent-cache keys."""
    if method == "t-SNE":
        return {"tsne": tsne_projection(codes)}
    dims = 3 if method == "PCA 3-D" else 2
    coords, explained, _ = pca_projection(codes, dims)
    return {f"pca{dims}": coords, f"pca{dims}_explained": explained}


def map_figure(
    model: BaseVAE, info: ModelInfo, latents: dict, method: str, colour_by: str, path: str | None
) -> tuple[Any, str]:
    """The latent map of the cached (or recomputed) test codes, with the upload as a star, and its caption."""
    if method not in MAP_METHODS:
        raise ValueError(f"map method must be one of {MAP_METHODS}, got {method!r}")
    key = MAP_KEYS[method]
    coords, explained = latents[key], latents.get(f"{key}_explained")
    colour, categories = map_colours(info, latents, colour_by)
    highlight = place_code(latents, key, encode_upload(model, info, path)[0].numpy()) if path else None
    figure = figures.latent_map(
        coords,
        colour,
        colour_by,
        hover_texts(info.class_names, latents),
        categories=categories,
        explained=explained,
        highlight=highlight,
        title=f"{info.name}: {len(coords)} test images, {method}",
    )
    text = f"{method} of {len(coords)} test codes."
    if explained is not None:
        text += f" Explained variance: {', '.join(f'{v:.1%}' for v in explained)} (total {explained.sum():.1%})."
    return figure, text


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


# --- Model card ---------------------------------------------------------------------------------------


def card_text(info: ModelInfo) -> str:
    text = f"### {info.summary()}\n\n{metrics_table(info.metrics)}\n\n**Model config**\n\n```json\n"
    text += json.dumps(info.config, indent=1) + "\n```\n"
    if info.training_config:
        text += f"\n**Training config**\n\n```json\n{json.dumps(info.training_config, indent=1)}\n```\n"
    return text


def information_chart(info: ModelInfo) -> Any:
    """Each latent's information (KL, or code variance for the WAE), inactive ones greyed; None unevaluated."""
    if info.information_per_latent is None:
        return None
    values, axis_title = info.information_per_latent
    return figures.kl_bar_chart(values, [not inactive for inactive in info.inactive], axis_title)


def mutual_information_chart(info: ModelInfo) -> Any:
    """The latent × factor mutual information, for data with labelled factors (dSprites); else None."""
    if info.dominant_factors is None:
        return None
    metrics = info.metrics
    return figures.mutual_information_heatmap(
        np.array(metrics["mutual_information"]), info.factor_names, np.array(metrics["factor_entropy"])
    )


class Explorer:
    """The app's callbacks, over a catalog of models. Each one is a few lines: parse, compute, present."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def resolve(self, name: str) -> tuple[BaseVAE, ModelInfo]:
        """The model called `name`, loaded, and what is known about it."""
        info = self.catalog.info(name)
        return self.catalog.model(name), info

    # --- Reconstruct --------------------------------------------------------------------

    @user_errors
    def reconstruct(self, name: str, path: str | None, class_choice: str = AUTO_CLASS) -> tuple[Image.Image, ...]:
        model, info = self.resolve(name)
        x = load_upload(model, info, path)
        recon = explore.reconstruct(model, x, class_labels(model, info, class_choice, image=x))
        return display(x), display(recon)

    @user_errors
    def compare(self, name: str, path: str | None) -> list[tuple[Image.Image, str]]:
        x = load_upload(*self.resolve(name), path)
        results = [(display(x), "input")]
        for other in self.catalog.same_data(name):
            model, info = self.resolve(other)
            recon = explore.reconstruct(model, x, class_labels(model, info, AUTO_CLASS, image=x))
            results.append((display(recon), other))
        return results

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
            raise ValueError("pick a class to generate")
        return display(explore.prior_samples(model, int(count), int(seed), float(temperature), label))

    @user_errors
    def class_style(self, name: str, styles: int = 8, seed: int = 0, temperature: float = 1.0) -> Image.Image:
        model, info = self.resolve(name)
        require_conditional(model, info)
        return display(explore.class_style_grid(model, int(styles), int(seed), float(temperature)), nrow=int(styles))

    # --- Traverse -----------------------------------------------------------------------

    @user_errors
    def decode(self, name: str, code: list[float], class_choice: str = AUTO_CLASS) -> Image.Image:
        """One latent vector -> one image (the /decode endpoint; the sliders use it)."""
        model, info = self.resolve(name)
        labels = class_labels(model, info, class_choice)
        return display(explore.decode(model, as_code(code, model.latent_dim), labels))

    @user_errors
    def decode_sliders(
        self, name: str, start: list[float], start_label: int | None, class_choice: str, *values: float
    ) -> Image.Image:
        model, info = self.resolve(name)
        code = start_point(info, start).clone()
        order = info.latent_order[:MAX_SLIDERS]
        code[order] = torch.tensor(values[: len(order)], dtype=torch.float32)
        labels = class_labels(model, info, class_choice, fallback=0 if start_label is None else start_label)
        return display(explore.decode(model, code, labels))

    @user_errors
    def traverse(
        self,
        name: str,
        start: list[float] | None = None,
        steps: int = 9,
        span: float = SLIDER_SPAN,
        class_choice: str = AUTO_CLASS,
    ) -> Image.Image:
        model, info = self.resolve(name)
        code = start_point(info, start)
        labels = class_labels(model, info, class_choice)
        grid = explore.traversal_grid(model, code, info.latent_order, int(steps), float(span), labels)
        return display(grid, nrow=int(steps))

    @user_errors
    def set_start(self, name: str, source: str, index: int, path: str | None, class_choice: str) -> list:
        """Move the traversal's start point: the code, its label, the sliders and the decoded image."""
        model, info = self.resolve(name)
        code, label = self._start_code(model, info, source, index, path, class_choice)
        labels = class_labels(model, info, class_choice, fallback=label)
        image = display(explore.decode(model, start_point(info, code), labels))
        return [code, label, image, *slider_updates(info, code)]

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
            code, label = encode_upload(model, info, path, class_choice)
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
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 - gradio's idiom
    ) -> tuple[Any, str]:
        progress(0.1, desc="encoding the test set")
        model, info = self.resolve(name)
        latents = dict(self.catalog.latents(name) or {}) or encode_test_set(model, info)
        progress(0.4, desc=f"projecting with {method}")
        latents |= projection(latents["codes"], method)
        progress(0.9, desc="drawing")
        return map_figure(model, info, latents, method, colour_by, path)

    @user_errors
    def latent_map(
        self, name: str, method: str = "PCA", colour_by: str = "label", path: str | None = None
    ) -> tuple[Any, str]:
        model, info = self.resolve(name)
        latents = self.catalog.latents(name)
        if latents is None:
            raise ValueError(f"{name} has no latent cache; press Recompute to encode the test set")
        return map_figure(model, info, latents, method, colour_by, path)

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
    ) -> Image.Image:
        model, info = self.resolve(name)
        if source == "images":
            ends = [encode_upload(model, info, path) for path in (path_a, path_b)]
        elif source == "classes":
            ends = [self._class_end(model, info, choice) for choice in (class_a, class_b)]
        else:
            raise ValueError(f"interpolate between 'images' or 'classes', got {source!r}")
        (start, label_a), (end, label_b) = ends
        row = explore.interpolate(model, start, end, int(steps), mode, labels=(label_a, label_b))
        return display(row, nrow=int(steps))

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

    # --- Model card, and the page's updates when the model changes ----------------------------

    @user_errors
    def model_card(self, name: str) -> tuple[str, Any, Any]:
        info = self.catalog.info(name)
        return card_text(info), information_chart(info), mutual_information_chart(info)

    def class_dropdown(self, name: str) -> gr.Dropdown:
        info = self.catalog.info(name)
        return gr.Dropdown([AUTO_CLASS, *info.class_names], value=AUTO_CLASS, visible=info.is_conditional)

    def plain_class_dropdown(self, name: str) -> gr.Dropdown:
        names = self.catalog.info(name).class_names
        return gr.Dropdown(names, value=names[0] if names else None)

    def colour_dropdown(self, name: str) -> gr.Dropdown:
        return gr.Dropdown(self.catalog.info(name).colour_choices, value="label")

    def sliders(self, name: str, start: list[float] | None = None) -> list[gr.Slider]:
        """One slider per latent (most informative first, up to MAX_SLIDERS), set to `start`."""
        return slider_updates(self.catalog.info(name), start)
