"""Arithmetic: the Traverse tab's code pushed along a direction learnt from the test codes (a factor
of dSprites, or from one class to another), as a row and a GIF."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import torch
from PIL import Image

from vae_models import BaseVAE, explore
from vae_models.cartography import Direction, class_direction, direction_sweep, factor_directions
from vae_models.catalog import ModelInfo
from vae_models.data.dsprites import DSPRITES_FACTOR_MOVES

from . import text
from .common import AUTO_CLASS, animation, class_index, class_labels, display, start_point, user_errors
from .components import HIDDEN_ANIMATION, Tab, animation_panel, free_dropdown, picture, reveal
from .page import Page

BETWEEN_CLASSES = "between classes (From → To)"
WEAK_R_SQUARED = 0.1  # below this, a factor is hardly encoded linearly: its direction is close to aimless


def model_directions(info: ModelInfo, latents: dict) -> dict[str, Direction]:
    """Each ordered factor's direction, learnt from the test codes: "move right (posX)"..."""
    if "factors" not in latents:
        return {}
    moves = {
        k: f"{DSPRITES_FACTOR_MOVES[n]} ({n})" for k, n in enumerate(info.factor_names) if n in DSPRITES_FACTOR_MOVES
    }
    return factor_directions(latents["codes"], latents["factors"], moves)


class Applied(NamedTuple):
    """A push along a direction: the row, a note (with the direction's R² for a factor), the GIF."""

    row: Image.Image | None
    note: str
    animated: str | None


class ArithmeticTab(Tab):
    id, title = "arithmetic", "Arithmetic"

    def layout(self, page: Page) -> None:
        gr.Markdown(
            "Push the **Traverse tab's current code** (set it from an example, an upload or a map point, then the "
            "sliders) along a direction learnt from the test codes."
        )
        self.linearity = gr.Markdown()
        with gr.Row():
            self.direction = free_dropdown("Direction")
            self.class_from, self.class_to = free_dropdown("From class"), free_dropdown("To class")
        with gr.Row():
            self.strength = gr.Slider(
                -3, 3, value=1, step=0.25, label="Strength (factor sd, or × the class difference)"
            )
            self.steps = gr.Slider(2, 16, value=8, step=1, label="Steps")
            self.apply_button = gr.Button("Apply", variant="primary")
        self.status = page.status()
        self.row = picture("From the current code (left) to full strength (right)")
        with gr.Row():
            self.animated = animation_panel("Animation")
            with gr.Column(scale=3):
                self.note = gr.Markdown()
        self.refreshed = [self.direction, self.class_from, self.class_to, self.linearity, *self.panels(Applied)]

    def wire(self, page: Page) -> None:
        code = page.tab("traverse").code
        inputs = [page.model, code, self.direction, self.class_from, self.class_to, self.strength, self.steps]
        triggers = [self.apply_button.click, self.strength.release]
        applied = gr.on(
            triggers,
            self.as_panels(self.arithmetic),
            [*inputs, page.class_choice],
            self.panels(Applied),
            api_name="arithmetic",
        )
        page.report(applied, self.status)
        reveal(triggers, self.animated)

    def directions(self, name: str) -> dict[str, Direction]:
        def learn() -> dict[str, Direction]:
            latents = self.explorer.catalog.latents(name)
            return model_directions(self.explorer.catalog.info(name), latents) if latents else {}

        return self.explorer.memo((name, "directions"), learn)

    def direction_names(self, name: str) -> list[str]:
        return [*self.directions(name), BETWEEN_CLASSES]

    @user_errors
    def arithmetic(
        self,
        name: str,
        code: list[float] | None = None,
        direction: str = BETWEEN_CLASSES,
        class_from: str | None = None,
        class_to: str | None = None,
        strength: float = 1.0,
        steps: int = 8,
        class_choice: str = AUTO_CLASS,
    ) -> Applied:
        """`code` pushed along a direction, from strength 0 to `strength` in `steps`."""
        model, info = self.explorer.resolve(name)
        if not 2 <= int(steps) <= 32 or not abs(float(strength)) <= 5:
            raise ValueError("arithmetic takes 2 to 32 steps and a strength within ±5")
        start = start_point(info, code)
        if model.is_conditional and direction == BETWEEN_CLASSES:
            frames, note = self._relabel(model, info, start, class_from, class_to, int(steps))
        else:
            chosen = self._direction(info, direction, class_from, class_to)
            codes = direction_sweep(start, chosen, float(strength), int(steps))
            frames = explore.decode(model, codes, class_labels(model, info, class_choice))
            note = text.direction_note(chosen, float(strength), WEAK_R_SQUARED)
        return Applied(display(frames, nrow=int(steps)), note, animation(frames))

    def _relabel(
        self,
        model: BaseVAE,
        info: ModelInfo,
        code: torch.Tensor,
        class_from: str | None,
        class_to: str | None,
        steps: int,
    ) -> tuple[torch.Tensor, str]:
        """The conditional VAE keeps the class in its label, not its code: the same code (the style)
        decoded with a label blended from one class's one-hot vector to the other's."""
        source, target = self._classes(info, class_from, class_to)
        ends = torch.eye(len(info.class_names))[[source, target]]
        labels = torch.lerp(ends[0], ends[1], torch.linspace(0, 1, steps)[:, None])
        frames = explore.decode(model, code.expand(steps, -1), labels)
        return frames, text.relabel_note(info.class_names[source], info.class_names[target])

    def _classes(self, info: ModelInfo, class_from: str | None, class_to: str | None) -> tuple[int, int]:
        source, target = (class_index(info.class_names, c) for c in (class_from, class_to))
        if source is None or target is None:
            raise ValueError(f"pick the From and To classes from {info.class_names}")
        return source, target

    def _direction(self, info: ModelInfo, direction: str, class_from: str | None, class_to: str | None) -> Direction:
        if direction != BETWEEN_CLASSES:
            known = self.directions(info.name)
            if direction not in known:
                raise ValueError(
                    f"{info.name} has no direction {direction!r}; choose from {self.direction_names(info.name)}"
                )
            return known[direction]
        latents = self.explorer.catalog.latents(info.name)
        if latents is None:
            raise ValueError(f"{info.name} has no latent cache, so its class means are unknown")
        source, target = self._classes(info, class_from, class_to)
        name = f"{info.class_names[source]} → {info.class_names[target]}"
        return class_direction(latents["codes"], latents["labels"], source, target, name)

    def refresh(self, name: str, values: dict) -> dict:
        """For a new model: its directions, its classes (From and To differ), how linearly each factor
        is encoded, and its first direction applied to the origin, so no row is stale."""
        names, classes = self.direction_names(name), self.explorer.catalog.info(name).class_names
        pair = classes[0], classes[min(1, len(classes) - 1)]
        try:
            applied = self.arithmetic(name, [], names[0], *pair)
        except gr.Error as err:  # no latent cache: no directions to learn (the note says so)
            applied = Applied(None, text.switched(name, err.message), None)
        gif = gr.Image(applied.animated, visible=True) if applied.animated else gr.Image(**HIDDEN_ANIMATION)
        return self.named(applied._replace(animated=gif)) | {
            self.direction: gr.Dropdown(names, value=names[0]),
            self.class_from: gr.Dropdown(classes, value=pair[0]),
            self.class_to: gr.Dropdown(classes, value=pair[1]),
            self.linearity: text.linearity_text(self.directions(name), WEAK_R_SQUARED),
        }
