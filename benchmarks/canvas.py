"""python -m benchmarks.canvas [--hands 2] [--seed 0] [--checkpoints DIR] [--save DIR] [--json FILE]

Digits drawn with the mouse on the Reconstruct tab's canvas, in headless Chromium (benchmarks.browser)
against the real app on a loopback port. For vanilla_vae-digits and for cvae-digits (its class on
"auto (best fit)"): the share of the drawn digits whose model view and whose reconstruction, as the
page shows them, the independent judge (benchmarks.judge's digits_judge) calls the digit drawn,
and the time from the end of a stroke (the pointer's release, in the page's clock) to the first
frame that shows its reconstruction beside the canvas (the canvas's own request, answered inline)
and to the tab's Reconstruction panel loading it (the queued event, then the file's download): the
whole round trip a visitor waits for.

The hands are benchmarks.photo_digits' pen templates with the same jitter, slant and squeeze, each
digit 50-80% of the drawing area's height, anywhere on it, drawn with the canvas's default brush.
Each stroke starts when the page is idle, so the time is that of one stroke, not of a queue.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from vae_models.images import to_pil

from .browser import chromium_path, draw_strokes, picture
from .judge import digits_judge
from .photo_digits import BARS, at_model_size, class_read, hand, judged
from .server import AppServer

MODELS = ("vanilla_vae-digits", "cvae-digits")
LATENCY_BAR_MS = 100.0
QUIET_MS = 700  # after a stroke's reconstruction, how long the page must stay still to be done
TIMEOUT_MS = 30_000
STROKE_TIMEOUT_MS = 10_000  # a stroke nothing answers is counted as unanswered
Stroke = list[tuple[float, float]]

# Stamps, in the page's clock: every pointer release; every frame that first shows a new
# reconstruction beside the canvas (inline in the answer to the canvas's own request: the next
# animation frame once the picture is in the page and decoded); and every picture the tab's
# Reconstruction panel loads (a file the page fetches once the queued event answers).
WATCH = """() => {
    const times = window.canvasTimes = {up: [], shown: [], panel: [], latest: 0};
    const stamp = (list) => { const now = performance.now(); list.push(now); times.latest = now; };
    document.addEventListener('pointerup', () => times.up.push(performance.now()), true);
    new MutationObserver(() => {
        const img = document.querySelector('#canvas .sketch-preview img[alt=reconstruction]');
        if (img) img.decode().then(() => requestAnimationFrame(() => stamp(times.shown)), () => null);
    }).observe(document.querySelector('#canvas .sketch-preview'), {childList: true, subtree: true});
    document.addEventListener('load', (event) => {
        const block = event.target.closest && event.target.closest('.block');
        const label = block && block.querySelector('[data-testid=block-label]');
        if (label && label.textContent.trim() === 'Reconstruction') stamp(times.panel);
    }, true);
}"""

# Whether something has shown since `since` (the page's clock), and nothing more for `quiet` ms.
STILL = """([since, quiet]) => {
    const times = window.canvasTimes;
    return times.latest > since && performance.now() - times.latest > quiet;
}"""


@dataclass(frozen=True)
class Drawn:
    """One digit as drawn on the canvas and read back from the page."""

    digit: int
    view: torch.Tensor  # [1, 32, 32] in [0, 1]: "Input as the model sees it", at the model's size
    reconstruction: torch.Tensor
    note: str  # the line under the view: the steps taken, and the class read by a conditional model
    latencies_ms: list[float]  # one per stroke: to the reconstruction beside the canvas
    panel_latencies_ms: list[float]  # the same, to the Reconstruction panel above


def digit_strokes(digit: int, rng: np.random.Generator) -> list[Stroke]:
    """A hand-drawn `digit` (photo_digits' hand) placed on the drawing area, in fractions of its side."""
    drawn = hand(digit, rng)
    height = rng.uniform(0.5, 0.8)
    width = min(0.9, drawn.width * height)
    left, top = rng.uniform(0.05, 0.95 - width), rng.uniform(0.05, 0.95 - height)
    return [
        [(left + x * width / drawn.width, top + y * height) for x, y in stroke.tolist()] for stroke in drawn.strokes
    ]


class CanvasPage:
    """The Reconstruct tab of a loaded page, its canvas open and its brush picked."""

    def __init__(self, page: Any, url: str, model: str) -> None:
        self.page = page
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{url}?model={model}&tab=reconstruct")
        page.wait_for_function(  # the page's start-up updates are done (the last one names the model)
            "name => document.querySelector('#model-ready textarea, #model-ready input')?.value === name", arg=model
        )
        page.get_by_text("Or draw: the reconstruction follows your strokes").click()
        self.tools = page.locator("#canvas")
        self.canvas = self.tools.locator("canvas")
        self.tools.locator(".sketch-preview").wait_for()
        page.evaluate(WATCH)

    def draw(self, digit: int, strokes: list[Stroke]) -> Drawn:
        """Clear the canvas, draw the strokes one at a time (each once the page is idle), read the result."""
        self.tools.get_by_role("button", name="Clear").click()
        self.page.wait_for_timeout(QUIET_MS)
        latencies = [self._stroke(stroke) for stroke in strokes]
        view, reconstruction = (self._image(label) for label in ("Input as the model sees it", "Reconstruction"))
        note = self.page.locator(".status:not(.status *)").filter(has_text="counted in").first.inner_text()
        return Drawn(digit, view, reconstruction, note, *map(list, zip(*latencies, strict=True)))

    def _stroke(self, stroke: Stroke) -> tuple[float, float]:
        """Draw one stroke and wait until the page has been still for QUIET_MS; the ms from its release
        to the first reconstruction shown after it, beside the canvas and in the panel (NaN if none came)."""
        since = self.page.evaluate("performance.now()")
        draw_strokes(self.page, self.canvas, [stroke])
        with contextlib.suppress(PlaywrightTimeout):
            self.page.wait_for_function(STILL, arg=[since, QUIET_MS], polling=100, timeout=STROKE_TIMEOUT_MS)
        up, shown, panel = self.page.evaluate(
            "[window.canvasTimes.up.at(-1), window.canvasTimes.shown, window.canvasTimes.panel]"
        )
        return tuple(next((t - up for t in times if t > up), math.nan) for times in (shown, panel))

    def _image(self, label: str) -> torch.Tensor:
        block = self.page.locator(".block", has=self.page.get_by_test_id("block-label").filter(has_text=label))
        return at_model_size(picture(self.page, block.locator("img").get_attribute("src")))


def draw_digits(
    page: Any, url: str, model: str, hands: int, seed: int, digits: Sequence[int] = range(10)
) -> list[Drawn]:
    """Each digit drawn `hands` times on `model`'s canvas (the same hands for every model, by seed)."""
    rng = np.random.default_rng(seed)
    canvas = CanvasPage(page, url, model)
    return [canvas.draw(digit, digit_strokes(digit, rng)) for _ in range(hands) for digit in digits]


def judged_drawings(drawn: list[Drawn], judge: Any, field: str) -> float:
    return judged(judge, torch.stack([getattr(d, field) for d in drawn]), torch.tensor([d.digit for d in drawn]))


def class_read_right(drawn: list[Drawn]) -> float:
    classes = [class_read(d.note) for d in drawn]
    if None in classes:
        raise RuntimeError(f"the page named no class for a drawing: {drawn[classes.index(None)].note!r}")
    return float(np.mean([c == d.digit for c, d in zip(classes, drawn, strict=True)]))


def figures_for(model: str, drawn: list[Drawn], judge: Any) -> dict[str, float]:
    latencies = [ms for d in drawn for ms in d.latencies_ms if not math.isnan(ms)]
    panel = [ms for d in drawn for ms in d.panel_latencies_ms if not math.isnan(ms)]
    strokes = sum(len(d.latencies_ms) for d in drawn)
    figures = {
        f"{model}: model view judged the digit drawn": judged_drawings(drawn, judge, "view"),
        f"{model}: reconstruction judged the digit drawn": judged_drawings(drawn, judge, "reconstruction"),
        f"{model}: stroke to reconstruction beside the canvas, median ms ({len(latencies)} strokes)": float(
            np.median(latencies)
        ),
        f"{model}: stroke to reconstruction beside the canvas, 90th percentile ms": float(np.percentile(latencies, 90)),
        f"{model}: stroke to the Reconstruction panel, median ms": float(np.median(panel)),
        f"{model}: strokes with no reconstruction beside the canvas within 10 s": strokes - len(latencies),
    }
    if model.startswith("cvae"):
        figures[f"{model}: class read by its posterior, right on the drawings"] = class_read_right(drawn)
    return figures


def measure(checkpoints: Path, hands: int, seed: int, save: Path | None) -> dict[str, float]:
    executable = chromium_path()
    if executable is None:
        raise SystemExit("no Chromium binary: install Debian's chromium or set CHROMIUM=/path/to/chromium")
    judge = digits_judge()
    figures: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        AppServer(checkpoints=checkpoints, workdir=Path(tmp)) as app,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        for model in MODELS:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            drawn = draw_digits(page, app.url, model, hands, seed)
            figures.update(figures_for(model, drawn, judge))
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(save / f"canvas-{model}.png"), full_page=True)
                contact_sheet(drawn).save(save / f"canvas-{model}-views.png")
            page.close()
        browser.close()
    return figures


def contact_sheet(drawn: list[Drawn]) -> Image.Image:
    """Per drawn digit a column: the model view over the reconstruction."""
    cells = [d.view for d in drawn] + [d.reconstruction for d in drawn]
    return to_pil(torch.stack(cells), nrow=len(drawn), scale=3)


def report(figures: dict[str, float]) -> str:
    lines = ["| figure | value | bar |", "| --- | --- | --- |"]
    for name, value in figures.items():
        if " ms" in name:
            barred = "beside the canvas, median" in name  # the panel's time is shown, not barred
            bar = f"{'✅' if value < LATENCY_BAR_MS else '❌'} < {LATENCY_BAR_MS:.0f} ms" if barred else ""
            lines.append(f"| {name} | {value:.0f} | {bar} |")
            continue
        if isinstance(value, int):
            lines.append(f"| {name} | {value} | |")
            continue
        goal = next((g for key, g in BARS.items() if f"{key} judged" in name), None)
        verdict = "" if goal is None else f"{'✅' if value >= goal else '❌'} ≥ {goal:.0%}"
        lines.append(f"| {name} | {value:.1%} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.canvas", description=__doc__)
    parser.add_argument("--hands", type=int, default=2, help="how many times each digit is drawn (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--save", type=Path, metavar="DIR", help="also keep screenshots and the views drawn")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures = measure(args.checkpoints, args.hands, args.seed, args.save)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
