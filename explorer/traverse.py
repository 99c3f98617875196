"""Traverse: a start code (zero, a test image, an upload, an example or a map point), one slider per
latent, the grid that sweeps each latent around the sliders' code, and one latent's sweep as a GIF."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import torch
from PIL import Image

from vae_models import BaseVAE, explore
from vae_models.catalog import ModelInfo
from vae_models.images import label_rows
from vae_models.latent import traversal_codes

from . import text
from .common import (
    AUTO_CLASS,
    animation,
    as_code,
    class_labels,
    display,
    encode_upload,
    start_point,
    unique,
    user_errors,
)
from .components import (
    HIDDEN_ANIMATION,
    UI_ONLY,
    Tab,
    animation_panel,
    examples_gallery,
    free_dropdown,
    picture,
    reveal,
)
from .page import Page

MAX_SLIDERS = 16
SLIDER_SPAN = 3.0


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


class Start(NamedTuple):
    """A new start point: its code (and its one-line view), its label, the decoded image, the sliders."""

    code: list[float]
    code_line: str
    start_label: int | None
    decoded: Image.Image
    sliders: list[gr.Slider]


class Moved(NamedTuple):
    """A slider move: the image of the sliders' code, and that code (what the grid sweeps around)."""

    decoded: Image.Image
    code: list[float]
    code_line: str


class TraverseTab(Tab):
    id, title = "traverse", "Traverse"

    def layout(self, page: Page) -> None:
        with gr.Row():
            self.source = gr.Radio(["zero", "test image", "uploaded image"], value="zero", label="Start from")
            self.index = gr.Number(0, label="Test image index", precision=0, minimum=0)
            self.set_start_button = gr.Button("Set start point")
        self.gallery = examples_gallery("Or click an example to start from it")
        self.status = page.status()
        self.code = gr.JSON([], label="Start code (z)", visible=False)  # the full code, for the API and the grid
        self.code_line = gr.Markdown()
        self.start_label = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2):
                self.note = gr.Markdown()
                self.sliders = [
                    gr.Slider(-SLIDER_SPAN, SLIDER_SPAN, value=0, step=0.05, visible=False) for _ in range(MAX_SLIDERS)
                ]
            with gr.Column(scale=1):
                self.decoded = picture("Decoded")
        with gr.Row():
            self.steps = gr.Slider(3, 15, value=9, step=1, label="Steps per row")
            self.span = gr.Slider(0.5, 5, value=SLIDER_SPAN, step=0.5, label="Sweep ±")
            self.traverse_button = gr.Button("Traversal grid", variant="primary")
        gr.Markdown("Each row of the grid sweeps one latent over ±span around the sliders' values (the middle column).")
        self.grid = picture("Traversal grid")
        with gr.Row():
            self.latent = free_dropdown("Animate one latent (its row of the grid)", scale=2)
            self.animate_button = gr.Button("Animate (GIF)", scale=1)
            self.animated = animation_panel("Animation")
        self.decode_button = gr.Button(visible=False)
        self.pending, self.link_note, self.class_choice = page.pending_code, page.link_note, page.class_choice
        self.refresh_inputs = [self.steps, self.span, self.pending, self.class_choice]
        self.refreshed = [*self.panels(Start), self.grid, self.note, self.gallery, self.latent, self.animated]
        self.refreshed += [self.pending, self.link_note]
        # After an event that moved the start (here or on another tab): the grid around the new start.
        grid_inputs = [page.model, self.code, self.steps, self.span, page.class_choice, self.start_label]

        def grid_around_start(*values: Any) -> Image.Image:  # its own name: /traverse is the button's
            return self.traverse(*values)

        self.redraw = {"fn": grid_around_start, "inputs": grid_inputs, "outputs": [self.grid], **UI_ONLY}

    def wire(self, page: Page) -> None:
        model, class_choice = page.model, page.class_choice
        start_inputs = [model, self.source, self.index, page.tab("reconstruct").upload, class_choice]
        moved = self.set_start_button.click(
            self.as_panels(self.set_start), start_inputs, self.panels(Start), api_name="set_start"
        )
        page.report(moved, self.status)
        # The button's event first: it names the /traverse endpoint (the redraws after a new start reuse its fn).
        swept = self.traverse_button.click(self.traverse, self.redraw["inputs"], [self.grid], api_name="traverse")
        page.report(swept, self.status)
        self.started(page, moved)
        # A shared link carries the start (page.js writes it into the URL as it changes).
        self.code.change(None, [self.code], None, js="(c) => window.vaeShare({code: c})", queue=False)
        picked = self.gallery.select(self.as_panels(self.start_from_example), [model, class_choice], self.panels(Start))
        page.report(picked, self.status)
        self.started(page, picked)
        gr.on(
            [slider.input for slider in self.sliders],
            self.as_panels(self.decode_sliders),
            [model, self.code, self.start_label, class_choice, *self.sliders],
            self.panels(Moved),
            trigger_mode="always_last",
            show_progress="hidden",
            **UI_ONLY,
        )
        self.decode_button.click(self.decode, [model, self.code, class_choice], [self.decoded], api_name="decode")
        gif_inputs = [model, self.code, self.latent, self.steps, self.span, class_choice]
        gif = self.animate_button.click(
            self.animate_traversal, gif_inputs, [self.animated], api_name="animate_traversal"
        )
        reveal([self.animate_button.click], self.animated)
        page.report(gif, self.status)

    def started(self, page: Page, event: Any) -> None:
        """After `event` set the start: the grid follows (never a grid around the previous start)."""
        page.actions += [event, event.success(**self.redraw)]

    # --- callbacks ------------------------------------------------------------------------------

    @user_errors
    def decode(self, name: str, code: list[float], class_choice: str = AUTO_CLASS) -> Image.Image:
        """One latent vector -> one image (the /decode endpoint; the sliders use it)."""
        model, info = self.explorer.resolve(name)
        labels = class_labels(model, info, class_choice)
        return display(explore.decode(model, as_code(code, model.latent_dim), labels))

    @user_errors
    def decode_sliders(
        self, name: str, code: list[float], start_label: int | None, class_choice: str, *values: float
    ) -> Moved:
        model, info = self.explorer.resolve(name)
        current = slider_code(info, code, values)
        labels = class_labels(model, info, class_choice, fallback=0 if start_label is None else start_label)
        return Moved(
            display(explore.decode(model, current, labels)), current.tolist(), text.code_text(current.tolist())
        )

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
        model, info = self.explorer.resolve(name)
        labels = class_labels(model, info, class_choice, fallback=0 if start_label is None else int(start_label))
        return traversal_picture(model, info, start_point(info, code), int(steps), float(span), labels)

    @user_errors
    def set_start(self, name: str, source: str, index: int, path: str | None, class_choice: str) -> Start:
        """Move the traversal's start point to zero, a test image or the upload."""
        model, info = self.explorer.resolve(name)
        code, label = self._start_code(model, info, source, index, path, class_choice)
        return self.start_at(name, code, class_labels(model, info, class_choice, fallback=label))

    def start_at(self, name: str, code: list[float], labels: int | None) -> Start:
        model, info = self.explorer.resolve(name)
        start = start_point(info, code)
        image = display(explore.decode(model, start, labels))
        return Start(start.tolist(), text.code_text(start.tolist()), labels, image, slider_updates(info, code))

    @user_errors
    def start_from_example(self, name: str, class_choice: str, evt: gr.SelectData) -> Start:
        """A click on an example thumbnail on the Traverse tab: its code becomes the start point."""
        return self.set_start(name, "uploaded image", 0, self.explorer.example_path(name, evt.index), class_choice)

    @user_errors
    def start_from_point(self, name: str, code: list[float] | None, class_choice: str) -> Start:
        """A decoded map point becomes the start."""
        model, info = self.explorer.resolve(name)
        if not code:
            raise ValueError("click a point on the map first: its code becomes the start")
        return self.start_at(name, code, class_labels(model, info, class_choice))

    def _start_code(
        self, model: BaseVAE, info: ModelInfo, source: str, index: int, path: str | None, class_choice: str
    ) -> tuple[list[float], int | None]:
        """The traversal's start point: (code, label it was encoded with)."""
        if source == "test image":
            latents = self.explorer.catalog.latents(info.name)
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
        model, info = self.explorer.resolve(name)
        dim = latent_index(info, latent)
        codes = traversal_codes(start_point(info, code), [dim], int(steps), float(span), around_start=True)
        return animation(explore.decode(model, codes, class_labels(model, info, class_choice)))

    # --- a new model ------------------------------------------------------------------------------

    def refresh(self, name: str, values: dict) -> dict:
        """For a new model: sliders at zero (or at a shared link's code), the start decoded, the grid
        around it, its examples and latents, and no animation of the previous model."""
        start, link = self.linked_start(name, values[self.pending], values[self.class_choice])
        model, info = self.explorer.resolve(name)
        steps, span = int(values[self.steps]), float(values[self.span])
        grid = traversal_picture(model, info, start_point(info, start.code), steps, span, start.start_label)
        labels = slider_labels(info)
        return (
            self.named(start)
            | {
                self.grid: grid,
                self.note: text.slider_note(info),
                self.gallery: self.explorer.example_gallery(name),
                self.latent: gr.Dropdown(labels, value=labels[0]),
                self.animated: gr.Image(**HIDDEN_ANIMATION),
            }
            | link
        )

    @user_errors
    def linked_start(self, name: str, pending: dict | None, class_choice: str) -> tuple[Start, dict]:
        """The start for a new model: a shared link's code once its model is shown (the link is then
        used up), or zero; a code of the wrong length starts at zero, and the link's note says why."""
        if not pending or pending["model"] != name:
            return self.set_start(name, "zero", 0, None, AUTO_CLASS), {}
        model, info = self.explorer.resolve(name)
        if len(pending["code"]) != info.latent_dim:
            note = f"⚠️ the link's code has {len(pending['code'])} numbers but {name} has {info.latent_dim} latents"
            zero = self.set_start(name, "zero", 0, None, AUTO_CLASS)
            return zero, {self.pending: None, self.link_note: note + ", so the start is zero."}
        labels = class_labels(model, info, class_choice)
        return self.start_at(name, pending["code"], labels), {self.pending: None}
