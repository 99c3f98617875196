"""Conditional: the conditional VAE's samples of one class, or every class in the same styles."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
from PIL import Image

from vae_models import explore

from .common import class_labels, display, require_conditional, user_errors
from .components import UI_ONLY, Tab, picture, seed_and_temperature
from .page import Page


class Panel(NamedTuple):
    """The tab for a model: its controls and a class × style grid for a conditional model; for
    another, why there is nothing here and a button to switch to the conditional model of its data."""

    controls: gr.Column
    why: gr.Markdown
    switch: gr.Button
    grid: Image.Image | None


class ConditionalTab(Tab):
    id, title = "conditional", "Conditional"

    def layout(self, page: Page) -> None:
        self.why = gr.Markdown(visible=False)
        self.switch = gr.Button(visible=False, variant="primary")
        with gr.Column(visible=False) as self.controls:
            gr.Markdown("Pick a class in the **Class** control at the top, or see every class in the same styles.")
            with gr.Row():
                self.count = gr.Slider(1, 64, value=16, step=1, label="Samples")
                self.seed, self.temperature = seed_and_temperature()
            with gr.Row():
                self.generate_button = gr.Button("Generate this class", variant="primary")
                self.styles = gr.Slider(1, 16, value=8, step=1, label="Styles (columns)")
                self.class_style_button = gr.Button("Class × style grid")
            self.status = page.status()
            self.grid = picture("Samples")
        self.refreshed = self.panels(Panel)

    def wire(self, page: Page) -> None:
        wanted = [page.model, page.class_choice, self.count, self.seed, self.temperature]
        page.report(self.generate_button.click(self.generate, wanted, [self.grid], api_name="generate"), self.status)
        styled = self.class_style_button.click(
            self.class_style,
            [page.model, self.styles, self.seed, self.temperature],
            [self.grid],
            api_name="class_style",
        )
        page.report(styled, self.status)
        self.switch.click(self.switch_to_conditional, [page.model], [page.model], **UI_ONLY)

    @user_errors
    def generate(
        self, name: str, class_choice: str, count: int = 16, seed: int = 0, temperature: float = 1.0
    ) -> Image.Image:
        model, info = self.explorer.resolve(name)
        require_conditional(model, info)
        label = class_labels(model, info, class_choice, fallback=None)
        if label is None:
            raise ValueError("pick a class to generate (the Class control at the top of the page)")
        return display(explore.prior_samples(model, int(count), int(seed), float(temperature), label))

    @user_errors
    def class_style(self, name: str, styles: int = 8, seed: int = 0, temperature: float = 1.0) -> Image.Image:
        model, info = self.explorer.resolve(name)
        require_conditional(model, info)
        return display(explore.class_style_grid(model, int(styles), int(seed), float(temperature)), nrow=int(styles))

    def conditional_target(self, name: str) -> str | None:
        """The conditional model trained on the same data as `name` (itself if it is one), or None."""
        catalog = self.explorer.catalog
        return next((n for n in catalog.same_data(name) if catalog.info(n).is_conditional), None)

    def panel(self, name: str) -> Panel:
        info, target = self.explorer.catalog.info(name), self.conditional_target(name)
        if info.is_conditional:
            return Panel(
                gr.Column(visible=True), gr.Markdown(visible=False), gr.Button(visible=False), self.class_style(name)
            )
        why = f"**{name}** is a {info.model_type}: it is not conditioned on a class, so there is nothing to choose."
        why += f" The conditional VAE of this data is **{target}**." if target else " No conditional model here."
        button = gr.Button(f"Switch to {target}", visible=True) if target else gr.Button(visible=False)
        return Panel(gr.Column(visible=False), gr.Markdown(why, visible=True), button, None)

    def refresh(self, name: str, values: dict) -> dict:
        return self.named(self.panel(name))

    def switch_to_conditional(self, name: str) -> dict:
        return gr.update(value=self.conditional_target(name) or name)
