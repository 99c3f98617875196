"""Sample: a grid of images decoded from the prior."""

from __future__ import annotations

import gradio as gr
import torch
from PIL import Image

from vae_models import explore

from .common import display, user_errors
from .components import Tab, picture, seed_and_temperature
from .page import Page


class SampleTab(Tab):
    id, title = "sample", "Sample"

    def layout(self, page: Page) -> None:
        with gr.Row():
            self.count = gr.Slider(1, 256, value=64, step=1, label="Samples")
            self.seed, self.temperature = seed_and_temperature()
        self.button = gr.Button("Sample the prior", variant="primary")
        self.status = page.status()
        self.grid = picture("Prior samples")
        self.refresh_inputs = [self.count, self.seed, self.temperature]
        self.refreshed = [self.grid]

    def wire(self, page: Page) -> None:
        inputs = [page.model, self.count, self.seed, self.temperature]
        page.report(self.button.click(self.sample, inputs, [self.grid], api_name="sample"), self.status)

    @user_errors
    def sample(self, name: str, count: int = 64, seed: int = 0, temperature: float = 1.0) -> Image.Image:
        model, _ = self.explorer.resolve(name)
        codes = explore.prior_codes(model, int(count), int(seed), float(temperature))
        each_class = torch.arange(len(codes)) % max(1, model.num_classes)  # an unconditional model ignores them
        return display(explore.decode(model, codes, each_class))

    def refresh(self, name: str, values: dict) -> dict:
        return {self.grid: self.sample(name, values[self.count], values[self.seed], values[self.temperature])}
