"""VAE Latent Explorer: reconstruct, sample, traverse and map what a VAE has learned.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--device auto|cpu|cuda]
                  [--checkpoints checkpoints/] [--hub OWNER/NAME ...] [--hub-timeout 5] [--runs DIR]

Hub models can also be listed in VAE_EXPLORER_HUB_MODELS (comma-separated). This
file is also the Hugging Face Space entry point.

This file lays out the page and starts the app; what each event does is in callbacks.py
(`Explorer`: parse the page's values, ask vae_models, present the result), and the Train
tab's in training_callbacks.py.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

import page_text
from callbacks import (
    AUTO_CLASS,
    CANVAS_SIDE,
    MAP_METHODS,
    MAX_MANIFOLD_STEPS,
    MAX_SLIDERS,
    PALETTE_CORNERS,
    PLANE_BASES,
    SLIDER_SPAN,
    Explorer,
    default_model,
)
from examples import write_examples
from train.live import PRESETS, RunRequest, TrainingService, default_weight
from training_callbacks import RUN_HEADERS, TRAINING_DATASETS, TrainingTab, loss_figure, weight_field, weight_label
from vae_models import MODEL_TYPES, resolve_device
from vae_models.catalog import Catalog
from vae_models.images import MAX_FILE_BYTES

IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"]
HUB_ENV = "VAE_EXPLORER_HUB_MODELS"
LIVE_SECONDS = 1.5  # how often the Train tab asks for news of a run: updates stay under 3 s apart with jitter
CACHE_SECONDS = (600, 3600)  # every output is a new file (callbacks.display): every 10 min, drop those over 1 h old

# --- the page ---------------------------------------------------------------------------------

CSS = """
.grid-image img, .examples img { image-rendering: pixelated; }
.examples .thumbnail-item { min-width: 64px; }
.examples .grid-container { padding-top: 30px; }  /* below the gallery's label, not under it */
.status:empty { display: none; }
/* gradio marks every output of a failed event with a bare "Error" badge; the reason is already in
   the note beside the control and in the toast, so the badge (its tracker has a clear button) goes */
[data-testid=status-tracker]:has(.clear-status) { display: none; }
.scoreboard table { font-size: 12px; }  /* eight metric names side by side, unbroken, at 1400 px */
"""
UI_ONLY = {"api_visibility": "undocumented"}
# The page's own script: a click on the latent map decodes that point, and the URL follows the page.
PAGE_JS = (Path(__file__).with_name("page.js")).read_text()
CANVAS_JS = (Path(__file__).with_name("canvas.js")).read_text()
REFRESH_CANVAS = "() => { if (window.vaeCanvasRefresh) window.vaeCanvasRefresh(); }"  # canvas.js: read again
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

# Before "Decode this point" runs: a click on the map (page.js keeps it) replaces the x and y fields.
TAKE_MAP_CLICK = (
    "(...args) => { const p = window.vaeTakeMapClick(); if (p) { args[2] = p[0]; args[3] = p[1]; } return args; }"
)


class Page:
    """What every tab shares: the explorer, the model and class controls, the page, and the
    notes that keep each tab's last error until its next action."""

    def __init__(self, explorer: Explorer, demo: gr.Blocks, model: gr.Dropdown, class_choice: gr.Dropdown) -> None:
        self.explorer, self.demo, self.model, self.class_choice = explorer, demo, model, class_choice
        self.tabs: gr.Tabs | None = None
        self.statuses: list[gr.Markdown] = []
        self.actions: list[Any] = []  # the events a switch of model cancels
        self.model_updates: list[tuple] = []  # what on_model runs, for `open`
        self.drawn: Any = None  # the canvas's event that turns a drawing into the upload

    def status(self) -> gr.Markdown:
        """A note for a tab's errors, shown beside its controls (hidden while empty)."""
        note = gr.Markdown(elem_classes="status")
        self.statuses.append(note)
        return note

    def report(self, event: Any, status: gr.Markdown) -> None:
        """After `event`: its error, if it failed, stays in `status` until the next action; success clears it."""
        self.actions.append(event)
        event.success(None, None, [status], js="() => ''", queue=False)
        event.failure(self.explorer.last_error, None, [status], queue=False, **UI_ONLY)

    def on_model(self, fn: Any, inputs: list, outputs: list, **kwargs: Any) -> Any:
        """Run `fn` whenever the model changes, and when the page opens (`open`, once the link's model is set).

        These updates share one queue slot, so they finish in the order they were asked for: with two
        at a time, a slow update for the page's first model could land after the next model's and
        show the old model's examples and class control under the new model."""
        queue = {"concurrency_id": "model-updates", "concurrency_limit": 1}
        self.model_updates.append((fn, inputs, outputs, UI_ONLY | queue))
        return self.model.change(fn, inputs, outputs, **(UI_ONLY | queue | kwargs))

    def open(self, read_link: Any, outputs: list) -> Any:
        """When the page opens: first the link's state (`read_link` sets the model, among `outputs`),
        then every model update, one after another. A value set by a load event does not fire
        `.change`, so the updates follow it explicitly. Returns the last update's event."""
        event = self.demo.load(read_link, None, outputs, queue=False, **UI_ONLY)
        for fn, inputs, outs, kwargs in self.model_updates:  # one after another: the last one names the model
            event = event.then(fn, inputs, outs, **kwargs)
        return event

    def cancel_actions_on_switch(self) -> None:
        """A model switch cancels the actions still queued or running for the previous model, so
        their results cannot land under the new one; it also clears the error notes."""
        clear = f"() => Array({len(self.statuses)}).fill('')"
        self.model.change(None, None, self.statuses, js=clear, cancels=self.actions, queue=False)


def build_app(explorer: Explorer, service: TrainingService) -> gr.Blocks:
    catalog = explorer.catalog
    choices = [(catalog.info(name).summary(), name) for name in catalog.names]
    with gr.Blocks(title="VAE Latent Explorer", delete_cache=CACHE_SECONDS) as demo:
        gr.Markdown(
            "# VAE Latent Explorer\nReconstruct an image, sample the prior, drag the latents, and map the latent "
            "space of four kinds of VAE. Every action is also an API endpoint (see *Use via API* below)."
        )
        gr.Markdown("\n".join(f"⚠️ {w}" for w in catalog.warnings), visible=bool(catalog.warnings))
        with gr.Row():
            model = gr.Dropdown(choices, value=default_model(catalog), label="Model", scale=3)
            class_choice = _free_dropdown(
                "Class (conditional VAE)", [AUTO_CLASS], scale=1, visible=False, elem_id="class-choice"
            )
        link_note = gr.Markdown(elem_classes="status", elem_id="link-note")
        page = Page(explorer, demo, model, class_choice)
        with gr.Tabs() as page.tabs:
            upload, galleries, onwards = _reconstruct_tab(page)
            _sample_tab(page)
            _conditional_tab(page)
            traverse = _traverse_tab(page, upload)
            galleries.append(traverse.gallery)
            _latent_map_tab(page, upload, traverse)
            interpolate = _interpolate_tab(page)
            galleries.append(interpolate.gallery)
            _arithmetic_tab(page, traverse)
            _palette_tab(page)
            _train_tab(page, TrainingTab(explorer, service))
            _model_card_tab(page)
        page.on_model(explorer.class_dropdown, [model], [class_choice])
        page.on_model(lambda name: [explorer.example_gallery(name)] * len(galleries), [model], galleries)
        # Last of the model updates (they run in order): the page is all of one model once it shows its name.
        ready = gr.Textbox(visible="hidden", elem_id="model-ready", label="model shown")
        page.on_model(lambda name: name, [model], [ready])
        ready.change(None, None, None, js=REFRESH_CANVAS, queue=False)  # the drawing, read by the new model
        _shared_links(page, traverse, link_note)
        _your_image_onwards(page, upload, onwards, traverse, interpolate)
        page.cancel_actions_on_switch()
        for tab in page.tabs.children:  # the URL follows the tab shown (page.js)
            tab.select(None, None, None, js=f"() => window.vaeShare({{tab: {tab.id!r}}})", queue=False)
    return demo


def _shared_links(page: Page, traverse: TraverseParts, note: gr.Markdown) -> None:
    """A link carries the model, the tab and the Traverse code (page.js writes them into the URL as
    they change); opening it restores them: the model and tab first, the code once its model is shown."""
    pending = gr.State(None)
    shown = page.open(page.explorer.open_shared, [page.model, page.tabs, pending, note])
    outputs = [*traverse.start_outputs, pending, note]
    inputs = [page.model, pending, page.class_choice]
    traverse.started(shown.then(page.explorer.apply_shared_code, inputs, outputs, **UI_ONLY))
    share_model = {"fn": None, "inputs": [page.model], "js": "(m) => window.vaeShare({model: m})", "queue": False}
    shown.then(**share_model)
    page.model.change(**share_model)
    traverse.code.change(None, [traverse.code], None, js="(c) => window.vaeShare({code: c})", queue=False)


def _your_image_onwards(
    page: Page,
    upload: gr.File,
    buttons: tuple[gr.Button, gr.Button],
    traverse: TraverseParts,
    interpolate: InterpolateParts,
) -> None:
    """The image uploaded or drawn on the Reconstruct tab goes on: one click makes it the Traverse
    start or Interpolate's image A (and opens that tab)."""
    explorer, to_traverse, to_interpolate = page.explorer, *buttons

    def start_from_upload(name: str, path: str | None, class_choice: str) -> list:
        return explorer.set_start(name, "uploaded image", 0, path, class_choice)

    inputs = [page.model, upload, page.class_choice]
    started = to_traverse.click(start_from_upload, inputs, traverse.start_outputs, **UI_ONLY)
    started.success(lambda: gr.Tabs(selected="traverse"), None, [page.tabs], **UI_ONLY)
    traverse.started(started)
    ends = [interpolate.image_a, interpolate.source]
    opened = to_interpolate.click(lambda path: (path, "images"), [upload], ends, **UI_ONLY)
    opened.success(lambda: gr.Tabs(selected="interpolate"), None, [page.tabs], **UI_ONLY)


def _free_dropdown(label: str, choices: list[str] = (), **kwargs: Any) -> gr.Dropdown:
    """A dropdown whose choices follow the model; the callbacks check the value, so API callers
    get the model's own list in the error rather than the page's first list."""
    choices = list(choices)
    return gr.Dropdown(choices, value=choices[0] if choices else None, label=label, allow_custom_value=True, **kwargs)


def _image(label: str, **kwargs: Any) -> gr.Image:
    return gr.Image(label=label, type="pil", format="png", interactive=False, elem_classes="grid-image", **kwargs)


def _animation(label: str) -> gr.Image:
    """An animated GIF, played in the page, with a download button."""
    return gr.Image(
        label=label,
        type="filepath",
        interactive=False,
        buttons=["download"],
        height=200,
        visible=False,  # shown by its button (`_reveal`), hidden again by a model switch: never an empty panel
        elem_classes="grid-image",
    )


def _reveal(triggers: list, panel: gr.components.Component) -> None:
    """Show `panel`, hidden until asked for, when one of `triggers` fires."""
    gr.on(triggers, lambda: gr.update(visible=True), None, [panel], queue=False, **UI_ONLY)


def _examples(label: str) -> gr.Gallery:
    """Example thumbnails of the model's data, captioned with their class; a click selects one."""
    return gr.Gallery(
        label=label,
        columns=10,
        height=170,  # one row of thumbnails ("auto" left a tall empty panel under them)
        allow_preview=False,
        object_fit="contain",
        elem_classes="examples",
        interactive=False,
    )


def _seed_and_temperature() -> tuple[gr.Number, gr.Slider]:
    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
    temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature (std of z)")
    return seed, temperature


def _reconstruct_tab(page: Page) -> tuple[gr.File, list[gr.Gallery], tuple[gr.Button, gr.Button]]:
    explorer, model = page.explorer, page.model
    with gr.Tab("Reconstruct", id="reconstruct"):
        with gr.Row():
            upload = gr.File(label="Image (PNG, JPEG, WebP, GIF, BMP)", file_types=IMAGE_TYPES, type="filepath")
            with gr.Column():
                converted = _image("Input as the model sees it")
                notes = gr.Markdown(elem_classes="status")
                as_is = gr.Checkbox(
                    False,
                    elem_id="as-is",
                    label="Read as is: no ink separation, cropping or thickening (see out-of-domain behaviour)",
                )
            recon = _image("Reconstruction")
        with gr.Row():
            reconstruct = gr.Button("Reconstruct", variant="primary")
            compare = gr.Button("Compare models")
            to_traverse = gr.Button("Traverse from this image")
            to_interpolate = gr.Button("Interpolate from this image")
        with gr.Accordion("Or draw: the reconstruction follows your strokes", open=False):
            canvas = _canvas(explorer)
        status = page.status()
        gallery = _examples("Examples: click one to reconstruct it")
        with gr.Column(visible=False) as compare_box:  # shown by Compare models, hidden by a switch
            compared = gr.Gallery(label="Every model trained on the same data", columns=6, height="auto", format="png")
            compare_note = gr.Markdown(elem_classes="status")
        shown = gr.State(None)  # the dataset whose example or upload the tab shows (inside the tab: a
        # State directly under gr.Tabs counts as a tab and shifts every later tab's index on the page)
        comparing = gr.State(False)  # whether Compare's gallery is open, and so follows the canvas
    inputs = [model, upload, page.class_choice, as_is]
    run = gr.on(
        [reconstruct.click, upload.upload, as_is.input], explorer.reconstruct, inputs, [converted, recon, notes]
    )
    page.report(run, status)
    drawn = canvas.input(
        explorer.reconstruct_drawing,
        [model, canvas, page.class_choice, as_is],
        [converted, recon, notes],
        trigger_mode="always_last",  # while strokes keep coming, only the latest drawing is read
        show_progress="hidden",
        **UI_ONLY,  # a script sends a file to /reconstruct
    )
    page.report(drawn, status)
    gr.on([as_is.input, page.class_choice.input], None, None, js=REFRESH_CANVAS, queue=False)
    # Then the drawing stands as the upload, after its reconstruction is on its way to the page.
    page.drawn = drawn.then(explorer.drawing_file, [canvas], [upload], **UI_ONLY)
    page.drawn.then(explorer.compare_if_open, [model, upload, as_is, comparing], [compared, compare_note], **UI_ONLY)
    picked = gallery.select(explorer.reconstruct_example, [model, page.class_choice], [upload, converted, recon, notes])
    page.report(picked, status)
    compared_event = compare.click(
        explorer.compare, [model, upload, as_is], [compared, compare_note], api_name="compare"
    )
    page.report(compared_event, status)
    compare.click(lambda: (gr.Column(visible=True), True), None, [compare_box, comparing], queue=False, **UI_ONLY)
    page.on_model(
        explorer.refresh_reconstruct,
        [model, upload, shown],
        [upload, converted, recon, notes, compared, compare_note, compare_box, comparing, shown],
    )
    return upload, [gallery], (to_traverse, to_interpolate)


def _canvas(explorer: Explorer) -> gr.HTML:
    """A canvas to draw on with a mouse, pen or finger, with a brush size, Undo and Clear, and beside
    it the model's view and reconstruction of the drawing (canvas.js). Its value is the strokes."""

    def preview_drawing(asked: Any) -> dict[str, str]:  # a plain function: gradio marks it as callable from the page
        return explorer.preview_drawing(asked)

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
          <div class="sketch-preview" aria-live="polite">{page_text.EMPTY_CANVAS}</div>
        </div>
        """,
        css_template=CANVAS_CSS,
        js_on_load=CANVAS_JS,
        server_functions=[preview_drawing],
        elem_id="canvas",
    )


def _sample_tab(page: Page) -> None:
    with gr.Tab("Sample", id="sample"):
        with gr.Row():
            count = gr.Slider(1, 256, value=64, step=1, label="Samples")
            seed, temperature = _seed_and_temperature()
        button = gr.Button("Sample the prior", variant="primary")
        status = page.status()
        grid = _image("Prior samples")
    inputs = [page.model, count, seed, temperature]
    page.report(button.click(page.explorer.sample, inputs, [grid], api_name="sample"), status)
    page.on_model(page.explorer.sample, inputs, [grid])


def _conditional_tab(page: Page) -> None:
    explorer = page.explorer
    with gr.Tab("Conditional", id="conditional"):
        why = gr.Markdown(visible=False)
        switch = gr.Button(visible=False, variant="primary")
        with gr.Column(visible=False) as controls:
            gr.Markdown("Pick a class in the **Class** control at the top, or see every class in the same styles.")
            with gr.Row():
                count = gr.Slider(1, 64, value=16, step=1, label="Samples")
                seed, temperature = _seed_and_temperature()
            with gr.Row():
                generate = gr.Button("Generate this class", variant="primary")
                styles = gr.Slider(1, 16, value=8, step=1, label="Styles (columns)")
                class_style = gr.Button("Class × style grid")
            status = page.status()
            grid = _image("Samples")
    wanted = [page.model, page.class_choice, count, seed, temperature]
    page.report(generate.click(explorer.generate, wanted, [grid], api_name="generate"), status)
    styled = class_style.click(
        explorer.class_style, [page.model, styles, seed, temperature], [grid], api_name="class_style"
    )
    page.report(styled, status)
    page.on_model(explorer.conditional_panel, [page.model], [controls, why, switch, grid])
    switch.click(explorer.switch_to_conditional, [page.model], [page.model], **UI_ONLY)


@dataclasses.dataclass
class TraverseParts:
    """What other tabs use of the Traverse tab: its gallery, its current code, and the outputs that
    set its start point (code, its line, label, decoded image, sliders)."""

    gallery: gr.Gallery
    code: gr.JSON
    start_outputs: list
    redraw: dict  # after an event that moved the start: the grid drawn around the new start
    actions: list  # the page's actions that a model switch cancels

    def started(self, event: Any) -> None:
        """After `event` set the start: the grid follows (never a grid around the previous start)."""
        self.actions += [event, event.success(**self.redraw)]


def _traverse_tab(page: Page, upload: gr.File) -> TraverseParts:
    explorer, model, class_choice = page.explorer, page.model, page.class_choice
    with gr.Tab("Traverse", id="traverse"):
        with gr.Row():
            source = gr.Radio(["zero", "test image", "uploaded image"], value="zero", label="Start from")
            index = gr.Number(0, label="Test image index", precision=0, minimum=0)
            set_start = gr.Button("Set start point")
        gallery = _examples("Or click an example to start from it")
        status = page.status()
        code = gr.JSON([], label="Start code (z)", visible=False)  # the full code, for the API and the grid
        code_line = gr.Markdown()
        start_label = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2):
                note = gr.Markdown()
                sliders = [
                    gr.Slider(-SLIDER_SPAN, SLIDER_SPAN, value=0, step=0.05, visible=False) for _ in range(MAX_SLIDERS)
                ]
            with gr.Column(scale=1):
                decoded = _image("Decoded")
        with gr.Row():
            steps = gr.Slider(3, 15, value=9, step=1, label="Steps per row")
            span = gr.Slider(0.5, 5, value=SLIDER_SPAN, step=0.5, label="Sweep ±")
            traverse = gr.Button("Traversal grid", variant="primary")
        gr.Markdown("Each row of the grid sweeps one latent over ±span around the sliders' values (the middle column).")
        grid = _image("Traversal grid")
        with gr.Row():
            latent = _free_dropdown("Animate one latent (its row of the grid)", scale=2)
            animate = gr.Button("Animate (GIF)", scale=1)
            animated = _animation("Animation")
        decode = gr.Button(visible=False)
    start_outputs = [code, code_line, start_label, decoded, *sliders]
    moved = set_start.click(
        explorer.set_start, [model, source, index, upload, class_choice], start_outputs, api_name="set_start"
    )
    page.report(moved, status)
    grid_inputs = [model, code, steps, span, class_choice, start_label]
    # The button's event first: it names the /traverse endpoint (the redraws after a new start reuse its fn).
    swept = traverse.click(explorer.traverse, grid_inputs, [grid], api_name="traverse")
    redraw = {"fn": explorer.traverse, "inputs": grid_inputs, "outputs": [grid], **UI_ONLY}
    parts = TraverseParts(gallery, code, start_outputs, redraw, page.actions)
    parts.started(moved)
    picked = gallery.select(explorer.start_from_example, [model, class_choice], start_outputs)
    page.report(picked, status)
    parts.started(picked)
    page.on_model(explorer.reset_traverse, [model, steps, span], [*start_outputs, grid, note])
    gr.on(
        [slider.input for slider in sliders],
        explorer.decode_sliders,
        [model, code, start_label, class_choice, *sliders],
        [decoded, code, code_line],
        trigger_mode="always_last",
        show_progress="hidden",
        **UI_ONLY,
    )
    decode.click(explorer.decode, [model, code, class_choice], [decoded], api_name="decode")
    page.report(swept, status)
    gif_inputs = [model, code, latent, steps, span, class_choice]
    gif = animate.click(explorer.animate_traversal, gif_inputs, [animated], api_name="animate_traversal")
    _reveal([animate.click], animated)
    page.report(gif, status)
    page.on_model(explorer.animation_latents, [model], [latent, animated])
    return parts


def _latent_map_tab(page: Page, upload: gr.File, traverse: TraverseParts) -> None:
    explorer, model, class_choice = page.explorer, page.model, page.class_choice
    with gr.Tab("Latent map", id="latent-map"):
        with gr.Row():
            method = gr.Radio(list(MAP_METHODS), value="PCA", label="Projection")
            colour_by = _free_dropdown("Colour by", ["label"])
            show = gr.Button("Show map", variant="primary")
            recompute = gr.Button("Recompute")
        gr.Markdown(
            "**Click anywhere on a 2-D map** to decode that point. The image uploaded on the *Reconstruct* tab "
            "appears as a red star."
        )
        status = page.status()
        with gr.Row():
            with gr.Column(scale=3):
                plot = gr.Plot(label="Latent space", elem_id="latent-map-plot")
                # Whether the map shown is Recompute's (a click decodes on its points). Inside the tab: a
                # State directly under gr.Tabs counts as a tab.
                recomputed = gr.State(False)
                info = gr.Markdown()
            with gr.Column(scale=1, min_width=260):
                point_image = _image("Decoded point")
                point_note = gr.Markdown()
                with gr.Row():
                    x, y = gr.Number(0.0, label="x", elem_id="map-x"), gr.Number(0.0, label="y", elem_id="map-y")
                base = gr.Radio(list(PLANE_BASES), value=PLANE_BASES[0], label="Other components (PCA map)")
                decode = gr.Button("Decode this point", elem_id="map-decode")
                point_code = gr.JSON(label="Its code (z)", elem_id="point-code")
                to_traverse = gr.Button("Start Traverse here")
        with gr.Row():
            steps = gr.Slider(2, MAX_MANIFOLD_STEPS, value=16, step=1, label="Manifold: images per side")
            extent = gr.Slider(0.5, 4, value=2, step=0.5, label="Extent (± sd of the map's points)")
            show_manifold = gr.Button("Manifold view")
        manifold = _image(
            "Manifold: the PCA plane decoded (centre: the mean code; up and right as on the map)",
            height=720,  # 16 × 16 digits at the page's 8× scale would be over 1,000 px tall
            visible=False,
        )
    inputs = [model, method, colour_by, upload]
    page.report(show.click(explorer.latent_map, inputs, [plot, info], api_name="latent_map"), status)
    redrawn = recompute.click(explorer.recompute_map, inputs, [plot, info], api_name="recompute_map")
    page.report(redrawn, status)
    redrawn.success(lambda: True, None, [recomputed], **UI_ONLY)
    # Every other drawing of the map is the cached one.
    cached = [show.click, method.change, colour_by.input, upload.upload, page.model.change]
    gr.on(cached, lambda: False, None, [recomputed], **UI_ONLY)
    page.on_model(explorer.reset_map, [model, method], [colour_by, plot, info])
    # A new upload or drawing shows on the map at once, as the red star.
    shown = {"fn": explorer.map_with_image, "inputs": inputs, "outputs": [plot, info], "show_progress": "hidden"}
    upload.upload(**shown, **UI_ONLY)
    page.drawn.then(**shown, **UI_ONLY).then(lambda: False, None, [recomputed], **UI_ONLY)
    # The map on screen is the one a click decodes on: a new projection or colouring redraws it.
    page.report(gr.on([method.change, colour_by.input], explorer.latent_map, inputs, [plot, info], **UI_ONLY), status)
    point_inputs = [model, method, x, y, base, traverse.code, class_choice, recomputed]
    point_outputs = [point_image, point_code, point_note, x, y]
    clicked = decode.click(
        explorer.decode_point, point_inputs, point_outputs, api_name="decode_point", js=TAKE_MAP_CLICK
    )
    page.report(clicked, status)
    started = to_traverse.click(explorer.start_from_point, [model, point_code, class_choice], traverse.start_outputs)
    page.report(started, status)
    started.success(lambda: gr.Tabs(selected="traverse"), None, [page.tabs], **UI_ONLY)
    traverse.started(started)
    manifold_inputs = [model, steps, extent, base, traverse.code, class_choice]
    page.report(show_manifold.click(explorer.manifold, manifold_inputs, [manifold], api_name="manifold"), status)
    _reveal([show_manifold.click], manifold)
    page.on_model(explorer.reset_point, [model], [point_image, point_code, point_note, x, y, manifold])


def _arithmetic_tab(page: Page, traverse: TraverseParts) -> None:
    explorer, model = page.explorer, page.model
    with gr.Tab("Arithmetic", id="arithmetic"):
        gr.Markdown(
            "Push the **Traverse tab's current code** (set it from an example, an upload or a map point, then the "
            "sliders) along a direction learnt from the test codes."
        )
        linearity = gr.Markdown()
        with gr.Row():
            direction = _free_dropdown("Direction")
            class_from, class_to = _free_dropdown("From class"), _free_dropdown("To class")
        with gr.Row():
            strength = gr.Slider(-3, 3, value=1, step=0.25, label="Strength (factor sd, or × the class difference)")
            steps = gr.Slider(2, 16, value=8, step=1, label="Steps")
            apply = gr.Button("Apply", variant="primary")
        status = page.status()
        row = _image("From the current code (left) to full strength (right)")
        with gr.Row():
            animated = _animation("Animation")
            with gr.Column(scale=3):
                note = gr.Markdown()
    inputs = [model, traverse.code, direction, class_from, class_to, strength, steps, page.class_choice]
    applied = gr.on(
        [apply.click, strength.release], explorer.arithmetic, inputs, [row, note, animated], api_name="arithmetic"
    )
    page.report(applied, status)
    _reveal([apply.click, strength.release], animated)
    outputs = [direction, class_from, class_to, linearity, row, animated, note]
    page.on_model(explorer.reset_arithmetic, [model], outputs)


def _palette_tab(page: Page) -> None:
    explorer, model = page.explorer, page.model
    with gr.Tab("Palette", id="palette"):
        gr.Markdown(
            "Four corners blended in latent space: each image decodes a code between them, blended bilinearly "
            "or along great circles."
        )
        source = gr.Radio(["classes", "images"], value="classes", label="Corners")
        with gr.Row() as class_row:
            classes = [_free_dropdown(f"Class, {corner}") for corner in PALETTE_CORNERS]
        with gr.Row(visible=False) as image_row:
            images = [
                gr.File(label=f"Image, {corner}", file_types=IMAGE_TYPES, type="filepath") for corner in PALETTE_CORNERS
            ]
        with gr.Row():
            steps = gr.Slider(2, 16, value=7, step=1, label="Images per side")
            mode = gr.Radio(["linear", "spherical"], value="linear", label="Blend")
            button = gr.Button("Blend the corners", variant="primary")
        status = page.status()
        grid = _image("Palette")
        notes = gr.Markdown(elem_classes="status")
    source.change(
        lambda s: (gr.Row(visible=s == "classes"), gr.Row(visible=s == "images")),
        [source],
        [class_row, image_row],
        **UI_ONLY,
    )
    inputs = [model, source, steps, mode, *classes, *images]
    page.report(button.click(explorer.palette, inputs, [grid, notes], api_name="palette"), status)
    page.on_model(explorer.reset_palette, [model], [*classes, grid, notes])


def _train_tab(page: Page, training: TrainingTab) -> None:
    with gr.Tab("Train", id="train"):
        gr.Markdown(
            "Train a VAE here and watch it learn. A run takes one core; one run trains at a time on this server "
            "and others wait their turn. Your runs are yours alone, and an evaluated run joins the model picker "
            "above, so every tab works on it."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                preset = gr.Dropdown(list(PRESETS), value=None, label="Preset: runs that teach one thing")
                preset_button = gr.Button("Train the preset's runs")
                form = _training_form()
                with gr.Row():
                    start = gr.Button("Train", variant="primary")
                    stop = gr.Button("Stop")
                    resume = gr.Button("Resume")
                status = page.status()
                line = gr.Markdown("no run yet", elem_id="training-line")
            with gr.Column(scale=2):
                # A figure from the start, so the browser loads plotly when the tab opens, not while
                # the first steps arrive (it held the page's thread 1.3 s then, and the timer's ticks).
                curves = gr.Plot(loss_figure({}), label="Loss terms", elem_id="training-curves")
                bars = gr.Plot(label="Information per latent")
                with gr.Row():
                    samples = _image("Prior samples", height=300)
                    reconstructions = _image("Test images and their reconstructions", height=300)
        runs = gr.Dataframe(headers=RUN_HEADERS, label="Your runs", interactive=False, elem_id="training-runs")
        compared = gr.Plot(label="Your evaluated runs side by side", visible=False)
        with gr.Row():
            download = gr.Button("Download the latest evaluated run (zip)")
            archive = gr.File(label="Run", visible=False)
        with gr.Accordion("Push the latest evaluated run to the Hugging Face Hub", open=False):
            repo_id = gr.Textbox(label="Repo (OWNER/NAME)")
            token = gr.Textbox(label="Token with write access (used once, never stored)", type="password")
            push = gr.Button("Push")
            pushed = gr.Markdown()
        timer = gr.Timer(LIVE_SECONDS, active=False)
    live = [line, curves, bars, samples, reconstructions, runs, page.model, compared, timer]
    page.report(start.click(training.start, form, [line, timer], api_name="train"), status)
    page.report(preset_button.click(training.start_preset, [preset], [line, timer], api_name="train_preset"), status)
    page.report(stop.click(training.stop, None, [line], api_name="train_stop"), status)
    page.report(resume.click(training.resume, None, [line, timer], api_name="train_resume"), status)
    timer.tick(training.view, None, live, api_name="train_status", queue=False)
    page.report(download.click(training.download, None, [archive], api_name="train_download"), status)
    _reveal([download.click], archive)
    page.report(push.click(training.push, [repo_id, token], [pushed], api_name="train_push"), status)
    page.demo.unload(training.close)


def _training_form() -> list[gr.components.Component]:
    """The model, its data and the optimiser: the defaults train a digits model in about a minute."""
    model_type = gr.Dropdown(sorted(MODEL_TYPES), value="vanilla_vae", label="Model")
    dataset = gr.Radio(list(TRAINING_DATASETS), value="digits", label="Data")
    uploads = gr.File(
        label="Your images: a zip (one folder per class, or none) or several files",
        file_count="multiple",
        file_types=[".zip", *IMAGE_TYPES],
        type="filepath",
        visible=False,
    )
    latent_dim = gr.Slider(2, 32, value=8, step=1, label="Latents")
    weight = gr.Number(default_weight("vanilla_vae", "digits"), label=weight_label("vanilla_vae"))
    with gr.Row():
        steps = gr.Number(RunRequest.steps, label="Steps", precision=0)
        batch_size = gr.Number(RunRequest.batch_size, label="Batch size", precision=0)
        lr = gr.Number(RunRequest.lr, label="Learning rate")
    dataset.change(lambda d: gr.File(visible=d == "your images"), [dataset], [uploads], **UI_ONLY)
    gr.on([model_type.change, dataset.change], weight_field, [model_type, dataset], [weight], **UI_ONLY)
    return [model_type, dataset, uploads, latent_dim, weight, steps, batch_size, lr]


def interpolate_inputs(source: str) -> tuple[gr.Column, gr.Column]:
    """Only the chosen mode's inputs: two images, or two classes."""
    return gr.Column(visible=source == "images"), gr.Column(visible=source == "classes")


@dataclasses.dataclass
class InterpolateParts:
    """What the Reconstruct tab uses of the Interpolate tab: its gallery, its mode and image A."""

    gallery: gr.Gallery
    source: gr.Radio
    image_a: gr.File


def _interpolate_tab(page: Page) -> InterpolateParts:
    explorer, model = page.explorer, page.model
    with gr.Tab("Interpolate", id="interpolate"):
        source = gr.Radio(["images", "classes"], value="images", label="Between two")
        with gr.Column() as images:
            with gr.Row():
                image_a = gr.File(label="Image A", file_types=IMAGE_TYPES, type="filepath")
                image_b = gr.File(label="Image B", file_types=IMAGE_TYPES, type="filepath")
            target = gr.Radio(["A", "B"], value="A", label="The next example clicked fills image")
            gallery = _examples("Examples: click one for A, then one for B")
        with gr.Column(visible=False) as classes, gr.Row():
            class_a, class_b = _free_dropdown("Class A"), _free_dropdown("Class B")
        with gr.Row():
            steps = gr.Slider(3, 16, value=8, step=1, label="Steps")
            mode = gr.Radio(["linear", "spherical"], value="linear", label="Path")
        with gr.Row():
            button = gr.Button("Interpolate", variant="primary")
            animate = gr.Button("Animate (GIF)")
        status = page.status()
        row = _image("From A to B")
        with gr.Row():
            animated = _animation("Animation")
            with gr.Column(scale=3):
                notes = gr.Markdown(elem_classes="status")
        shown = gr.State(None)  # the dataset of the two images shown
    source.change(interpolate_inputs, [source], [images, classes], **UI_ONLY)
    gallery.select(explorer.interpolate_example, [model, target], [image_a, image_b, target], **UI_ONLY)
    inputs = [model, source, image_a, image_b, class_a, class_b, steps, mode]
    page.report(button.click(explorer.interpolate, inputs, [row, notes], api_name="interpolate"), status)
    gif = animate.click(explorer.animate_interpolation, inputs, [animated], api_name="animate_interpolation")
    _reveal([animate.click], animated)
    page.report(gif, status)
    ends = [image_a, image_b]
    page.on_model(explorer.reset_interpolate, [model, *ends, shown], [class_a, class_b, *ends, row, notes, shown])
    page.on_model(lambda _: gr.Image(value=None, visible=False), [model], [animated])
    return InterpolateParts(gallery, source, image_a)


def _model_card_tab(page: Page) -> None:
    with gr.Tab("Model card", id="model-card"):
        heading = gr.Markdown()
        with gr.Row():
            information = gr.Plot(label="Information per latent")
            mutual_information = gr.Plot(label="Latent × factor mutual information")
        with gr.Column(visible=False) as scoreboard:
            gr.Markdown("#### Disentanglement scoreboard: every model of this data")
            # Model and recipe wide enough to read, then the eight metrics side by side (no scrolling at 1400 px).
            widths = ["14%", "6%", *["10%"] * 8]
            table = gr.Dataframe(
                label="Scoreboard", interactive=False, wrap=True, column_widths=widths, elem_classes="scoreboard"
            )
            chart = gr.Plot(label="Scoreboard chart")
            note = gr.Markdown()
            with gr.Accordion("How the scoreboard was computed (provenance)", open=False):
                provenance = gr.Markdown()
        gr.Markdown("#### Metrics on the test set")
        metrics = gr.Markdown()
        with gr.Accordion("Model and training configs", open=False):
            configs = gr.Markdown()
    card = [heading, information, mutual_information, metrics, configs]
    page.on_model(page.explorer.model_card, [page.model], card, api_visibility="public", api_name="model_card")
    scores = [table, chart, note, provenance]
    page.on_model(page.explorer.scoreboard, [page.model], scores, api_visibility="public", api_name="scoreboard")
    page.on_model(page.explorer.factor_panels, [page.model], [scoreboard, mutual_information, chart])


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
    parser.add_argument("--runs", help="folder for runs trained in the page (default: a new temporary one)")
    parser.add_argument(
        "--judges",
        help="folder that keeps the evaluation's judge classifiers across restarts (default: inside --runs)",
    )
    return parser.parse_args(argv)


def hub_repos(flags: list[str]) -> list[str]:
    from_env = [r.strip() for r in os.environ.get(HUB_ENV, "").split(",") if r.strip()]
    return list(dict.fromkeys(flags + from_env))


def create_app(
    checkpoints: str | Path = "checkpoints",
    hub: list[str] = (),
    device: str = "auto",
    hub_timeout: float = 5.0,
    runs: str | Path | None = None,
    judges: str | Path | None = None,
) -> gr.Blocks:
    """The page over the models in `checkpoints` and `hub`; runs trained in it go under `runs`
    (by default a new temporary folder), and their evaluation's judges under `judges` (by default
    in `runs`)."""
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
    service = TrainingService(runs or Path(tempfile.mkdtemp(prefix="vae-explorer-runs-")), judges=judges).start()
    return build_app(Explorer(catalog, examples), service)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def tune_malloc(arenas: int = 2, mmap_threshold: int = 1024 * 1024) -> None:
    """Keep RSS flat under many concurrent requests (`python -m benchmarks.load` measures it).

    glibc gives each busy thread its own heap arena, and it raises its mmap threshold each
    time a large block is freed, so image-sized tensors end up in the heaps, which fragment
    and are not given back: RSS keeps growing under load. Capping the arenas bounds how many
    heaps can fragment; a fixed threshold (which also turns the raising off) puts every block
    over 1 MiB in its own mapping, returned to the system when freed. Not lower: at 128 KiB each
    256-pixel float image of the canvas's reading was mapped and faulted in afresh, and a stroke's
    reading took up to twice as long. The README gives the measured growth and speed of both."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to tune
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, mmap_threshold)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # SIGTERM (a Space restarting, `kill`) exits through Python, so the training runs' processes are
    # stopped on the way out (TrainingService.shutdown, registered with atexit).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    tune_malloc()
    demo = create_app(args.checkpoints, args.hub, args.device, args.hub_timeout, args.runs, args.judges)
    # Two cores: two requests at a time, each with both threads, beat four fighting for them.
    demo.queue(default_concurrency_limit=2, max_size=64)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=MAX_FILE_BYTES,
        css=CSS,
        js=PAGE_JS,
    )


if __name__ == "__main__":
    main()
