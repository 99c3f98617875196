"""Interpolate: the decoded path between two images or two classes, as a row and a GIF."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import torch
from PIL import Image

from vae_models import explore

from . import text
from .common import animation, display, encode_upload, notes_text, user_errors
from .components import (
    HIDDEN_ANIMATION,
    IMAGE_TYPES,
    UI_ONLY,
    Tab,
    animation_panel,
    examples_gallery,
    free_dropdown,
    picture,
    reveal,
    status_note,
)
from .page import Page


class Picked(NamedTuple):
    """A click on an example fills image A or B (as chosen), and the next click the other."""

    image_a: str | dict
    image_b: str | dict
    target: str


class InterpolateTab(Tab):
    id, title = "interpolate", "Interpolate"

    def layout(self, page: Page) -> None:
        self.source = gr.Radio(["images", "classes"], value="images", label="Between two")
        with gr.Column() as self.image_inputs:
            with gr.Row():
                self.image_a = gr.File(label="Image A", file_types=IMAGE_TYPES, type="filepath")
                self.image_b = gr.File(label="Image B", file_types=IMAGE_TYPES, type="filepath")
            self.target = gr.Radio(["A", "B"], value="A", label="The next example clicked fills image")
            self.gallery = examples_gallery("Examples: click one for A, then one for B")
        with gr.Column(visible=False) as self.class_inputs, gr.Row():
            self.class_a, self.class_b = free_dropdown("Class A"), free_dropdown("Class B")
        with gr.Row():
            self.steps = gr.Slider(3, 16, value=8, step=1, label="Steps")
            self.mode = gr.Radio(["linear", "spherical"], value="linear", label="Path")
        with gr.Row():
            self.button = gr.Button("Interpolate", variant="primary")
            self.animate_button = gr.Button("Animate (GIF)")
        self.status = page.status()
        self.row = picture("From A to B")
        with gr.Row():
            self.animated = animation_panel("Animation")
            with gr.Column(scale=3):
                self.notes = status_note()
        self.shown_data = gr.State(None)  # the dataset of the two images shown
        self.refresh_inputs = [self.image_a, self.image_b, self.shown_data]
        ends = [self.class_a, self.class_b, self.image_a, self.image_b]
        self.refreshed = [*ends, self.row, self.notes, self.shown_data, self.gallery, self.animated]

    def wire(self, page: Page) -> None:
        def inputs_shown(source: str) -> tuple[gr.Column, gr.Column]:
            return gr.Column(visible=source == "images"), gr.Column(visible=source == "classes")

        self.source.change(inputs_shown, [self.source], [self.image_inputs, self.class_inputs], **UI_ONLY)
        picked = [self.image_a, self.image_b, self.target]
        self.gallery.select(self.as_panels(self.pick_example), [page.model, self.target], picked, **UI_ONLY)
        inputs = [
            page.model,
            self.source,
            self.image_a,
            self.image_b,
            self.class_a,
            self.class_b,
            self.steps,
            self.mode,
        ]
        made = self.button.click(self.interpolate, inputs, [self.row, self.notes], api_name="interpolate")
        page.report(made, self.status)
        gif = self.animate_button.click(
            self.animate_interpolation, inputs, [self.animated], api_name="animate_interpolation"
        )
        reveal([self.animate_button.click], self.animated)
        page.report(gif, self.status)

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
        model, info = self.explorer.resolve(name)
        if source == "images":
            ends = [encode_upload(model, info, path) for path in paths]
        elif source == "classes":
            ends = [(*self.explorer.class_end(model, info, choice), []) for choice in classes]
        else:
            raise ValueError(f"interpolate between 'images' or 'classes', got {source!r}")
        (start, label_a, notes_a), (end, label_b, notes_b) = ends
        return explore.interpolate(model, start, end, steps, mode, labels=(label_a, label_b)), notes_a + notes_b

    def pick_example(self, name: str, target: str, evt: gr.SelectData) -> Picked:
        path = self.explorer.example_path(name, evt.index)
        return Picked(path, gr.skip(), "B") if target == "A" else Picked(gr.skip(), path, "A")

    def refresh(self, name: str, values: dict) -> dict:
        """For a new model: the two class choices (B differs from A) and a fresh row between the two
        images, or, when the data changed or none were chosen, between the first and the last example
        (two classes); its examples, and no animation of the previous model."""
        info = self.explorer.catalog.info(name)
        names = info.class_names
        updates = {
            self.class_a: gr.Dropdown(names, value=names[0]),
            self.class_b: gr.Dropdown(names, value=names[min(1, len(names) - 1)]),
            self.gallery: self.explorer.example_gallery(name),
            self.animated: gr.Image(**HIDDEN_ANIMATION),
            self.shown_data: info.dataset,
        }
        path_a, path_b = values[self.image_a], values[self.image_b]
        examples = self.explorer.examples.get(info.dataset, [])
        if (not path_a or not path_b or values[self.shown_data] != info.dataset) and len(examples) > 1:
            path_a, path_b = examples[0].path, examples[-1].path
        if not path_a or not path_b:
            cleared = text.switched(name, "pick two images (or classes) and press **Interpolate**.")
            return updates | {self.image_a: None, self.image_b: None, self.row: None, self.notes: cleared}
        row, notes = self.interpolate(name, "images", path_a, path_b)
        return updates | {self.image_a: path_a, self.image_b: path_b, self.row: row, self.notes: notes}
