"""Latent map: the test codes projected (PCA, 3-D PCA, t-SNE), the upload as a star, a click that
decodes the point under it, and Kingma & Welling's manifold over the PCA plane."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import torch
from PIL import Image

from vae_models import explore
from vae_models.cartography import MapInverse, manifold_codes

from . import text
from .common import AUTO_CLASS, class_labels, display, user_errors
from .components import UI_ONLY, Tab, free_dropdown, picture, reveal
from .maps import MAP_METHODS, PLANE_BASES, encode_test_set, fresh_map, map_figure, map_inverse, plane_base
from .page import Page
from .traverse import Start

MAX_MANIFOLD_STEPS = 24
# Before "Decode this point" runs: a click on the map (page.js keeps it) replaces the x and y fields.
TAKE_MAP_CLICK = (
    "(...args) => { const p = window.vaeTakeMapClick(); if (p) { args[2] = p[0]; args[3] = p[1]; } return args; }"
)


class Point(NamedTuple):
    """A map location decoded: the image, its code, how it was found, and the point (moved inside the
    map if it lay outside)."""

    point_image: Image.Image | None
    point_code: list[float] | None
    point_note: str
    x: float
    y: float


class LatentMapTab(Tab):
    id, title = "latent-map", "Latent map"

    def layout(self, page: Page) -> None:
        with gr.Row():
            self.method = gr.Radio(list(MAP_METHODS), value="PCA", label="Projection")
            self.colour_by = free_dropdown("Colour by", ["label"])
            self.show_button = gr.Button("Show map", variant="primary")
            self.recompute_button = gr.Button("Recompute")
        gr.Markdown(
            "**Click anywhere on a 2-D map** to decode that point. The image uploaded on the *Reconstruct* tab "
            "appears as a red star."
        )
        self.status = page.status()
        with gr.Row():
            with gr.Column(scale=3):
                self.plot = gr.Plot(label="Latent space", elem_id="latent-map-plot")
                # Whether the map shown is Recompute's (a click decodes on its points). Inside the tab: a
                # State directly under gr.Tabs counts as a tab.
                self.recomputed = gr.State(False)
                self.caption = gr.Markdown()
            with gr.Column(scale=1, min_width=260):
                self.point_image = picture("Decoded point")
                self.point_note = gr.Markdown()
                with gr.Row():
                    self.x = gr.Number(0.0, label="x", elem_id="map-x")
                    self.y = gr.Number(0.0, label="y", elem_id="map-y")
                self.base = gr.Radio(list(PLANE_BASES), value=PLANE_BASES[0], label="Other components (PCA map)")
                self.decode_button = gr.Button("Decode this point", elem_id="map-decode")
                self.point_code = gr.JSON(label="Its code (z)", elem_id="point-code")
                self.to_traverse = gr.Button("Start Traverse here")
                self.start_endpoint = gr.Button(visible=False)
        with gr.Row():
            self.steps = gr.Slider(2, MAX_MANIFOLD_STEPS, value=16, step=1, label="Manifold: images per side")
            self.extent = gr.Slider(0.5, 4, value=2, step=0.5, label="Extent (± sd of the map's points)")
            self.manifold_button = gr.Button("Manifold view")
        self.manifold_image = picture(
            "Manifold: the PCA plane decoded (centre: the mean code; up and right as on the map)",
            height=720,  # 16 × 16 digits at the page's 8× scale would be over 1,000 px tall
            visible=False,
        )
        self.refresh_inputs = [self.method]
        self.refreshed = [self.colour_by, self.plot, self.caption, self.recomputed, *self.panels(Point)]
        self.refreshed.append(self.manifold_image)

    def wire(self, page: Page) -> None:
        model, class_choice = page.model, page.class_choice
        upload, traverse = page.tab("reconstruct").upload, page.tab("traverse")
        inputs, drawn = [model, self.method, self.colour_by, upload], [self.plot, self.caption]
        shown = self.show_button.click(self.latent_map, inputs, drawn, api_name="latent_map")
        page.report(shown, self.status)
        redrawn = self.recompute_button.click(self.recompute_map, inputs, drawn, api_name="recompute_map")
        page.report(redrawn, self.status)
        redrawn.success(lambda: True, None, [self.recomputed], **UI_ONLY)
        # Every other drawing of the map is the cached one.
        cached = [self.show_button.click, self.method.change, self.colour_by.input, upload.upload]
        gr.on(cached, lambda: False, None, [self.recomputed], **UI_ONLY)
        # A new upload or drawing shows on the map at once, as the red star.
        star = {"fn": self.map_with_image, "inputs": inputs, "outputs": drawn, "show_progress": "hidden"}
        upload.upload(**star, **UI_ONLY)
        page.drawn.then(**star, **UI_ONLY).then(lambda: False, None, [self.recomputed], **UI_ONLY)
        # The map on screen is the one a click decodes on: a new projection or colouring redraws it.
        redraws = [self.method.change, self.colour_by.input]
        page.report(gr.on(redraws, self.latent_map, inputs, drawn, **UI_ONLY), self.status)
        point_inputs = [model, self.method, self.x, self.y, self.base, traverse.code, class_choice, self.recomputed]
        clicked = self.decode_button.click(
            self.as_panels(self.decode_point),
            point_inputs,
            self.panels(Point),
            api_name="decode_point",
            js=TAKE_MAP_CLICK,
        )
        page.report(clicked, self.status)

        def start_from_map(values: dict) -> dict:
            return traverse.named(
                traverse.start_from_point(values[model], values[self.point_code], values[class_choice])
            )

        start_inputs, start_panels = [model, self.point_code, class_choice], traverse.panels(Start)
        started = page.carry(self.to_traverse.click, "traverse", start_from_map, start_inputs, start_panels)
        page.report(started, self.status)
        traverse.started(page, started)
        # The endpoint the page had: a point's code as the start, without opening the tab.
        point_start = traverse.as_panels(traverse.start_from_point)
        self.start_endpoint.click(point_start, start_inputs, start_panels, api_name="start_from_point")
        manifold_inputs = [model, self.steps, self.extent, self.base, traverse.code, class_choice]
        made = self.manifold_button.click(self.manifold, manifold_inputs, [self.manifold_image], api_name="manifold")
        page.report(made, self.status)
        reveal([self.manifold_button.click], self.manifold_image)

    # --- the map --------------------------------------------------------------------------------

    @user_errors
    def latent_map(
        self, name: str, method: str = "PCA", colour_by: str = "label", path: str | None = None
    ) -> tuple[Any, str]:
        model, info = self.explorer.resolve(name)
        latents = self.explorer.catalog.latents(name)
        if latents is None:
            raise ValueError(f"{name} has no latent cache; press Recompute to encode the test set")
        return map_figure(model, info, latents, method, colour_by, path)

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
        model, info = self.explorer.resolve(name)
        latents = dict(self.explorer.catalog.latents(name) or {}) or encode_test_set(model, info)
        progress(0.1, desc=f"projecting with {method}")
        fresh, how = fresh_map(latents, method, lambda done: progress(0.1 + 0.85 * done, desc=f"{method}"))
        progress(0.97, desc="drawing")
        if method in ("PCA", "t-SNE"):  # a click on this map decodes on its own points (seeded: the same for all)
            self.explorer.remember((name, "map", method, "recomputed"), map_inverse(fresh, method))
        figure, caption = map_figure(model, info, fresh, method, colour_by, path)
        return figure, f"{how} {caption}"

    def map_with_image(self, name: str, method: str, colour_by: str, path: str | None) -> tuple[Any, ...]:
        """A new upload or drawing on the cached map, as the red star; left as it is where there is no
        cached map or the image cannot be read (the Reconstruct tab already says why)."""
        try:
            return self.latent_map(name, method, colour_by, path)
        except gr.Error:
            return gr.skip(), gr.skip()

    # --- the map as an instrument ---------------------------------------------------------------

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
    ) -> Point:
        """The map location (x, y) decoded; on the map Recompute drew, with `recomputed`."""
        model, info = self.explorer.resolve(name)
        inverse = self.map_inverse(name, method, recomputed)
        code, point, notes = inverse.code_at((float(x), float(y)), plane_base(inverse, base, start, info))
        labels = class_labels(model, info, class_choice)
        image = display(explore.decode(model, torch.from_numpy(code).float(), labels))
        if labels is not None:
            notes.append(f"decoded as class {info.class_names[labels]} (the Class control at the top picks another)")
        return Point(image, code.tolist(), text.point_text(method, base, notes), float(point[0]), float(point[1]))

    def map_inverse(self, name: str, method: str, recomputed: bool = False) -> MapInverse:
        """The inverse of the cached map, made once per model and method, or with `recomputed`, of the
        map Recompute drew last (the cached one if none was)."""
        if recomputed and (drawn := self.explorer.recall((name, "map", method, "recomputed"))) is not None:
            return drawn

        def make() -> MapInverse:
            latents = self.explorer.catalog.latents(name)
            if latents is None:
                raise ValueError(f"{name} has no latent cache, so its map has no points to decode from")
            return map_inverse(latents, method)

        return self.explorer.memo((name, "map", method), make)

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
        model, info = self.explorer.resolve(name)
        if not 2 <= int(steps) <= MAX_MANIFOLD_STEPS or not 0 < float(extent) <= 5:
            raise ValueError(f"the manifold needs 2 to {MAX_MANIFOLD_STEPS} steps and an extent in (0, 5] sd")
        inverse = self.map_inverse(name, "PCA")
        half = float(extent) * inverse.coords.std(0)
        box = (-half[0], half[0], -half[1], half[1])
        codes = manifold_codes(inverse.pca, plane_base(inverse, base, start, info), box, int(steps))
        labels = class_labels(model, info, class_choice)
        return display(explore.decode(model, torch.from_numpy(codes).float(), labels), nrow=int(steps))

    # --- a new model ------------------------------------------------------------------------------

    def refresh(self, name: str, values: dict) -> dict:
        """For a new model: its colour choices, its cached map coloured by label, and the map's origin
        decoded (the mean code); without a cache, the old map and point are cleared with a word of why.
        No manifold of the previous model."""
        colours = gr.Dropdown(self.explorer.catalog.info(name).colour_choices, value="label")
        updates = {self.colour_by: colours, self.recomputed: False, self.manifold_image: gr.Image(None, visible=False)}
        if self.explorer.catalog.latents(name) is None:
            why = text.switched(name, "it has no latent cache, so there is no map yet: press **Recompute**.")
            return updates | {self.plot: None, self.caption: why} | self.named(Point(None, None, why, 0.0, 0.0))
        method = values[self.method] if values[self.method] in MAP_METHODS else "PCA"
        figure, caption = self.latent_map(name, method, "label", None)
        point = self.decode_point(name, "PCA", 0.0, 0.0)
        origin = f"The map's origin, the mean code. {point.point_note} Click anywhere on a 2-D map."
        return updates | {self.plot: figure, self.caption: caption} | self.named(point._replace(point_note=origin))
