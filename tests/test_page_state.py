"""The page as a whole, without a browser (explorer.page, explorer.state, explorer.common, app.py): the
default model, the endpoints and tab ids, a shared link, the error log, the fill of the tab in view
(`Page.fill`), the app's command line, and the size and layering of the code."""

from __future__ import annotations

import ast
from pathlib import Path

import gradio as gr
import pytest
from gradio.context import LocalContext
from support import CVAE, NAMES, REPO_ROOT, VANILLA, noted
from tab_helpers import fill_values, user_error

import app
from explorer import create_app
from explorer.common import AUTO_CLASS, ErrorLog, last_error
from explorer.page import shared_state
from explorer.state import Explorer
from vae_models.catalog import Catalog

AUTO = AUTO_CLASS
TAB_IDS = [
    "reconstruct",
    "sample",
    "conditional",
    "traverse",
    "latent-map",
    "interpolate",
    "arithmetic",
    "palette",
    "train",
    "model-card",
]
MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_APP_LINES = 450, 250, 150


# --- the page's model, endpoints and tabs -----------------------------------------------------------


def test_the_page_opens_on_the_digits_model_with_the_lowest_sample_fd(catalog, page):
    digits = [catalog.info(n) for n in catalog.names if catalog.info(n).dataset == "digits"]
    best = min(digits, key=lambda info: info.metrics["sample_frechet_distance"])
    assert Explorer(catalog).default_model() == best.name
    assert Explorer(Catalog([catalog.info(VANILLA)])).default_model() == VANILLA
    assert page.model.value == best.name  # the picker as laid out


def test_build_app_names_every_endpoint(demo):
    names = {getattr(fn, "api_name", None) for fn in demo.fns.values()}
    expected = {"reconstruct", "compare", "sample", "generate", "class_style", "set_start", "decode", "traverse"}
    assert expected | {"latent_map", "recompute_map", "interpolate", "model_card", "scoreboard"} <= names
    cartography = {"decode_point", "manifold", "arithmetic", "palette", "animate_traversal", "animate_interpolation"}
    assert cartography | {"reconstruct_drawing"} <= names
    assert {"train", "train_preset", "train_stop", "train_resume", "train_status", "train_download"} <= names
    tabs = next(block for block in demo.blocks.values() if isinstance(block, gr.Tabs))
    assert [tab.id for tab in tabs.children] == TAB_IDS  # what a shared link may name
    assert list(demo.page.tabs) == TAB_IDS


# --- shared links -----------------------------------------------------------------------------------


def test_a_shared_link_is_checked_and_falls_back_with_notes():
    names = [VANILLA, CVAE]
    assert shared_state({"model": VANILLA, "tab": "traverse", "code": "0.5,-1,2e-3"}, names, CVAE, TAB_IDS) == (
        VANILLA,
        "traverse",
        [0.5, -1.0, 0.002],
        [],
    )
    model, tab, code, notes = shared_state({"model": "nope", "tab": "x", "code": "1,a"}, names, CVAE, TAB_IDS)
    assert (model, tab, code) == (CVAE, None, None)
    assert noted(notes, "'nope'", "not on this server") and noted(notes, "tab 'x'") and noted(notes, "comma-separated")
    assert shared_state({}, names, CVAE, TAB_IDS) == (CVAE, None, None, [])
    _, _, code, notes = shared_state({"code": "0.5,nan"}, names, CVAE, TAB_IDS)  # not finite: a note, no error
    assert code is None and noted(notes, "finite numbers")


def test_opening_a_link_picks_its_model_and_tab_and_keeps_its_code_for_traverse(page):
    params = {"model": VANILLA, "tab": "traverse", "code": "0.5,0.25"}
    model, tabs, shown, pending, note = page.open_link(gr.Request(query_params=params))
    assert model["value"] == VANILLA and tabs.selected == shown == "traverse"
    assert pending == {"model": VANILLA, "code": [0.5, 0.25]} and note == ""
    model, tabs, shown, pending, note = page.open_link(gr.Request(query_params={"model": "nope", "tab": "x"}))
    assert model["value"] == page.explorer.default_model() and shown == TAB_IDS[0] and pending is None
    assert note.startswith("⚠️ ") and "'nope'" in note and "tab 'x'" in note


# --- the error log ----------------------------------------------------------------------------------


def test_errors_are_kept_for_the_session_that_caused_them():
    log = ErrorLog(size=2)
    assert log.take("nobody") == "" and log.take(None) == ""
    log.record("outside a page")  # an API call: no session to show it beside
    for session in ("a", "b", "c"):
        token = LocalContext.request.set(gr.Request(session_hash=session))
        try:
            log.record(f"failed for {session}")
        finally:
            LocalContext.request.reset(token)
    assert log.take("a") == ""  # the oldest session fell out
    assert log.take("c") == "failed for c" and log.take("c") == ""  # taken once
    assert log.take("b") == "failed for b"


def test_a_failed_callback_leaves_its_message_for_the_note_beside_its_control(page):
    session = gr.Request(session_hash="page-state-test")
    token = LocalContext.request.set(session)
    try:
        message = user_error(page.tab("sample").sample, VANILLA, 0, 0, 1.0)
    finally:
        LocalContext.request.reset(token)
    assert last_error(session) == f"⚠️ **Error:** {message}"
    assert last_error(session) == ""  # an event cancelled by a newer one: nothing to say


# --- the fill of the tab in view --------------------------------------------------------------------


@pytest.fixture
def refreshed(page, monkeypatch) -> list[str]:
    """The ids of the tabs whose `refresh` ran, in order."""
    calls: list[str] = []
    for tab in page.tabs.values():
        refresh = type(tab).refresh

        def spy(self, name, values, refresh=refresh):
            calls.append(self.id)
            return refresh(self, name, values)

        monkeypatch.setattr(type(tab), "refresh", spy)
    return calls


def page_outputs(page) -> set:
    return {page.shown_tab, page.filled, page.class_choice, page.ready}


def test_only_the_tab_in_view_is_filled(page, refreshed):
    updates = page.fill(fill_values(page, VANILLA, "sample"))
    assert refreshed == ["sample"]
    assert set(updates) <= page_outputs(page) | set(page.tab("sample").refreshed)
    assert page.tab("sample").grid in updates
    assert updates[page.filled] == {"model": VANILLA, "tabs": ["sample"]} and updates[page.ready] == VANILLA
    assert updates[page.shown_tab] == "sample"
    opened = page.fill(fill_values(page, VANILLA, "sample", updates[page.filled]), "palette")  # a tab opened
    assert refreshed == ["sample", "palette"] and opened[page.shown_tab] == "palette"
    assert opened[page.filled] == {"model": VANILLA, "tabs": ["sample", "palette"]}
    assert page.class_choice not in opened  # the same model: its class control stays as the visitor set it


def test_a_second_fill_for_the_same_model_and_tab_refreshes_nothing(page, refreshed):
    first = page.fill(fill_values(page, VANILLA, "conditional"))
    again = page.fill(fill_values(page, VANILLA, "conditional", first[page.filled]))
    assert refreshed == ["conditional"]
    assert set(again) == {page.shown_tab, page.filled, page.ready} and again[page.filled] == first[page.filled]


@pytest.mark.parametrize("name", NAMES)
def test_a_model_switch_resets_the_class_control_and_refills_the_tab_in_view(page, refreshed, name):
    other = VANILLA if name == CVAE else CVAE
    before = {"model": other, "tabs": ["sample", "palette"]}
    updates = page.fill(fill_values(page, name, "palette", before))
    dropdown = updates[page.class_choice]
    classes = page.explorer.catalog.info(name).class_names
    assert [choice[0] for choice in dropdown.choices] == [AUTO, *classes] and dropdown.value == AUTO
    assert dropdown.visible == (name == CVAE)  # one class control, shown only for the conditional VAE
    assert refreshed == ["palette"] and updates[page.filled] == {"model": name, "tabs": ["palette"]}


def test_a_tab_selected_as_the_page_mounts_waits_for_the_opening_fill(page, refreshed):
    """gradio selects the first tab before the link is read: that select fills nothing, the opening fill does."""
    assert page._fill_on_open("sample")(fill_values(page, VANILLA, "reconstruct")) == {page.shown_tab: "sample"}
    assert refreshed == []
    filled = {"model": VANILLA, "tabs": ["reconstruct"]}
    opened = page._fill_on_open("sample")(fill_values(page, VANILLA, "reconstruct", filled))  # later: a visitor's click
    assert refreshed == ["sample"] and opened[page.filled] == {"model": VANILLA, "tabs": ["reconstruct", "sample"]}


def test_a_fill_of_traverse_uses_up_a_shared_links_code(page):
    dim = page.explorer.catalog.info(VANILLA).latent_dim
    pending = {"model": VANILLA, "code": [0.25] * dim}
    updates = page.fill(fill_values(page, VANILLA, "traverse", pending=pending))
    traverse = page.tab("traverse")
    assert updates[traverse.code] == pytest.approx([0.25] * dim) and updates[page.pending_code] is None


def test_the_page_opens_on_the_links_model_and_tab_filled_in_one_call(page, refreshed):
    dim = page.explorer.catalog.info(VANILLA).latent_dim
    params = {"model": VANILLA, "tab": "traverse", "code": ",".join(["0.5"] * dim)}
    updates = page.open_page(fill_values(page, CVAE, "reconstruct"), gr.Request(query_params=params))
    assert updates[page.model]["value"] == VANILLA and updates[page.tabs_component].selected == "traverse"
    assert refreshed == ["traverse"] and updates[page.filled] == {"model": VANILLA, "tabs": ["traverse"]}
    assert updates[page.tab("traverse").code] == pytest.approx([0.5] * dim) and updates[page.pending_code] is None
    plain = page.open_page(fill_values(page, CVAE, "reconstruct"), gr.Request(query_params={}))
    assert refreshed == ["traverse", "reconstruct"] and plain[page.link_note] == ""


def test_an_action_that_carries_the_visitor_fills_the_tab_first_and_keeps_its_result(page, refreshed):
    """Start Traverse here: the Traverse fill (zero) comes first, the action's start wins."""

    class Trigger:  # stands for a button's .click: keeps the event's fn
        def __call__(self, fn, *args, **kwargs):
            self.fn = fn
            return self

        def success(self, *args, **kwargs):
            return self

    traverse, trigger = page.tab("traverse"), Trigger()
    page.carry(trigger, "traverse", lambda values: {traverse.code: [1.0]}, [], [])
    updates = trigger.fn(fill_values(page, VANILLA, "latent-map", {"model": VANILLA, "tabs": ["latent-map"]}))
    assert refreshed == ["traverse"] and updates[traverse.code] == [1.0]
    assert updates[page.filled] == {"model": VANILLA, "tabs": ["latent-map", "traverse"]}


# --- the app's command line -------------------------------------------------------------------------


def test_parse_args_and_hub_repos(monkeypatch):
    args = app.parse_args([])
    assert (args.host, args.port, args.checkpoints, args.hub, args.hub_timeout) == (
        "127.0.0.1",
        7860,
        "checkpoints",
        [],
        5.0,
    )
    args = app.parse_args(["--hub", "a/b", "--hub", "c/d", "--hub-timeout", "2", "--port", "9"])
    assert (args.hub, args.hub_timeout, args.port) == (["a/b", "c/d"], 2.0, 9)
    monkeypatch.setenv(app.HUB_ENV, " c/d, e/f ,, ")
    assert app.hub_repos(["a/b", "c/d"]) == ["a/b", "c/d", "e/f"]
    monkeypatch.delenv(app.HUB_ENV)
    assert app.hub_repos([]) == []


def test_create_app_without_models_exits_with_a_message(tmp_path):
    with pytest.raises(SystemExit, match="no models"):
        create_app(tmp_path / "nothing", hub=[])


# --- the code's size and layering -------------------------------------------------------------------


def source_files(package: str) -> list[Path]:
    files = sorted((REPO_ROOT / package).rglob("*.py"))
    assert files, f"no Python files in {package}/"
    return files


def test_no_explorer_module_or_class_is_too_long_to_read():
    long_modules, long_classes = [], []
    for path in source_files("explorer"):
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{path.name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - first + 1 > MAX_CLASS_LINES:
                    long_classes.append(f"{path.name}:{node.name}: {node.end_lineno - first + 1} lines")
    assert not long_modules, f"over {MAX_MODULE_LINES} lines: {long_modules}"
    assert not long_classes, f"over {MAX_CLASS_LINES} lines: {long_classes}"


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports (absolute imports; relative ones stay inside its package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_models_package_imports_neither_gradio_nor_plotly():
    """vae_models is the library under the page: the page's toolkits stay in explorer/."""
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(imported_packages(path) & {"gradio", "plotly"})
        for path in source_files("vae_models")
    }
    assert not {path: names for path, names in offenders.items() if names}
    assert {"gradio", "plotly"} <= set().union(*map(imported_packages, source_files("explorer")))  # the scan sees them


def test_app_is_only_the_command_line():
    lines = len((REPO_ROOT / "app.py").read_text().splitlines())
    assert lines <= MAX_APP_LINES, f"app.py has {lines} lines; the page belongs in explorer/"
