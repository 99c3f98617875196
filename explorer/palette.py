"""Palette: four corners (classes or images) blended in latent space, bilinearly or along great circles."""

from __future__ import annotations

import gradio as gr
import torch
from PIL import Image

from vae_models import BaseVAE, explore
from vae_models.cartography import palette_codes
from vae_models.catalog import ModelInfo

from . import text
from .common import display, encode_upload, notes_text, user_errors
from .components import IMAGE_TYPES, UI_ONLY, Tab, free_dropdown, picture, status_note
from .page import Page

PALETTE_CORNERS = ("top left", "top right", "bottom left", "bottom right")


class PaletteTab(Tab):
    id, title = "palette", "Palette"

    def layout(self, page: Page) -> None:
        gr.Markdown(
            "Four corners blended in latent space: each image decodes a code between them, blended bilinearly "
            "or along great circles."
        )
        self.source = gr.Radio(["classes", "images"], value="classes", label="Corners")
        with gr.Row() as self.class_row:
            self.classes = [free_dropdown(f"Class, {corner}") for corner in PALETTE_CORNERS]
        with gr.Row(visible=False) as self.image_row:
            self.images = [
                gr.File(label=f"Image, {corner}", file_types=IMAGE_TYPES, type="filepath") for corner in PALETTE_CORNERS
            ]
        with gr.Row():
            self.steps = gr.Slider(2, 16, value=7, step=1, label="Images per side")
            self.mode = gr.Radio(["linear", "spherical"], value="linear", label="Blend")
            self.button = gr.Button("Blend the corners", variant="primary")
        self.status = page.status()
        self.grid = picture("Palette")
        self.notes = status_note()
        self.refreshed = [*self.classes, self.grid, self.notes]

    def wire(self, page: Page) -> None:
        self.source.change(
            lambda s: (gr.Row(visible=s == "classes"), gr.Row(visible=s == "images")),
            [self.source],
            [self.class_row, self.image_row],
            **UI_ONLY,
        )
        inputs = [page.model, self.source, self.steps, self.mode, *self.classes, *self.images]
        page.report(self.button.click(self.palette, inputs, [self.grid, self.notes], api_name="palette"), self.status)

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
        model, info = self.explorer.resolve(name)
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
            ends = [self.explorer.class_end(model, info, corner) for corner in corners]
            return [e[0] for e in ends], [e[1] for e in ends], []
        encoded = [encode_upload(model, info, corner) for corner in corners]
        return [e[0] for e in encoded], [e[1] for e in encoded], [n for e in encoded for n in e[2]]

    def refresh(self, name: str, values: dict) -> dict:
        """For a new model: four different classes at the corners (as far as there are) and their
        palette, so no grid is stale."""
        names = self.explorer.catalog.info(name).class_names
        corners = [names[i % len(names)] for i in range(4)]
        try:
            grid, notes = self.palette(name, "classes", 7, "linear", *corners)
        except gr.Error as err:  # no latent cache: class centres are unknown (the note says so)
            grid, notes = None, text.switched(name, err.message)
        dropdowns = {dropdown: gr.Dropdown(names, value=c) for dropdown, c in zip(self.classes, corners, strict=True)}
        return dropdowns | {self.grid: grid, self.notes: notes}
