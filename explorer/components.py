"""The page's building blocks: `Tab`, which every tab module subclasses, and the few components
several tabs lay out the same way (pictures, animations, example galleries, class dropdowns)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import gradio as gr

from .state import Explorer

if TYPE_CHECKING:
    from .page import Page

IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"]
UI_ONLY = {"api_visibility": "undocumented"}  # events of the page itself, not endpoints
Component = gr.components.Component


class Tab:
    """One tab: `layout` lays out its components (inside its gr.Tab), `wire` connects its events once
    every tab is laid out (a tab may use another's components), and `refresh` fills its panels for a
    model, when the tab is shown and the model it shows is not that one.

    Callbacks of three or more panels return a NamedTuple whose fields are named as the tab's
    components (`panels` and `named` match them by name), or a dict keyed by component."""

    id: str
    title: str

    def __init__(self, explorer: Explorer) -> None:
        self.explorer = explorer
        self.refresh_inputs: list[Component] = []  # what `refresh` reads, besides the model's name
        self.refreshed: list[Component] = []  # every panel `refresh` may fill

    def layout(self, page: Page) -> None:
        raise NotImplementedError

    def wire(self, page: Page) -> None:
        raise NotImplementedError

    def refresh(self, name: str, values: dict[Component, Any]) -> dict[Component, Any]:
        """The tab's panels for model `name` (`values`: the page's values of `refresh_inputs`)."""
        return {}

    def panels(self, result: type[NamedTuple]) -> list[Component]:
        """The components a result's fields fill, by name (a field named as a list of components fills each)."""
        found = []
        for field in result._fields:
            component = getattr(self, field)
            found += component if isinstance(component, list) else [component]
        return found

    def named(self, result: NamedTuple) -> dict[Component, Any]:
        """A result as {component: value}, matched by field name."""
        updates = {}
        for field, value in result._asdict().items():
            component = getattr(self, field)
            updates |= dict(zip(component, value, strict=True)) if isinstance(component, list) else {component: value}
        return updates

    def as_panels(self, fn: Callable[..., NamedTuple]) -> Callable[..., dict[Component, Any]]:
        """`fn` for an event whose outputs are `panels` of its result (an endpoint keeps fn's signature)."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> dict[Component, Any]:
            return self.named(fn(*args, **kwargs))

        return wrapper


def free_dropdown(label: str, choices: list[str] = (), **kwargs: Any) -> gr.Dropdown:
    """A dropdown whose choices follow the model; the callbacks check the value, so API callers
    get the model's own list in the error rather than the page's first list."""
    choices = list(choices)
    return gr.Dropdown(choices, value=choices[0] if choices else None, label=label, allow_custom_value=True, **kwargs)


def picture(label: str, **kwargs: Any) -> gr.Image:
    return gr.Image(label=label, type="pil", format="png", interactive=False, elem_classes="grid-image", **kwargs)


def animation_panel(label: str) -> gr.Image:
    """An animated GIF, played in the page, with a download button."""
    return gr.Image(
        label=label,
        type="filepath",
        interactive=False,
        buttons=["download"],
        height=200,
        visible=False,  # shown by its button (`reveal`), hidden again by a model switch: never an empty panel
        elem_classes="grid-image",
    )


HIDDEN_ANIMATION = {"value": None, "visible": False}  # an animation panel after a model switch


def reveal(triggers: list, panel: Component) -> None:
    """Show `panel`, hidden until asked for, when one of `triggers` fires."""
    gr.on(triggers, lambda: gr.update(visible=True), None, [panel], queue=False, **UI_ONLY)


def examples_gallery(label: str) -> gr.Gallery:
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


def seed_and_temperature() -> tuple[gr.Number, gr.Slider]:
    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
    temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature (std of z)")
    return seed, temperature


def status_note() -> gr.Markdown:
    """A line under a panel, hidden while empty (CSS: .status:empty)."""
    return gr.Markdown(elem_classes="status")
