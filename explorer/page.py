"""The page: the model picker, the tabs, and what ties them together.

A tab is filled when it is shown: on open, only the tab in view; after a model switch, the tab in
view at once, and each other tab the first time it is opened (`Page.fill`). One event fills a tab,
so opening the page costs the link's reading and one fill.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from .common import AUTO_CLASS, last_error
from .components import UI_ONLY, Component, Tab, free_dropdown
from .state import Explorer

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
# The page's own script: a click on the latent map decodes that point, and the URL follows the page.
PAGE_JS = Path(__file__).with_name("page.js").read_text()
REFRESH_CANVAS = "() => { if (window.vaeCanvasRefresh) window.vaeCanvasRefresh(); }"  # canvas.js: read again
FILLS = {"concurrency_id": "fill", "concurrency_limit": 1}  # fills land in the order they were asked for


class Page:
    """What every tab shares on the page: the explorer, the model and class controls, the tabs, and
    the notes that keep each tab's last error until its next action."""

    def __init__(self, explorer: Explorer, demo: gr.Blocks, tabs: list[Tab]) -> None:
        self.explorer, self.demo = explorer, demo
        self.tabs = {tab.id: tab for tab in tabs}
        self.statuses: list[gr.Markdown] = []
        self.actions: list[Any] = []  # the events a switch of model cancels
        self.drawn: Any = None  # the canvas's event that turns a drawing into the upload (Reconstruct)

    def tab(self, tab_id: str) -> Any:
        return self.tabs[tab_id]

    def layout(self) -> None:
        catalog = self.explorer.catalog
        choices = [(catalog.info(name).summary(), name) for name in catalog.names]
        with gr.Row():
            self.model = gr.Dropdown(choices, value=self.explorer.default_model(), label="Model", scale=3)
            self.class_choice = free_dropdown(
                "Class (conditional VAE)", [AUTO_CLASS], scale=1, visible=False, elem_id="class-choice"
            )
        self.link_note = gr.Markdown(elem_classes="status", elem_id="link-note")
        self.shown_tab = gr.State(next(iter(self.tabs)))  # the tab in view
        self.filled = gr.State(None)  # {"model": name, "tabs": [the tabs filled for it]}
        self.pending_code = gr.State(None)  # a shared link's code, for its model's Traverse tab
        # Set once a fill ends: the page in view is all of one model (tests and the canvas wait on it).
        self.ready = gr.Textbox(visible="hidden", elem_id="model-ready", label="model shown")
        with gr.Tabs() as self.tabs_component:
            for tab in self.tabs.values():
                with gr.Tab(tab.title, id=tab.id) as tab.container:
                    tab.layout(self)

    def status(self) -> gr.Markdown:
        """A note for a tab's errors, shown beside its controls (hidden while empty)."""
        note = gr.Markdown(elem_classes="status")
        self.statuses.append(note)
        return note

    def report(self, event: Any, status: gr.Markdown) -> None:
        """After `event`: its error, if it failed, stays in `status` until the next action; success clears it."""
        self.actions.append(event)
        event.success(None, None, [status], js="() => ''", queue=False)
        event.failure(last_error, None, [status], queue=False, **UI_ONLY)

    def show_tab(self, tab_id: str) -> Any:
        """Select the tab `tab_id` (after an action that carries the visitor there)."""
        return gr.Tabs(selected=tab_id)

    # --- filling the tab in view ------------------------------------------------------------------

    def fill(self, values: dict[Component, Any], tab_id: str | None = None) -> dict[Component, Any]:
        """The tab in view (`tab_id`, else the one shown) filled for the model picked, unless it already
        shows that model; after a switch, the class control of the new model too."""
        name = values[self.model]
        tab_id = tab_id or values[self.shown_tab]
        filled = values[self.filled] or {}
        updates: dict[Component, Any] = {self.shown_tab: tab_id}
        if filled.get("model") != name:
            filled = {"model": name, "tabs": []}
            info = self.explorer.catalog.info(name)
            updates[self.class_choice] = gr.Dropdown(
                [AUTO_CLASS, *info.class_names], value=AUTO_CLASS, visible=info.is_conditional
            )
        if tab_id not in filled["tabs"]:
            updates |= self.tabs[tab_id].refresh(name, values)
            filled = {"model": name, "tabs": [*filled["tabs"], tab_id]}
        return updates | {self.filled: filled, self.ready: name}

    def wire(self) -> None:
        self.fill_inputs = {self.model, self.shown_tab, self.filled, self.pending_code}
        self.fill_outputs = {self.shown_tab, self.filled, self.class_choice, self.ready}
        for tab in self.tabs.values():
            self.fill_inputs |= set(tab.refresh_inputs)
            self.fill_outputs |= set(tab.refreshed)
        for tab in self.tabs.values():
            tab.wire(self)
        fill = {"inputs": self.fill_inputs, "outputs": list(self.fill_outputs), **FILLS, **UI_ONLY}
        self.model.change(self.fill, **fill)
        for tab in self.tabs.values():
            tab.container.select(self._fill_on_open(tab.id), **fill)
            js = f"() => window.vaeShare({{tab: {tab.id!r}}})"  # the URL follows the tab shown (page.js)
            tab.container.select(None, None, None, js=js, queue=False)
        link = [self.model, self.tabs_component, self.link_note]
        opening = fill | {"outputs": list(self.fill_outputs | set(link))}
        opened = self.demo.load(self.open_page, **opening)
        share_model = {"fn": None, "inputs": [self.model], "js": "(m) => window.vaeShare({model: m})", "queue": False}
        opened.then(**share_model)  # a value set by a load event fires no .change
        self.ready.change(None, None, None, js=REFRESH_CANVAS, queue=False)  # the drawing, read by the new model
        self.model.change(**share_model)
        # A switch cancels the actions still queued or running for the previous model, so their
        # results cannot land under the new one; it also clears the error notes.
        clear = f"() => Array({len(self.statuses)}).fill('')"
        self.model.change(None, None, self.statuses, js=clear, cancels=self.actions, queue=False)

    def carry(self, trigger: Any, tab_id: str, action: Any, inputs: list, outputs: list) -> Any:
        """An action that carries the visitor to tab `tab_id` with a result for it (a new Traverse
        start): the tab is filled for the model first if it was not, so opening it keeps the result
        rather than filling it afresh; then it is selected. `action` takes the page's values by
        component and returns the tab's updates."""

        def carried(values: dict[Component, Any]) -> dict[Component, Any]:
            return self.fill(values, tab_id) | action(values)

        every_input, every_output = self.fill_inputs | set(inputs), list(self.fill_outputs | set(outputs))
        event = trigger(carried, every_input, every_output, **FILLS, **UI_ONLY)
        event.success(lambda: self.show_tab(tab_id), None, [self.tabs_component], **UI_ONLY)
        return event

    def _fill_on_open(self, tab_id: str) -> Any:
        def fill_opened(values: dict[Component, Any]) -> dict[Component, Any]:
            # gradio selects the first tab as the page mounts, before the link is read: the page's
            # opening fill (`open_page`) fills it then.
            return self.fill(values, tab_id) if values[self.filled] is not None else {self.shown_tab: tab_id}

        return fill_opened

    def open_page(self, values: dict[Component, Any], request: gr.Request) -> dict[Component, Any]:
        """On load, in one call: the link's model, tab and code (`open_link`), and that tab filled."""
        model, tabs, shown, pending, note = self.open_link(request)
        linked = {self.model: model["value"], self.shown_tab: shown, self.pending_code: pending, self.filled: None}
        opened = {self.model: model, self.tabs_component: tabs, self.link_note: note, self.pending_code: pending}
        return opened | self.fill(values | linked)

    def open_link(self, request: gr.Request) -> tuple[Any, ...]:
        """On load: the link's model and tab, the code waiting for that model's Traverse tab, and a note."""
        names = self.explorer.catalog.names
        params = dict(request.query_params)
        model, tab, code, notes = shared_state(params, names, self.explorer.default_model(), list(self.tabs))
        pending = {"model": model, "code": code} if code is not None else None
        text = "⚠️ " + "; ".join(notes) + "." if notes else ""
        shown = tab or next(iter(self.tabs))
        return gr.update(value=model), gr.Tabs(selected=shown), shown, pending, text


def shared_state(
    params: dict[str, str], names: list[str], default: str | None, tab_ids: list[str]
) -> tuple[str | None, str | None, list[float] | None, list[str]]:
    """A link's model, tab and code, checked: what is wrong falls back to the default, with a note."""
    notes = []
    model = params.get("model") or default
    if model not in names:
        notes.append(f"the link's model {model!r} is not on this server, so the page shows {default}")
        model = default
    tab = params.get("tab")
    if tab and tab not in tab_ids:
        notes.append(f"the link's tab {tab!r} does not exist; tabs are {', '.join(tab_ids)}")
        tab = None
    code = link_code(params.get("code", ""))
    if params.get("code") and code is None:
        notes.append("the link's code is not a comma-separated list of finite numbers, so the start is zero")
    return model, tab, code, notes


def link_code(text: str) -> list[float] | None:
    """A link's code: comma-separated finite numbers; None for anything else (or nothing)."""
    try:
        code = [float(v) for v in text.split(",")]
    except ValueError:
        return None
    return code if np.isfinite(code).all() else None
