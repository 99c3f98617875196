"""Reconstruct: an upload, an example or a drawing, as the model sees it and as it reconstructs it;
every model of the same data side by side; and the image carried on to Traverse or Interpolate."""

from __future__ import annotations

import contextlib
import io
from typing import NamedTuple

import gradio as gr
from PIL import Image

from vae_models import explore
from vae_models.images import ImageInputError

from . import canvas
from .common import AUTO_CLASS, class_labels, display, load_upload, notes_text, output_file, user_errors
from .components import IMAGE_TYPES, UI_ONLY, Tab, examples_gallery, picture, status_note
from .page import REFRESH_CANVAS, Page
from .traverse import Start


class Shown(NamedTuple):
    """The tab's panels for one image: the model's view, the reconstruction, and the line beneath."""

    converted: Image.Image | None
    recon: Image.Image | None
    notes: str


def shown(reading: canvas.Reading) -> Shown:
    return Shown(
        display(reading.view), display(reading.reconstruction), notes_text([*reading.notes, *reading.class_read])
    )


class Picked(NamedTuple):
    """A click on an example: it becomes the upload and is reconstructed at once."""

    upload: str
    converted: Image.Image
    recon: Image.Image
    notes: str


class Refreshed(NamedTuple):
    """The tab for a new model: the image reconstructed afresh, the examples, Compare closed."""

    upload: str | None
    converted: Image.Image | None
    recon: Image.Image | None
    notes: str
    gallery: list[tuple[str, str]]
    compared: None
    compare_note: str
    compare_box: gr.Column
    comparing: bool
    shown_data: str


class ReconstructTab(Tab):
    id, title = "reconstruct", "Reconstruct"

    def layout(self, page: Page) -> None:
        with gr.Row():
            self.upload = gr.File(label="Image (PNG, JPEG, WebP, GIF, BMP)", file_types=IMAGE_TYPES, type="filepath")
            with gr.Column():
                self.converted = picture("Input as the model sees it")
                self.notes = status_note()
                self.as_is = gr.Checkbox(
                    False,
                    elem_id="as-is",
                    label="Read as is: no ink separation, cropping or thickening (see out-of-domain behaviour)",
                )
            self.recon = picture("Reconstruction")
        with gr.Row():
            self.reconstruct_button = gr.Button("Reconstruct", variant="primary")
            self.compare_button = gr.Button("Compare models")
            self.to_traverse = gr.Button("Traverse from this image")
            self.to_interpolate = gr.Button("Interpolate from this image")
        with gr.Accordion("Or draw: the reconstruction follows your strokes", open=False):
            self.canvas = canvas.canvas(self.explorer)
        self.status = page.status()
        self.gallery = examples_gallery("Examples: click one to reconstruct it")
        with gr.Column(visible=False) as self.compare_box:  # shown by Compare models, hidden by a switch
            self.compared = gr.Gallery(
                label="Every model trained on the same data", columns=6, height="auto", format="png"
            )
            self.compare_note = status_note()
        # The dataset whose example or upload the tab shows, and whether Compare's gallery is open
        # (and so follows the canvas). Inside the tab: a State directly under gr.Tabs counts as a tab.
        self.shown_data = gr.State(None)
        self.comparing = gr.State(False)
        self.refresh_inputs = [self.upload, self.shown_data]
        self.refreshed = self.panels(Refreshed)

    def wire(self, page: Page) -> None:
        model, class_choice = page.model, page.class_choice
        shown_panels = self.panels(Shown)
        inputs = [model, self.upload, class_choice, self.as_is]
        triggers = [self.reconstruct_button.click, self.upload.upload, self.as_is.input]
        page.report(gr.on(triggers, self.as_panels(self.reconstruct), inputs, shown_panels), self.status)
        drawn = self.canvas.input(
            self.as_panels(self.reconstruct_drawing),
            [model, self.canvas, class_choice, self.as_is],
            shown_panels,
            trigger_mode="always_last",  # while strokes keep coming, only the latest drawing is read
            show_progress="hidden",
            **UI_ONLY,  # a script sends a file to /reconstruct
        )
        page.report(drawn, self.status)
        gr.on([self.as_is.input, class_choice.input], None, None, js=REFRESH_CANVAS, queue=False)
        # Then the drawing stands as the upload, after its reconstruction is on its way to the page.
        page.drawn = drawn.then(self.drawing_file, [self.canvas], [self.upload], **UI_ONLY)
        comparison = [self.compared, self.compare_note]
        follow = [model, self.upload, self.as_is, self.comparing]
        page.drawn.then(self.compare_if_open, follow, comparison, **UI_ONLY)
        picked = self.gallery.select(
            self.as_panels(self.reconstruct_example), [model, class_choice], self.panels(Picked)
        )
        page.report(picked, self.status)
        compared = self.compare_button.click(
            self.compare, [model, self.upload, self.as_is], comparison, api_name="compare"
        )
        page.report(compared, self.status)
        opened = {"fn": lambda: (gr.Column(visible=True), True), "queue": False, **UI_ONLY}
        self.compare_button.click(inputs=None, outputs=[self.compare_box, self.comparing], **opened)
        self._wire_onwards(page)

    def _wire_onwards(self, page: Page) -> None:
        """The image uploaded or drawn goes on: one click makes it the Traverse start or Interpolate's
        image A (and opens that tab)."""
        traverse, interpolate = page.tab("traverse"), page.tab("interpolate")

        def start_from_upload(values: dict) -> dict:
            start = traverse.set_start(
                values[page.model], "uploaded image", 0, values[self.upload], values[page.class_choice]
            )
            return traverse.named(start)

        def image_a_from_upload(values: dict) -> dict:
            return {interpolate.image_a: values[self.upload], interpolate.source: "images"}

        inputs = [page.model, self.upload, page.class_choice]
        started = page.carry(self.to_traverse.click, "traverse", start_from_upload, inputs, traverse.panels(Start))
        traverse.started(page, started)
        ends = [interpolate.image_a, interpolate.source]
        page.carry(self.to_interpolate.click, "interpolate", image_a_from_upload, [self.upload], ends)

    # --- callbacks ------------------------------------------------------------------------------

    @user_errors
    def reconstruct(self, name: str, path: str | None, class_choice: str = AUTO_CLASS, as_is: bool = False) -> Shown:
        """The model's view of the upload, its reconstruction, and how it was read (with, for the
        conditional VAE on "auto", the class it read: "read as a 7, p = 0.93")."""
        model, info = self.explorer.resolve(name)
        return shown(canvas.reconstructed(model, info, *load_upload(model, info, path, as_is), class_choice))

    @user_errors
    def reconstruct_drawing(
        self, name: str, drawing: dict | None, class_choice: str = AUTO_CLASS, as_is: bool = False
    ) -> Shown:
        """The canvas, read like an upload (a drawing is dark ink on white paper): as `reconstruct`."""
        reading = canvas.drawing_reading(self.explorer, name, drawing, class_choice, bool(as_is))
        if reading is None:  # cleared, or not drawn on yet: nothing to say but that
            return Shown(None, None, "_The canvas is empty: draw on it._")
        return shown(reading)

    def drawing_file(self, drawing: dict | None) -> str | None:
        """The drawing as a PNG on white paper, to stand as the upload: the other tabs (the map's star,
        Traverse, Interpolate, Compare) then use it like a photo. None for an empty canvas."""
        with contextlib.suppress(ImageInputError):
            paper = canvas.drawing_on_paper(drawing)
            if paper is not None:
                buffer = io.BytesIO()
                paper.save(buffer, "PNG")
                return output_file(buffer.getvalue(), ".png")
        return None

    @user_errors
    def compare(self, name: str, path: str | None, as_is: bool = False) -> tuple[list[tuple[Image.Image, str]], str]:
        """Every model of the same data reconstructs the upload; how it was read is noted once."""
        x, notes = load_upload(*self.explorer.resolve(name), path, as_is)
        results = [(display(x), "input")]
        for other in self.explorer.catalog.same_data(name):
            model, info = self.explorer.resolve(other)
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

    @user_errors
    def reconstruct_example(self, name: str, class_choice: str, evt: gr.SelectData) -> Picked:
        """A click on an example thumbnail: it becomes the upload and is reconstructed at once."""
        path = self.explorer.example_path(name, evt.index)
        return Picked(path, *self.reconstruct(name, path, class_choice))

    def refresh(self, name: str, values: dict) -> dict:
        """For a new model: the upload reconstructed by it, or, when the data changed (or nothing was
        uploaded yet), the new data's first example; Compare's gallery is cleared and hidden, and
        stops following the canvas."""
        return self.named(self.refreshed_for(name, values[self.upload], values[self.shown_data]))

    @user_errors
    def refreshed_for(self, name: str, path: str | None, shown_data: str | None) -> Refreshed:
        dataset = self.explorer.catalog.info(name).dataset
        same_data = bool(path) and shown_data == dataset
        if not same_data:
            path = self.explorer.example_path(name, 0) if self.explorer.examples.get(dataset) else None
        images = self.reconstruct(name, path, AUTO_CLASS) if path else Shown(None, None, "")
        # Another model of the same data keeps the upload and the examples as they are on the page.
        upload, gallery = (gr.skip(), gr.skip()) if same_data else (path, self.explorer.example_gallery(name))
        return Refreshed(upload, *images, gallery, None, "", gr.Column(visible=False), False, dataset)
