"""What the tab test modules (test_tab_*.py, test_page_state.py) share: the size of a displayed grid,
a callback's user error, the notes of a reconstruction, the uploads every image tab refuses, and the
values the page sends a tab's `refresh` (its components' values as laid out, some overridden)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import gradio as gr
import pytest
from support import NOT_AN_IMAGE

# Uploads every tab that reads an image refuses, by name: (key of the `uploads` fixture or the value itself, words).
BAD_UPLOADS = [(None, ("no image",)), ("", ("no image",)), ("page.png", NOT_AN_IMAGE), ("empty.png", ("empty",))]
BAD_UPLOAD_IDS = ["none", "blank", "html", "empty"]


def grid_size(count: int, nrow: int, side: int = 32) -> tuple[int, int]:
    """The size of common.display's picture of `count` images `side` pixels wide, `nrow` a row."""
    if count == 1:
        return (side * max(1, 192 // side),) * 2
    scale = max(1, 64 // side)
    columns, rows = min(nrow, count), math.ceil(count / min(nrow, count))
    return ((side + 2) * columns + 2) * scale, ((side + 2) * rows + 2) * scale


def user_error(call, *args, **kwargs) -> str:
    """The message of the gr.Error a callback raises (the test fails if it raises none)."""
    with pytest.raises(gr.Error) as caught:
        call(*args, **kwargs)
    return caught.value.message


def quietly(call, *args, **kwargs):
    """Call a callback, ignoring the gr.Warning toasts (outside a page they are Python warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return call(*args, **kwargs)


def announced(call, *args) -> list[str]:
    """The conversion notes a reconstruction lists under the model's view (no toasts: none is raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notes = call(*args)[2]
    assert not [w for w in caught if issubclass(w.category, UserWarning)]
    return notes.split(" · ") if notes else []


def refresh_values(tab: Any, **overrides: Any) -> dict:
    """What the page sends `tab.refresh`: each of its `refresh_inputs` at its laid-out value, except
    those named in `overrides` (by the tab's attribute name: upload=..., shown_data=...)."""
    values = {component: component.value for component in tab.refresh_inputs}
    for attribute, value in overrides.items():
        component = getattr(tab, attribute)
        assert component in values, f"{attribute} is not among {type(tab).__name__}'s refresh inputs"
        values[component] = value
    return values


def fill_values(page: Any, model: str, tab_id: str, filled: dict | None = None, pending: Any = None) -> dict:
    """What the page sends `Page.fill`: the model picked, the tab shown, what was filled already,
    a shared link's pending code, and every tab's refresh inputs at their laid-out values."""
    values = {page.model: model, page.shown_tab: tab_id, page.filled: filled, page.pending_code: pending}
    for tab in page.tabs.values():
        values |= {component: component.value for component in tab.refresh_inputs if component not in values}
    return values
