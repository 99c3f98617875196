"""The real page in headless Chromium: launch `python app.py`, click through every tab like a user.

Slow (the app takes ~10-20 s to start on a loaded 2-core machine) and needs Playwright plus a
Chromium binary (CHROMIUM env var, else /usr/bin/chromium or `chromium` on PATH); skipped without them.
On failure, a full-page screenshot and the tail of the server log are left in the test's tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from benchmarks.server import AppServer

sync_api = pytest.importorskip("playwright.sync_api")
expect, sync_playwright = sync_api.expect, sync_api.sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("vanilla_vae-digits", "cvae-digits")
TABS = ("Reconstruct", "Sample", "Conditional", "Traverse", "Latent map", "Interpolate", "Model card")
START_TIMEOUT_S = 90
TIMEOUT_MS = 45_000  # one callback can take seconds while training runs on the same two cores
SETTLE_MS = 1_500  # after a response, how long to wait for stray extra requests before counting
JOIN = "/gradio_api/queue/join"

expect.set_options(timeout=TIMEOUT_MS)


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """`python app.py` on a free port, with its own log and temporary folders; killed at the end of the module."""
    if not any((ROOT / "checkpoints" / name).is_dir() for name in MODELS):
        pytest.skip("no checkpoints/ to serve")
    # If it exits or never answers, the setup error says so, with the tail of its log.
    with AppServer(workdir=tmp_path_factory.mktemp("server"), timeout=START_TIMEOUT_S) as app:
        yield app


@pytest.fixture(scope="module")
def chromium():
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium binary (set CHROMIUM=/path/to/chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class UI:
    """A freshly loaded page, with what it did: uncaught JS errors and the queue calls it made."""

    page: object
    server: AppServer  # the app serving the page: its log
    errors: list[str] = field(default_factory=list)
    joins: list[dict] = field(default_factory=list)

    def on_request(self, request) -> None:
        if request.method == "POST" and JOIN in request.url:
            self.joins.append(json.loads(request.post_data or "{}"))

    # --- locators ---------------------------------------------------------------------------

    def tab(self, name: str):
        return self.page.get_by_role("tab", name=name, exact=True)

    def open_tab(self, name: str) -> None:
        self.tab(name).click()
        expect(self.tab(name)).to_have_attribute("aria-selected", "true")

    def block(self, label: str, exact: bool = True):
        """The component whose label (an image's, a file's, a plot's) is `label`."""
        text = re.compile(rf"^\s*{re.escape(label)}\s*$") if exact else label
        return self.page.locator(".block", has=self.page.get_by_test_id("block-label").filter(has_text=text))

    def image(self, label: str):
        return self.block(label).locator("img")

    def wait_image(self, label: str, other_than: str | None = None) -> str:
        """Wait until the image output `label` shows a loaded image (a new one if `other_than`); its src."""
        img = self.image(label)
        expect(img).to_be_visible()
        expect(img).to_have_attribute("src", re.compile(r"/gradio_api/file="))
        if other_than is not None:
            expect(img).not_to_have_attribute("src", other_than)
        self.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        return img.get_attribute("src")

    def toasts(self, kind: str):
        return self.page.locator(f"[data-testid=toast-body].{kind}")

    def model_dropdown(self):
        return self.page.get_by_role("combobox", name="Model", exact=True)

    def current_model(self) -> str:
        return self.model_dropdown().input_value().split(" · ")[0]

    def pick_model(self, name: str) -> None:
        self.model_dropdown().click()
        self.page.get_by_role("option", name=re.compile(rf"^\W*{re.escape(name)} ·")).click()
        expect(self.model_dropdown()).to_have_value(re.compile(rf"^{re.escape(name)} ·"))

    def use_model(self, name: str) -> None:
        """Make `name` the selected model (later checkpoints may sort before it), then let the page settle."""
        if self.current_model() != name:
            self.pick_model(name)
            self.settle_and_take_joins()

    def z_sliders(self):
        """The Traverse tab's latent sliders (their range inputs), top to bottom."""
        return self.page.get_by_role("slider", name=re.compile(r"^range slider for z\d"))

    def z_labels(self) -> list[str]:
        """The sliders' labels, read in one go (one by one could mix two models' while they update)."""
        labels = self.z_sliders().evaluate_all("inputs => inputs.map(i => i.getAttribute('aria-label'))")
        return [label.removeprefix("range slider for ") for label in labels]

    def wait_z_labels(self, other_than: list[str]) -> list[str]:
        """The slider labels, once they differ from `other_than` (after a model switch) and are steady."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        previous = None
        while True:
            labels = self.z_labels()
            if labels and labels != other_than and labels == previous:
                return labels
            assert time.monotonic() < deadline, f"the slider labels stayed {other_than}"
            previous = labels
            self.page.wait_for_timeout(300)

    def settle_and_take_joins(self) -> list[dict]:
        self.page.wait_for_timeout(SETTLE_MS)
        joins, self.joins[:] = list(self.joins), []
        return joins


@pytest.fixture
def ui(server, chromium, tmp_path: Path, request: pytest.FixtureRequest):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    state = UI(page, server)
    page.on("pageerror", lambda err: state.errors.append(str(err)))
    page.on("request", state.on_request)
    failed_before = request.session.testsfailed
    page.goto(server.url)
    expect(page.get_by_role("heading", name="VAE Latent Explorer")).to_be_visible()
    # demo.load fills the model card: once its table is there, the page's start-up calls are done
    # (tabs are drawn only when opened, so look there, then go back to the first tab).
    state.open_tab("Model card")
    expect(page.locator("table", has_text="metric").first).to_be_visible()
    state.open_tab("Reconstruct")
    state.settle_and_take_joins()
    yield state
    # A failed test has been reported by now: leave a picture and the server's last words.
    if request.session.testsfailed > failed_before:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        (tmp_path / "app.log").write_text(server.log_tail(200))
        print(f"screenshot: {shot}\nserver log tail:\n{server.log_tail()}")
    context.close()
    assert state.errors == [], f"uncaught JS errors on the page: {state.errors}"


@pytest.fixture
def pngs(tmp_path: Path) -> dict[str, Path]:
    """A light stroke on black (like the training digits), a dark ring on white, and text named .png."""
    light = Image.new("L", (32, 32), 0)
    draw = ImageDraw.Draw(light)
    draw.line([(16, 5), (16, 27)], fill=255, width=3)
    draw.line([(10, 10), (16, 5)], fill=255, width=3)
    dark = Image.new("L", (32, 32), 255)
    ImageDraw.Draw(dark).ellipse([8, 5, 24, 27], outline=0, width=3)
    paths = {"light": tmp_path / "one.png", "dark": tmp_path / "zero.png", "bad": tmp_path / "notes.png"}
    light.save(paths["light"])
    dark.save(paths["dark"])
    paths["bad"].write_text("this is a text file, not a PNG\n")
    return paths


def _upload(ui: UI, path: Path) -> None:
    """Upload `path` on the Reconstruct tab, clearing the previous file first (as a user must)."""
    block = ui.block("Image (PNG", exact=False)
    clear = block.get_by_role("button", name="Clear")
    if clear.count():
        clear.click()
    block.locator("input[type=file]").set_input_files(str(path))


# --- the tests ----------------------------------------------------------------------------------


def test_title_tabs_and_models(ui: UI) -> None:
    page = ui.page
    expect(page).to_have_title("VAE Latent Explorer")
    for name in TABS:
        expect(ui.tab(name)).to_be_visible()
    ui.model_dropdown().click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    names = [text.strip().lstrip("✓").strip().split(" · ")[0] for text in options.all_inner_texts()]
    assert set(MODELS) <= set(names), names
    page.keyboard.press("Escape")


def test_reconstruct_upload(ui: UI, pngs: dict[str, Path]) -> None:
    ui.use_model(MODELS[0])  # a digits model: light strokes on black, so the dark-on-light PNG gets inverted
    _upload(ui, pngs["light"])  # the upload itself runs the reconstruction
    seen = ui.wait_image("Input as the model sees it")
    recon = ui.wait_image("Reconstruction")
    assert len(ui.settle_and_take_joins()) == 1  # one /reconstruct call, not one per output
    expect(ui.toasts("error")).to_have_count(0)

    _upload(ui, pngs["dark"])  # dark on light: inverted, and the page says so
    ui.wait_image("Input as the model sees it", other_than=seen)
    ui.wait_image("Reconstruction", other_than=recon)
    expect(ui.toasts("warning").filter(has_text="inverted")).to_be_visible()
    expect(ui.toasts("error")).to_have_count(0)

    ui.page.get_by_role("button", name="Reconstruct", exact=True).click()
    ui.wait_image("Reconstruction")
    expect(ui.toasts("error")).to_have_count(0)


def test_bad_upload_names_the_problem_and_page_keeps_working(ui: UI, pngs: dict[str, Path]) -> None:
    page = ui.page
    _upload(ui, pngs["bad"])
    error = ui.toasts("error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not a readable image")
    assert "Traceback" not in page.locator("body").inner_text()
    # An expected error: no trace in the server's log either.
    assert "Traceback" not in ui.server.log.read_text(errors="replace"), ui.server.log_tail()
    expect(ui.image("Reconstruction")).to_have_count(0)

    ui.open_tab("Sample")
    page.get_by_role("button", name="Sample the prior").click()
    ui.wait_image("Prior samples")
    assert "Traceback" not in page.locator("body").inner_text()


def test_sample_the_prior(ui: UI) -> None:
    ui.open_tab("Sample")
    ui.page.get_by_role("button", name="Sample the prior").click()
    ui.wait_image("Prior samples")
    expect(ui.toasts("error")).to_have_count(0)


def test_traverse_sliders_are_there_on_first_visit(ui: UI) -> None:
    ui.open_tab("Traverse")
    expect(ui.z_sliders().first).to_be_visible(timeout=10_000)


def test_traverse_one_decode_per_slider_move(ui: UI) -> None:
    page = ui.page
    ui.open_tab("Traverse")
    first = ui.current_model()
    other = next(name for name in MODELS if name != first)
    ui.pick_model(other)
    other_labels = ui.wait_z_labels(other_than=[])
    ui.pick_model(first)
    labels = ui.wait_z_labels(other_than=other_labels)
    assert labels and all(re.match(r"z\d+\b", label) for label in labels), labels
    kl = [float(m.group(1)) for m in (re.search(r"KL ([\d.]+)", label) for label in labels) if m]
    assert kl == sorted(kl, reverse=True), f"sliders not ordered by KL: {labels}"
    ui.settle_and_take_joins()

    page.get_by_role("button", name="Set start point").click()  # from zero: a first decoded image
    before = ui.wait_image("Decoded")
    ui.settle_and_take_joins()

    number = page.get_by_role("spinbutton", name=f"number input for {labels[0]}", exact=True)
    number.fill("2.5")
    number.press("Enter")
    after_number = ui.wait_image("Decoded", other_than=before)
    joins = ui.settle_and_take_joins()
    assert len(joins) == 1, f"one slider move made {len(joins)} queue calls: {joins}"
    assert 2.5 in joins[0]["data"], joins[0]

    slider = page.get_by_role("slider", name=f"range slider for {labels[1]}", exact=True)
    slider.focus()
    slider.press("End")  # keyboard: jump to +3
    ui.wait_image("Decoded", other_than=after_number)
    expect(slider).to_have_value("3")
    joins_keyboard = ui.settle_and_take_joins()
    assert len(joins_keyboard) == 1, f"one slider move made {len(joins_keyboard)} queue calls: {joins_keyboard}"
    assert joins_keyboard[0]["fn_index"] == joins[0]["fn_index"]
    assert 2.5 in joins_keyboard[0]["data"] and 3 in joins_keyboard[0]["data"], joins_keyboard[0]

    ui.pick_model(other)  # the other model's sliders, back at zero
    assert ui.wait_z_labels(other_than=labels) == other_labels
    expect(page.get_by_role("spinbutton", name=f"number input for {other_labels[0]}", exact=True)).to_have_value("0")
    expect(ui.toasts("error")).to_have_count(0)


def test_latent_map_draws_a_plot(ui: UI) -> None:
    ui.use_model(MODELS[0])  # one with a latent cache
    ui.open_tab("Latent map")
    ui.page.get_by_role("button", name="Show map").click()
    expect(ui.block("Latent space").locator(".js-plotly-plot")).to_be_visible()
    expect(ui.page.get_by_text(re.compile(r"PCA of \d+ test codes"))).to_be_visible()
    expect(ui.toasts("error")).to_have_count(0)


def test_model_card_shows_the_metrics(ui: UI) -> None:
    ui.open_tab("Model card")
    table = ui.page.get_by_role("table").filter(has_text="metric").first
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader")).to_have_text(["metric", "value"])
    assert table.locator("tbody tr").count() >= 1
    expect(ui.page.get_by_text("Model config")).to_be_visible()
    expect(ui.page.get_by_text(re.compile(rf"^{re.escape(ui.current_model())} · "))).to_be_visible()
