"""VAE Latent Explorer: reconstruct, sample, traverse and map what a VAE has learned.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--device auto|cpu|cuda]
                  [--checkpoints checkpoints/] [--hub OWNER/NAME ...] [--hub-timeout 5]

Hub models can also be listed in VAE_EXPLORER_HUB_MODELS (comma-separated). This
file is also the Hugging Face Space entry point.

Every callback is a thin wrapper: it turns the page's values into tensors, calls
vae_models (explore, images, figures), and turns the result into images or figures.
Expected failures (a bad upload, a wrong class) become a gr.Error that names the
problem; conversions made to an upload become gr.Warning toasts.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch
from PIL import Image

from vae_models import ConditionalVAE, ModelLoadError, explore, figures, resolve_device
from vae_models.catalog import Catalog, ModelInfo
from vae_models.data import DatasetUnavailableError, dsprites_factor_values, load_dataset
from vae_models.images import MAX_FILE_BYTES, ImageInputError, read_image, to_model_input, to_pil
from vae_models.latent import pca_projection, tsne_projection
from vae_models.metrics import ACTIVE_UNIT_THRESHOLD, dominant_factors, kl_order

MAX_SLIDERS = 16
SLIDER_SPAN = 3.0
AUTO_CLASS = "auto (best fit)"
LIGHT_ON_DARK_DATASETS = ("digits", "dsprites", "mnist", "fashion_mnist")
IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"]
MAP_METHODS = ("PCA", "PCA 3-D", "t-SNE")
HUB_ENV = "VAE_EXPLORER_HUB_MODELS"
USER_ERRORS = (ImageInputError, ValueError, KeyError, ModelLoadError, DatasetUnavailableError)


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


class Explorer:
    """The app's callbacks, over a catalog of models. Each one is a few lines: parse, compute, present."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # --- shared helpers -----------------------------------------------------------------

    def class_names(self, name: str) -> list[str]:
        info = self.catalog.info(name)
        if "class_names" in info.metrics:
            return list(info.metrics["class_names"])
        return [str(k) for k in range(int(info.config.get("num_classes", 10)))]

    def class_index(self, name: str, choice: str | int | None) -> int | None:
        """A class name (or index) -> its index; None for "auto" or a non-conditional model."""
        if not isinstance(self.catalog.model(name), ConditionalVAE) or choice in (None, "", AUTO_CLASS):
            return None
        names = self.class_names(name)
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

    def load_upload(self, name: str, path: str | None) -> torch.Tensor:
        """An uploaded file -> the model's input tensor [1, C, S, S]; conversions are announced."""
        if not path:
            raise ImageInputError("no image: upload one, or click an example")
        model, info = self.catalog.model(name), self.catalog.info(name)
        image, notes = read_image(path)
        x, more = to_model_input(
            image, model.in_channels, model.img_size, dark_background=info.dataset in LIGHT_ON_DARK_DATASETS
        )
        warn(notes + more)
        return x

    def resolve_label(self, name: str, choice: str | None, x: torch.Tensor) -> int | None:
        model = self.catalog.model(name)
        label = self.class_index(name, choice)
        if label is None and isinstance(model, ConditionalVAE):
            label = explore.best_label(model, x)
        return label

    # --- Reconstruct --------------------------------------------------------------------

    @user_errors
    def reconstruct(self, name: str, path: str | None, class_choice: str = AUTO_CLASS) -> tuple[Image.Image, ...]:
        x = self.load_upload(name, path)
        recon = explore.reconstruct(self.catalog.model(name), x, self.resolve_label(name, class_choice, x))
        return display(x), display(recon)

    @user_errors
    def compare(self, name: str, path: str | None) -> list[tuple[Image.Image, str]]:
        x = self.load_upload(name, path)
        results = [(display(x), "input")]
        for other in self.catalog.same_data(name):
            model = self.catalog.model(other)
            recon = explore.reconstruct(model, x, self.resolve_label(other, AUTO_CLASS, x))
            results.append((display(recon), other))
        return results

    # --- Sample and Conditional ------------------------------------------------------------

    @user_errors
    def sample(self, name: str, count: int = 64, seed: int = 0, temperature: float = 1.0) -> Image.Image:
        model = self.catalog.model(name)
        labels = torch.arange(int(count)) % model.num_classes if isinstance(model, ConditionalVAE) else None
        return display(explore.prior_samples(model, int(count), int(seed), float(temperature), labels))

    @user_errors
    def generate(
        self, name: str, class_choice: str, count: int = 16, seed: int = 0, temperature: float = 1.0
    ) -> Image.Image:
        label = self.conditional_label(name, class_choice)
        images = explore.prior_samples(self.catalog.model(name), int(count), int(seed), float(temperature), label)
        return display(images)

    @user_errors
    def class_style(self, name: str, styles: int = 8, seed: int = 0, temperature: float = 1.0) -> Image.Image:
        model = self.conditional_model(name)
        return display(explore.class_style_grid(model, int(styles), int(seed), float(temperature)), nrow=int(styles))

    def conditional_model(self, name: str) -> ConditionalVAE:
        model = self.catalog.model(name)
        if not isinstance(model, ConditionalVAE):
            raise ValueError(f"{name} is a {self.catalog.info(name).model_type}, not a conditional VAE; pick a cvae")
        return model

    def conditional_label(self, name: str, class_choice: str) -> int:
        self.conditional_model(name)
        label = self.class_index(name, class_choice)
        if label is None:
            raise ValueError("pick a class to generate")
        return label

    # --- Traverse -----------------------------------------------------------------------

    def slider_order(self, name: str) -> list[int]:
        """Latent dimensions by information, most first (KL for VAEs, code variance for the WAE)."""
        metrics = self.catalog.info(name).metrics
        scores = metrics.get("kl_per_dim") or metrics.get("code_variance_per_dim")
        return kl_order(scores) if scores else list(range(self.catalog.info(name).latent_dim))

    def slider_labels(self, name: str) -> list[str]:
        info = self.catalog.info(name)
        metrics = info.metrics
        variances = metrics.get("code_variance_per_dim")
        kl = metrics.get("kl_per_dim")
        factors = None
        if "mutual_information" in metrics and "factor_entropy" in metrics:
            dominant = dominant_factors(np.array(metrics["mutual_information"]), np.array(metrics["factor_entropy"]))
            factors = [metrics["factor_names"][k] for k, *_ in dominant]
        labels = []
        for dim in self.slider_order(name):
            text = f"z{dim}"
            if kl:
                text += f" · KL {kl[dim]:.2f}"
            if variances and variances[dim] <= ACTIVE_UNIT_THRESHOLD:
                text += " · inactive"
            elif factors:
                text += f" · moves {factors[dim]}"
            labels.append(text)
        return labels

    def start_code(self, name: str, source: str, index: int, path: str | None, class_choice: str) -> tuple:
        """The traversal's start point: (code, label it was encoded with)."""
        model = self.catalog.model(name)
        if source == "test image":
            latents = self.catalog.latents(name)
            if latents is None:
                raise ValueError(f"{name} has no latent cache; start from zero or an uploaded image")
            if not 0 <= int(index) < len(latents["codes"]):
                raise ValueError(f"test image index must be in [0, {len(latents['codes']) - 1}]")
            label = int(latents["labels"][int(index)]) if isinstance(model, ConditionalVAE) else None
            return latents["codes"][int(index)].tolist(), label
        if source == "uploaded image":
            x = self.load_upload(name, path)
            label = self.resolve_label(name, class_choice, x)
            return explore.encode(model, x, label)[0].tolist(), label
        return [0.0] * model.latent_dim, 0 if isinstance(model, ConditionalVAE) else None

    def start_point(self, name: str, start: list[float] | None) -> torch.Tensor:
        """A traversal's start code; empty means the origin."""
        latent_dim = self.catalog.info(name).latent_dim
        return _as_code(start if start else [0.0] * latent_dim, latent_dim)

    def decode_label(self, name: str, class_choice: str | None, start_label: int | None) -> int | None:
        """The chosen class, else the start point's; a conditional VAE with neither decodes class 0."""
        label = self.class_index(name, class_choice)
        if label is None and start_label is None and self.catalog.info(name).model_type == "cvae":
            return 0
        return start_label if label is None else label

    @user_errors
    def decode(self, name: str, code: list[float], class_choice: str = AUTO_CLASS) -> Image.Image:
        """One latent vector -> one image (the /decode endpoint; the sliders use it)."""
        model = self.catalog.model(name)
        label = self.decode_label(name, class_choice, 0 if isinstance(model, ConditionalVAE) else None)
        return display(explore.decode(model, _as_code(code, model.latent_dim), label))

    @user_errors
    def decode_sliders(
        self, name: str, start: list[float], start_label: int | None, class_choice: str, *values: float
    ) -> Image.Image:
        code = self.start_point(name, start).clone()
        order = self.slider_order(name)[:MAX_SLIDERS]
        code[order] = torch.tensor(values[: len(order)], dtype=torch.float32)
        label = self.decode_label(name, class_choice, start_label)
        return display(explore.decode(self.catalog.model(name), code, label))

    @user_errors
    def traverse(
        self,
        name: str,
        start: list[float] | None = None,
        steps: int = 9,
        span: float = SLIDER_SPAN,
        class_choice: str = AUTO_CLASS,
    ) -> Image.Image:
        model = self.catalog.model(name)
        code = self.start_point(name, start)
        dims = self.slider_order(name)
        label = self.decode_label(name, class_choice, 0 if isinstance(model, ConditionalVAE) else None)
        return display(explore.traversal_grid(model, code, dims, int(steps), float(span), label), nrow=int(steps))

    # --- Latent map ---------------------------------------------------------------------

    def colour_choices(self, name: str) -> list[str]:
        return ["label", *self.catalog.info(name).metrics.get("factor_names", [])]

    @user_errors
    def latent_map(
        self, name: str, method: str = "PCA", colour_by: str = "label", path: str | None = None
    ) -> tuple[Any, str]:
        latents = self.catalog.latents(name)
        if latents is None:
            raise ValueError(f"{name} has no latent cache; press Recompute to encode the test set")
        return self._map_figure(name, latents, method, colour_by, path)

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
        latents = dict(self.catalog.latents(name) or {})
        if not latents:
            latents |= self._encode_test_set(name)
        progress(0.4, desc=f"projecting with {method}")
        codes = latents["codes"]
        if method == "t-SNE":
            latents["tsne"] = tsne_projection(codes)
        else:
            dims = 3 if method == "PCA 3-D" else 2
            coords, explained, _ = pca_projection(codes, dims)
            latents[f"pca{dims}"], latents[f"pca{dims}_explained"] = coords, explained
        progress(0.9, desc="drawing")
        return self._map_figure(name, latents, method, colour_by, path)

    def _encode_test_set(self, name: str) -> dict[str, np.ndarray]:
        info, model = self.catalog.info(name), self.catalog.model(name)
        test = load_dataset(info.dataset, "test", download=False)
        images, labels = zip(*test.__getitems__(list(range(len(test)))), strict=True)
        labels = torch.as_tensor(labels)
        codes = torch.cat(
            [
                explore.encode(model, torch.stack(images[i : i + 256]), _batch_label(model, labels[i : i + 256]))
                for i in range(0, len(images), 256)
            ]
        )
        result = {"codes": codes.numpy(), "labels": labels.numpy()}
        return result | ({"factors": test.factors.numpy()} if test.factors is not None else {})

    def _map_figure(self, name: str, latents: dict, method: str, colour_by: str, path: str | None) -> tuple[Any, str]:
        if method not in MAP_METHODS:
            raise ValueError(f"map method must be one of {MAP_METHODS}, got {method!r}")
        key = {"PCA": "pca2", "PCA 3-D": "pca3", "t-SNE": "tsne"}[method]
        coords = latents[key]
        explained = latents.get(f"{key}_explained")
        colour, categories = self._colours(name, latents, colour_by)
        highlight = self._place_upload(name, latents, key, path) if path else None
        figure = figures.latent_map(
            coords,
            colour,
            colour_by,
            self._hover(name, latents),
            categories=categories,
            explained=explained,
            highlight=highlight,
            title=f"{name}: {len(coords)} test images, {method}",
        )
        text = f"{method} of {len(coords)} test codes."
        if explained is not None:
            text += f" Explained variance: {', '.join(f'{v:.1%}' for v in explained)} (total {explained.sum():.1%})."
        return figure, text

    def _colours(self, name: str, latents: dict, colour_by: str) -> tuple[np.ndarray, list[str] | None]:
        if colour_by == "label":
            return latents["labels"], self.class_names(name)
        factor_names = list(self.catalog.info(name).metrics.get("factor_names", []))
        if colour_by not in factor_names or "factors" not in latents:
            raise ValueError(f"cannot colour by {colour_by!r}; choose from {['label', *factor_names]}")
        column = latents["factors"][:, factor_names.index(colour_by)]
        return (column, self.class_names(name)) if colour_by == "shape" else (column.astype(float), None)

    def _hover(self, name: str, latents: dict) -> list[str]:
        class_names = self.class_names(name)
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

    def _place_upload(self, name: str, latents: dict, key: str, path: str) -> np.ndarray:
        """The upload's position: PCA transforms it exactly; on the t-SNE map it sits at the mean
        position of its 10 nearest test codes (openTSNE's own initialisation for new points)."""
        x = self.load_upload(name, path)
        model = self.catalog.model(name)
        code = explore.encode(model, x, self.resolve_label(name, AUTO_CLASS, x)).numpy()
        codes = latents["codes"]
        if key.startswith("pca"):
            return pca_projection(codes, int(key[-1]))[2].transform(code)[0]
        nearest = np.argsort(((codes - code) ** 2).sum(1))[:10]
        return latents[key][nearest].mean(0)

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
        model = self.catalog.model(name)
        if source == "images":
            ends = [self._image_end(name, path) for path in (path_a, path_b)]
        elif source == "classes":
            ends = [self._class_end(name, choice) for choice in (class_a, class_b)]
        else:
            raise ValueError(f"interpolate between 'images' or 'classes', got {source!r}")
        (start, label_a), (end, label_b) = ends
        labels = (label_a, label_b) if isinstance(model, ConditionalVAE) else None
        return display(explore.interpolate(model, start, end, int(steps), mode, labels), nrow=int(steps))

    def _image_end(self, name: str, path: str | None) -> tuple[torch.Tensor, int | None]:
        x = self.load_upload(name, path)
        label = self.resolve_label(name, AUTO_CLASS, x)
        return explore.encode(self.catalog.model(name), x, label)[0], label

    def _class_end(self, name: str, choice: str | None) -> tuple[torch.Tensor, int | None]:
        """A class as an end point: the zero code for the conditional VAE, else the class's mean code."""
        names = self.class_names(name)
        if choice not in names:
            raise ValueError(f"pick a class from {names}")
        index = names.index(choice)
        if isinstance(self.catalog.model(name), ConditionalVAE):
            return torch.zeros(self.catalog.info(name).latent_dim), index
        latents = self.catalog.latents(name)
        if latents is None:
            raise ValueError(f"{name} has no latent cache, so class centres are unknown; interpolate images instead")
        return torch.from_numpy(latents["codes"][latents["labels"] == index].mean(0)), None

    # --- page updates when the model changes ---------------------------------------------

    def class_dropdown(self, name: str) -> gr.Dropdown:
        is_conditional = self.catalog.info(name).model_type == "cvae"
        return gr.Dropdown([AUTO_CLASS, *self.class_names(name)], value=AUTO_CLASS, visible=is_conditional)

    def plain_class_dropdown(self, name: str) -> gr.Dropdown:
        names = self.class_names(name)
        return gr.Dropdown(names, value=names[0] if names else None)

    def colour_dropdown(self, name: str) -> gr.Dropdown:
        return gr.Dropdown(self.colour_choices(name), value="label")

    def sliders(self, name: str, start: list[float] | None = None) -> list[gr.Slider]:
        """One slider per latent (most informative first, up to MAX_SLIDERS), set to `start`."""
        code = start or [0.0] * self.catalog.info(name).latent_dim
        order, labels = self.slider_order(name), self.slider_labels(name)
        updates = [
            gr.Slider(label=labels[i], value=max(-SLIDER_SPAN, min(SLIDER_SPAN, code[order[i]])), visible=True)
            for i in range(min(MAX_SLIDERS, len(order)))
        ]
        return updates + [gr.Slider(visible=False)] * (MAX_SLIDERS - len(updates))

    @user_errors
    def set_start(self, name: str, source: str, index: int, path: str | None, class_choice: str) -> list:
        """Move the traversal's start point: the code, its label, the sliders and the decoded image."""
        code, label = self.start_code(name, source, index, path, class_choice)
        model, label_used = self.catalog.model(name), self.decode_label(name, class_choice, label)
        image = display(explore.decode(model, self.start_point(name, code), label_used))
        return [code, label, image, *self.sliders(name, code)]

    # --- Model card ---------------------------------------------------------------------

    @user_errors
    def model_card(self, name: str) -> tuple[str, Any, Any]:
        info = self.catalog.info(name)
        metrics = info.metrics
        text = f"### {info.summary()}\n\n{_metrics_markdown(metrics)}\n\n**Model config**\n\n```json\n"
        text += json.dumps(info.config, indent=1) + "\n```\n"
        if info.training_config:
            text += f"\n**Training config**\n\n```json\n{json.dumps(info.training_config, indent=1)}\n```\n"
        kl_figure = self._information_chart(info)
        mi_figure = None
        if "mutual_information" in metrics and "factor_entropy" in metrics:
            mi_figure = figures.mutual_information_heatmap(
                np.array(metrics["mutual_information"]), metrics["factor_names"], np.array(metrics["factor_entropy"])
            )
        return text, kl_figure, mi_figure

    def _information_chart(self, info: ModelInfo) -> Any:
        metrics = info.metrics
        variances = metrics.get("code_variance_per_dim")
        if not variances:
            return None
        active = [v > ACTIVE_UNIT_THRESHOLD for v in variances]
        if metrics.get("kl_per_dim"):
            return figures.kl_bar_chart(metrics["kl_per_dim"], active, "KL (nats)")
        return figures.kl_bar_chart(variances, active, "code variance (the WAE has no KL)")


def _as_code(code: Any, latent_dim: int) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(code, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"a latent code must be a list of numbers, got {code!r:.80}") from err
    if tensor.dim() != 1 or not torch.isfinite(tensor).all():
        raise ValueError(f"a latent code must be one flat list of finite numbers, got shape {tuple(tensor.shape)}")
    if len(tensor) != latent_dim:
        raise ValueError(f"this model has {latent_dim} latent dimensions; got a code of {len(tensor)}")
    return tensor


def _batch_label(model: Any, labels: torch.Tensor) -> torch.Tensor | None:
    return labels if isinstance(model, ConditionalVAE) else None


def _metrics_markdown(metrics: dict) -> str:
    rows = ["| metric | value |", "| --- | --- |"]
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            rows.append(f"| {key} | {value:.4g} |")
    return "\n".join(rows) if len(rows) > 2 else "_No metrics.json in this checkpoint._"


# --- examples -------------------------------------------------------------------------------


def write_examples(catalog: Catalog, folder: Path, per_dataset: int = 8) -> dict[str, list[str]]:
    """A few test images per dataset, one per class where possible, as PNG files for gr.Examples."""
    examples: dict[str, list[str]] = {}
    for dataset in sorted({info.dataset for info in catalog.infos.values()}):
        try:
            test = load_dataset(dataset, "test", download=False)
        except (DatasetUnavailableError, ValueError):
            continue
        labels = np.asarray(test.labels)
        picks = [int(np.flatnonzero(labels == k)[0]) for k in np.unique(labels)][:per_dataset]
        paths = []
        for index in picks:
            path = folder / f"{dataset}-test{index}.png"
            to_pil(test[index][0], scale=max(1, 128 // test.img_size)).save(path)
            paths.append(str(path))
        examples[dataset] = paths
    return examples


# --- the page ---------------------------------------------------------------------------------

CSS = ".grid-image img { image-rendering: pixelated; }"
UI_ONLY = {"api_visibility": "undocumented"}


def build_app(explorer: Explorer, examples: dict[str, list[str]]) -> gr.Blocks:
    catalog = explorer.catalog
    choices = [(catalog.info(name).summary(), name) for name in catalog.names]
    with gr.Blocks(title="VAE Latent Explorer") as demo:
        gr.Markdown(
            "# VAE Latent Explorer\nReconstruct an image, sample the prior, drag the latents, and map the latent "
            "space of four kinds of VAE. Every action is also an API endpoint (see *Use via API* below)."
        )
        gr.Markdown("\n".join(f"⚠️ {w}" for w in catalog.warnings), visible=bool(catalog.warnings))
        with gr.Row():
            model = gr.Dropdown(choices, value=catalog.names[0] if choices else None, label="Model", scale=3)
            class_choice = _free_dropdown("Class (conditional VAE)", [AUTO_CLASS], scale=1)
        with gr.Tabs():
            upload = _reconstruct_tab(explorer, model, class_choice, examples)
            _sample_tab(explorer, model)
            wanted = _conditional_tab(explorer, model)
            _traverse_tab(explorer, model, class_choice, upload, demo)
            _latent_map_tab(explorer, model, upload)
            _interpolate_tab(explorer, model, examples)
            _model_card_tab(explorer, model, demo)
        gr.on([demo.load, model.change], explorer.class_dropdown, [model], [class_choice], **UI_ONLY)
        demo.load(explorer.plain_class_dropdown, [model], [wanted], **UI_ONLY)
    return demo


def _free_dropdown(label: str, choices: list[str] = (), **kwargs: Any) -> gr.Dropdown:
    """A dropdown whose choices follow the model; the callbacks check the value, so API callers
    get the model's own list in the error rather than the page's first list."""
    choices = list(choices)
    return gr.Dropdown(choices, value=choices[0] if choices else None, label=label, allow_custom_value=True, **kwargs)


def _image(label: str) -> gr.Image:
    return gr.Image(label=label, type="pil", format="png", interactive=False, elem_classes="grid-image")


def _seed_and_temperature() -> tuple[gr.Number, gr.Slider]:
    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
    temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature (std of z)")
    return seed, temperature


def _reconstruct_tab(
    explorer: Explorer, model: gr.Dropdown, class_choice: gr.Dropdown, examples: dict[str, list[str]]
) -> gr.File:
    with gr.Tab("Reconstruct"):
        with gr.Row():
            upload = gr.File(label="Image (PNG, JPEG, WebP, GIF, BMP)", file_types=IMAGE_TYPES, type="filepath")
            converted = _image("Input as the model sees it")
            recon = _image("Reconstruction")
        with gr.Row():
            reconstruct = gr.Button("Reconstruct", variant="primary")
            compare = gr.Button("Compare models")
        for dataset, paths in examples.items():
            gr.Examples([[p] for p in paths], inputs=[upload], label=f"{dataset} test images")
        gallery = gr.Gallery(label="Every model trained on the same data", columns=6, height="auto")
    gr.on(
        [reconstruct.click, upload.upload],
        explorer.reconstruct,
        [model, upload, class_choice],
        [converted, recon],
        api_name="reconstruct",
    )
    compare.click(explorer.compare, [model, upload], [gallery], api_name="compare")
    return upload


def _sample_tab(explorer: Explorer, model: gr.Dropdown) -> None:
    with gr.Tab("Sample"):
        with gr.Row():
            count = gr.Slider(1, 256, value=64, step=1, label="Samples")
            seed, temperature = _seed_and_temperature()
        button = gr.Button("Sample the prior", variant="primary")
        grid = _image("Prior samples")
    button.click(explorer.sample, [model, count, seed, temperature], [grid], api_name="sample")


def _conditional_tab(explorer: Explorer, model: gr.Dropdown) -> gr.Dropdown:
    with gr.Tab("Conditional"):
        gr.Markdown("For the conditional VAE: pick a class, or see every class written in the same styles.")
        with gr.Row():
            wanted = _free_dropdown("Class")
            count = gr.Slider(1, 64, value=16, step=1, label="Samples")
            seed, temperature = _seed_and_temperature()
        with gr.Row():
            generate = gr.Button("Generate this class", variant="primary")
            styles = gr.Slider(1, 16, value=8, step=1, label="Styles (columns)")
            class_style = gr.Button("Class × style grid")
        grid = _image("Samples")
    generate.click(explorer.generate, [model, wanted, count, seed, temperature], [grid], api_name="generate")
    class_style.click(explorer.class_style, [model, styles, seed, temperature], [grid], api_name="class_style")
    model.change(explorer.plain_class_dropdown, [model], [wanted], **UI_ONLY)
    return wanted


def _traverse_tab(
    explorer: Explorer, model: gr.Dropdown, class_choice: gr.Dropdown, upload: gr.File, demo: gr.Blocks
) -> None:
    with gr.Tab("Traverse"):
        with gr.Row():
            source = gr.Radio(["zero", "test image", "uploaded image"], value="zero", label="Start from")
            index = gr.Number(0, label="Test image index", precision=0, minimum=0)
            set_start = gr.Button("Set start point")
        start = gr.JSON([], label="Start code (z)")
        start_label = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2):
                gr.Markdown("Sliders are ordered by KL, most informative first; *inactive* ones do nothing.")
                sliders = [
                    gr.Slider(-SLIDER_SPAN, SLIDER_SPAN, value=0, step=0.05, visible=False) for _ in range(MAX_SLIDERS)
                ]
            with gr.Column(scale=1):
                decoded = _image("Decoded")
        with gr.Row():
            steps = gr.Slider(3, 15, value=9, step=1, label="Steps per row")
            span = gr.Slider(0.5, 5, value=SLIDER_SPAN, step=0.5, label="Sweep ±")
            traverse = gr.Button("Traversal grid", variant="primary")
        grid = _image("Each row sweeps one latent from −span to +span")
        code = gr.JSON(visible=False)
        decode = gr.Button(visible=False)
    set_start.click(
        explorer.set_start,
        [model, source, index, upload, class_choice],
        [start, start_label, decoded, *sliders],
        api_name="set_start",
    )
    reset = gr.on([demo.load, model.change], explorer.sliders, [model], sliders, **UI_ONLY)
    reset.then(lambda: ([], None), None, [start, start_label], **UI_ONLY)
    gr.on(
        [slider.input for slider in sliders],
        explorer.decode_sliders,
        [model, start, start_label, class_choice, *sliders],
        [decoded],
        trigger_mode="always_last",
        show_progress="hidden",
        **UI_ONLY,
    )
    decode.click(explorer.decode, [model, code, class_choice], [decoded], api_name="decode")
    traverse.click(explorer.traverse, [model, start, steps, span, class_choice], [grid], api_name="traverse")


def _latent_map_tab(explorer: Explorer, model: gr.Dropdown, upload: gr.File) -> None:
    with gr.Tab("Latent map"):
        with gr.Row():
            method = gr.Radio(list(MAP_METHODS), value="PCA", label="Projection")
            colour_by = _free_dropdown("Colour by", ["label"])
            show = gr.Button("Show map", variant="primary")
            recompute = gr.Button("Recompute")
        gr.Markdown("The image uploaded on the *Reconstruct* tab appears as a red star.")
        plot = gr.Plot(label="Latent space")
        info = gr.Markdown()
    inputs = [model, method, colour_by, upload]
    show.click(explorer.latent_map, inputs, [plot, info], api_name="latent_map")
    recompute.click(explorer.recompute_map, inputs, [plot, info], api_name="recompute_map")
    model.change(explorer.colour_dropdown, [model], [colour_by], **UI_ONLY)


def _interpolate_tab(explorer: Explorer, model: gr.Dropdown, examples: dict[str, list[str]]) -> None:
    with gr.Tab("Interpolate"):
        source = gr.Radio(["images", "classes"], value="images", label="Between two")
        with gr.Row():
            image_a = gr.File(label="Image A", file_types=IMAGE_TYPES, type="filepath")
            image_b = gr.File(label="Image B", file_types=IMAGE_TYPES, type="filepath")
        for dataset, paths in examples.items():
            gr.Examples([list(pair) for pair in itertools.pairwise(paths)], [image_a, image_b], label=dataset)
        with gr.Row():
            class_a, class_b = _free_dropdown("Class A"), _free_dropdown("Class B")
            steps = gr.Slider(3, 16, value=8, step=1, label="Steps")
            mode = gr.Radio(["linear", "spherical"], value="linear", label="Path")
        button = gr.Button("Interpolate", variant="primary")
        row = _image("From A to B")
    button.click(
        explorer.interpolate,
        [model, source, image_a, image_b, class_a, class_b, steps, mode],
        [row],
        api_name="interpolate",
    )
    for dropdown in (class_a, class_b):
        model.change(explorer.plain_class_dropdown, [model], [dropdown], **UI_ONLY)


def _model_card_tab(explorer: Explorer, model: gr.Dropdown, demo: gr.Blocks) -> None:
    with gr.Tab("Model card"):
        card = gr.Markdown()
        with gr.Row():
            information = gr.Plot(label="Information per latent")
            mutual_information = gr.Plot(label="Latent × factor mutual information")
    gr.on(
        [demo.load, model.change],
        explorer.model_card,
        [model],
        [card, information, mutual_information],
        api_name="model_card",
    )


# --- start-up ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--checkpoints", default="checkpoints", help="folder of checkpoint folders")
    parser.add_argument("--hub", action="append", default=[], metavar="REPO_ID", help="a Hub model (repeatable)")
    parser.add_argument("--hub-timeout", type=float, default=5.0, help="seconds to wait for the Hub at start-up")
    return parser.parse_args(argv)


def hub_repos(flags: list[str]) -> list[str]:
    from_env = [r.strip() for r in os.environ.get(HUB_ENV, "").split(",") if r.strip()]
    return list(dict.fromkeys(flags + from_env))


def create_app(
    checkpoints: str | Path = "checkpoints", hub: list[str] = (), device: str = "auto", hub_timeout: float = 5.0
) -> gr.Blocks:
    try:
        resolve_device(device)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    catalog = Catalog.build(checkpoints, hub_repos(list(hub)), device=device, hub_timeout=hub_timeout)
    for warning in catalog.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not catalog.names:
        raise SystemExit(f"no models: {checkpoints} holds no checkpoint folders and no Hub model was reachable")
    examples = write_examples(catalog, Path(tempfile.mkdtemp(prefix="vae-explorer-examples-")))
    return build_app(Explorer(catalog), examples)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def tune_malloc(arenas: int = 2, mmap_threshold: int = 128 * 1024) -> None:
    """Keep RSS flat under many concurrent requests (python -m benchmarks.load, 32 users).

    glibc gives each busy thread its own heap arena, and it raises its mmap threshold each
    time a large block is freed, so image-sized tensors end up in the heaps, which fragment
    and are not given back: RSS grew 31% in a minute. Two arenas brought that to 16%; a fixed
    threshold (which also turns the raising off) puts every block over 128 KiB in its own
    mapping, returned to the system when freed: 4%, and a 200 MB lower baseline."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to tune
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, mmap_threshold)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    tune_malloc()
    demo = create_app(args.checkpoints, args.hub, args.device, args.hub_timeout)
    # Two cores: two requests at a time, each with both threads, beat four fighting for them.
    demo.queue(default_concurrency_limit=2, max_size=64)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=MAX_FILE_BYTES,
        css=CSS,
    )


if __name__ == "__main__":
    main()
