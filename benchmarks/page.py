"""python -m benchmarks.page [--quick] [--json FILE] [--checkpoints DIR] [--variants]

Issue 35's page bars, each measured side by side in one run against the served app (`python app.py`):

1. Slider: /decode over plain HTTP the way gradio 6.31's page calls an event (POST
   /gradio_api/queue/join with the page's session, then the server-sent events of
   /gradio_api/queue/data until the call completes, then the image file), against a bare Gradio app
   (benchmarks/bare_app.py: same gradio, same queue settings, one endpoint returning a 192×192 PIL
   image). Both servers are up at once and the calls alternate; p50 of each and their ratio. Scripts'
   way, /gradio_api/call/decode (a new session every call), is measured too. gradio_client is not used
   for timing: its 2.x loop sleeps 50 ms between looks at the stream.
2. Slider while a run trains: the same p50 while a run started through the app's /train endpoint
   trains and the Train tab's timer asks /train_status every 1.5 s, as a ratio to the idle p50.
3. Start-up in headless Chromium (Playwright, Debian's chromium): navigation to the first
   reconstruction visible on the Reconstruct tab (the image labelled "Reconstruction" loaded), median
   over fresh browser contexts on a warm server; and the requests the page sends to the server's API
   (queue/join, queue/data, run/*, call/*) until its start-up is done, counted apart from file and
   static fetches.
4. Model switch: another model picked in the "Model" dropdown, timed from the pointer going down on
   the option until the hidden `#model-ready` box names it and the reconstruction shows a new image.

Every function takes the URL of a served app, so they measure any app (`AppServer(...).url`).
`--variants` instead times the bare app with one of the page's traits added at a time against the
plain bare app, to see what costs a /decode its time.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .browser import chromium_path
from .server import AppServer, wait_for
from .timing import Timing, milliseconds

BARS = {"slider": 1.25, "training": 1.3, "first_reconstruction_s": 1.5, "requests": 5, "switch_s": 0.5}
SLIDER_MODEL, SLIDER_CODE, AUTO = "vanilla_vae-digits", [0.5] * 8, "auto (best fit)"
POLL_SECONDS = 1.5  # how often the open Train tab asks /train_status (app.py's LIVE_SECONDS)
TRAIN_FORM = {  # a long run, stopped once measured
    "model_type": "vanilla_vae",
    "dataset": "digits",
    "uploads": [],
    "latent_dim": 8,
    "weight": 1.0,
    "steps": 20_000,
    "batch_size": 64,
    "lr": 1e-3,
}
TRAINING_LINE = re.compile(r"training: step [1-9]")  # the Train tab's line once the run has logged a step
ROUNDS = 200  # /decode calls on each server, alternating (about 10 s on an idle machine)
QUIET_S = 1.0  # the page's start-up (or a switch) is done once no API call has been in flight this long
TIMEOUT_S = 120.0
API_PATHS = ("/gradio_api/queue/join", "/gradio_api/queue/data", "/gradio_api/run/", "/gradio_api/call/")
FILE_PATHS = ("/gradio_api/file=", "/file=", "/assets/", "/static/", "/gradio_api/static/", "/favicon", "/theme.css")
VARIANTS = {  # bare_app.py's flags: one trait of the page at a time
    "a gr.State input": ["--state"],
    "delete_cache=(600, 3600)": ["--delete-cache"],
    ".success/.failure chained": ["--chains"],
    "150 more events": ["--events", "150"],
    "300 more components": ["--components", "300"],
    "300 more components, new session per call": ["--components", "300"],
    "2 ms of work in the callback": ["--busy-ms", "2"],
    "gradio's per-event analytics summary off": ["--analytics-off"],  # a remedy: under 1× is its cost
}


# --- pure parts -------------------------------------------------------------------------------


def classify(url: str, origin: str) -> str:
    """What a request of the page is: "api" (an event's call: queue join or data, run, call), "file"
    (an output file or a static asset), "other" (the document, config, heartbeat, upload...), or
    "external" (not to the server at `origin`)."""
    parts, server = urlsplit(url), urlsplit(origin)
    if (parts.scheme, parts.netloc) != (server.scheme, server.netloc):
        return "external"
    path = parts.path
    if path.startswith(API_PATHS):
        return "api"
    if path.startswith(FILE_PATHS) or path.rsplit("/", 1)[-1].endswith((".js", ".css", ".woff2", ".svg", ".png")):
        return "file"
    return "other"


def ratio(value: float, floor: float) -> float:
    return value / floor if floor > 0 else float("inf")


def verdict(value: float, bar: float | None) -> str:
    """✅ at or under the bar, ❌ over it, "" for a figure without a bar."""
    if bar is None:
        return ""
    return "✅" if value <= bar else "❌"


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    bar: str = ""
    verdict: str = ""


def table(title: str, rows: Iterable[Row]) -> str:
    lines = [f"### {title}", "", "| figure | value | bar | |", "| --- | --- | --- | --- |"]
    return "\n".join(lines + [f"| {r.figure} | {r.value} | {r.bar} | {r.verdict} |" for r in rows])


def option_name(text: str) -> str:
    """The model an option of the Model dropdown names ("✓ cvae-digits · CVAE, ..." -> "cvae-digits")."""
    return text.strip().lstrip("✓").strip().split(" · ")[0].strip()


def positional(parameters: Sequence[dict], kwargs: dict[str, Any]) -> list:
    """`kwargs` in the order of an endpoint's parameters (/gradio_api/info), defaults where left out."""
    missing = [
        p["parameter_name"]
        for p in parameters
        if p["parameter_name"] not in kwargs and not p.get("parameter_has_default")
    ]
    if missing:
        raise ValueError(f"missing arguments: {missing}")
    return [kwargs.get(p["parameter_name"], p.get("parameter_default")) for p in parameters]


def steadier_ratios(app: Sequence[float], bare: Sequence[float]) -> dict[str, float]:
    """Two checks on the p50 ratio for a loaded machine, where one server can be starved for seconds
    while the other is not: the median of each round's own ratio (its two calls side by side), and
    the ratio of the fastest calls (each server's floor)."""
    return {
        "paired_ratio": median([ratio(a, b) for a, b in zip(app, bare, strict=True)]),
        "floor_ratio": ratio(min(app), min(bare)),
    }


def median(values: Sequence[float | None]) -> float:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else float("nan")


# --- calling an app as its page does ----------------------------------------------------------


class PageClient:
    """Calls a served app's events the way gradio 6.31's page does: a queued event is a POST to
    /gradio_api/queue/join (its fn_index, trigger and the page's session hash), then the server-sent
    events of /gradio_api/queue/data?session_hash=... until "close_stream"; an unqueued one a POST to
    /gradio_api/run/<api_name>. Then every file in the result is downloaded, as the page shows it.
    `call_api` is the scripts' way instead: /gradio_api/call/<api_name>, a new session each call."""

    def __init__(self, url: str, session_hash: str | None = None) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=TIMEOUT_S)
        self.config = self.http.get("/config").json()
        self.session_hash = session_hash or uuid.uuid4().hex[:11]
        self._info: dict | None = None

    def dependency(self, api_name: str) -> dict:
        found = [d for d in self.config["dependencies"] if d.get("api_name") == api_name]
        if not found:
            raise KeyError(f"the app has no event named {api_name!r}")
        return found[0]

    def arguments(self, api_name: str, args: Sequence, kwargs: dict[str, Any]) -> list:
        if not kwargs:
            return list(args)
        if self._info is None:
            self._info = self.http.get("/gradio_api/info").json()
        return positional(self._info["named_endpoints"][f"/{api_name}"]["parameters"], kwargs)

    def page_data(self, dependency: dict, values: list) -> list:
        """The values as the page sends them: one per input, null for a gr.State (kept by the server)."""
        types = {component["id"]: component.get("type") for component in self.config["components"]}
        given = iter(values)
        return [None if types.get(i) == "state" else next(given, None) for i in dependency["inputs"]]

    def call(self, api_name: str, *args: Any, **kwargs: Any) -> list:
        dependency = self.dependency(api_name)
        body = {
            "data": self.page_data(dependency, self.arguments(api_name, args, kwargs)),
            "event_data": None,
            "fn_index": dependency["id"],
            "trigger_id": dependency["targets"][0][0] if dependency["targets"] else None,
            "session_hash": self.session_hash,
        }
        if not dependency.get("queue", True):
            response = self.http.post(f"/gradio_api/run/{api_name}", json=body)
            response.raise_for_status()
            return self._download(response.json()["data"])
        joined = self.http.post("/gradio_api/queue/join", json=body)
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        outputs = None
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session_hash}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line.removeprefix("data:"))
                kind = message.get("msg")
                if kind == "process_completed" and message.get("event_id") == event_id:
                    if not message.get("success"):
                        raise RuntimeError(f"/{api_name} failed: {str(message.get('output'))[:300]}")
                    outputs = message["output"]["data"]
                elif kind == "unexpected_error":
                    raise RuntimeError(f"/{api_name}: {message.get('message')}")
                if kind == "close_stream" or (outputs is not None and kind == "process_completed"):
                    break
        if outputs is None:
            raise RuntimeError(f"/{api_name} did not complete")
        return self._download(outputs)

    def call_api(self, api_name: str, *args: Any) -> list:
        event_id = self.http.post(f"/gradio_api/call/{api_name}", json={"data": list(args)}).json()["event_id"]
        with self.http.stream("GET", f"/gradio_api/call/{api_name}/{event_id}") as stream:
            lines = list(stream.iter_lines())
        if "event: complete" not in lines:
            raise RuntimeError(f"/{api_name} did not complete: {lines[-2:]}")
        return self._download(json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: ")))

    def _download(self, outputs: list) -> list:
        for output in outputs:
            if isinstance(output, dict) and output.get("url"):
                self.http.get(output["url"]).raise_for_status()
        return outputs

    def close(self) -> None:
        self.http.close()


def side_by_side(
    calls: dict[str, Callable[[], object]], rounds: int, warmup: int = 5, min_seconds: float = 0.0
) -> dict[str, list[float]]:
    """Seconds per call of each of `calls`, in alternating order round after round: `rounds` rounds,
    and more until `min_seconds` have passed."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    until, i = time.monotonic() + min_seconds, 0
    while i < rounds or time.monotonic() < until:
        for name in names if i % 2 == 0 else reversed(names):
            started = time.perf_counter()
            calls[name]()
            seconds[name].append(time.perf_counter() - started)
        i += 1
    return seconds


def decode_calls(app_url: str, bare_url: str, way: str = "page", session_hash: str | None = None) -> dict:
    """{"app": call, "bare": call}: one slider /decode on each, the page's way or the scripts' ("call")."""
    args = (SLIDER_MODEL, SLIDER_CODE, AUTO)
    clients = {"app": PageClient(app_url, session_hash), "bare": PageClient(bare_url)}
    if way == "call":
        return {k: (lambda c=c: c.call_api("decode", *args)) for k, c in clients.items()}
    return {k: (lambda c=c: c.call("decode", *args)) for k, c in clients.items()}


def slider(app_url: str, bare_url: str, rounds: int, way: str = "page") -> dict[str, Any]:
    """/decode's p50 on the app and on the bare app, calls alternating, and their ratio."""
    seconds = side_by_side(decode_calls(app_url, bare_url, way), rounds)
    app, bare = Timing.of(seconds["app"]), Timing.of(seconds["bare"])
    return {
        "way": way,
        "app": app.as_dict(),
        "bare": bare.as_dict(),
        "ratio": ratio(app.median, bare.median),
        **steadier_ratios(seconds["app"], seconds["bare"]),
    }


def slider_while_training(
    app_url: str, bare_url: str, rounds: int, min_seconds: float = 20.0, start_timeout: float = 300
) -> dict[str, Any]:
    """/decode's p50 (app and bare app, alternating) while a run trains: started through /train by the
    page's session, which asks /train_status every POLL_SECONDS as the open Train tab does, and which
    moves the slider, for `rounds` rounds and at least `min_seconds` once the run has logged a step.
    The run is stopped at the end."""
    trainer = PageClient(app_url)
    trainer.call("train", **TRAIN_FORM)
    deadline = time.monotonic() + start_timeout
    while not TRAINING_LINE.search(json.dumps(trainer.call("train_status")[0], ensure_ascii=False)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run did not start training within {start_timeout:.0f} s")
        time.sleep(0.5)
    done, polls = threading.Event(), []

    def poll() -> None:  # the Train tab's timer, on its own connection
        tab = PageClient(app_url, trainer.session_hash)
        while not done.wait(POLL_SECONDS):
            started = time.perf_counter()
            tab.call("train_status")
            polls.append(time.perf_counter() - started)
        tab.close()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        calls = decode_calls(app_url, bare_url, "page", trainer.session_hash)
        seconds = side_by_side(calls, rounds, warmup=2, min_seconds=min_seconds)
        still = bool(TRAINING_LINE.search(json.dumps(trainer.call("train_status")[0], ensure_ascii=False)))
    finally:
        done.set()
        poller.join()
        trainer.call("train_stop")
    app, bare = Timing.of(seconds["app"]), Timing.of(seconds["bare"])
    return {"app": app.as_dict(), "bare": bare.as_dict(), "status_polls": Timing.of(polls).as_dict() if polls else None,
            "still_training": still}  # fmt: skip


# --- the page in Chromium ---------------------------------------------------------------------

# Injected before the page's own scripts: notes when the Reconstruction image is first shown.
WATCH_JS = """
(() => {
  const bench = (window.__bench = { firstReconstruction: null });
  window.__benchImage = (label) => {
    for (const name of document.querySelectorAll('[data-testid="block-label"]')) {
      if (name.textContent.trim() !== label) continue;
      const img = name.closest('.block')?.querySelector('img');
      if (img) return img;
    }
    return null;
  };
  window.__benchShown = (img) => !!img && !!img.getAttribute('src') && img.complete && img.naturalWidth > 0
    && img.getClientRects().length > 0 && img.offsetParent !== null;
  const look = () => {
    if (window.__benchShown(window.__benchImage('Reconstruction'))) bench.firstReconstruction = performance.now();
    else setTimeout(look, 5);
  };
  look();
})();
"""
# Until `#model-ready` names the model and the Reconstruction image is a new one, loaded: then the time.
SWITCHED_JS = """
([name, before]) => new Promise((resolve) => {
  const look = () => {
    const ready = document.querySelector('#model-ready textarea, #model-ready input');
    const img = window.__benchImage('Reconstruction');
    if (ready && ready.value === name && img && img.getAttribute('src') !== before && window.__benchShown(img))
      resolve(performance.now());
    else setTimeout(look, 5);
  };
  look();
})
"""
# When the document was parsed and loaded, and when the first API call was sent (ms since navigation).
MILESTONES_JS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const calls = performance.getEntriesByType('resource')
    .filter((e) => ['/gradio_api/queue/join', '/gradio_api/run/', '/gradio_api/call/'].some((p) => e.name.includes(p)));
  return { dom: nav ? nav.domContentLoadedEventEnd : null, load: nav ? nav.loadEventEnd : null,
           call: calls.length ? Math.min(...calls.map((e) => e.startTime)) : null };
}
"""
ARM_POINTER_JS = """
() => { window.__bench.pointer = null;
  addEventListener('pointerdown', () => { window.__bench.pointer ??= performance.now(); }, { capture: true }); }
"""


@dataclass
class Requests:
    """The requests a page sends, by `classify`'s kind, and the API calls still in flight."""

    origin: str
    sent: list[tuple[float, str, str]] = field(default_factory=list)  # (perf_counter, kind, url)
    in_flight: set = field(default_factory=set)
    last_api_event: float = 0.0

    def attach(self, page: Any) -> None:
        page.on("request", self.on_request)
        page.on("requestfinished", self.on_done)
        page.on("requestfailed", self.on_done)

    def on_request(self, request: Any) -> None:
        kind = classify(request.url, self.origin)
        self.sent.append((time.perf_counter(), kind, request.url))
        if kind == "api":
            self.in_flight.add(request)
            self.last_api_event = time.perf_counter()

    def on_done(self, request: Any) -> None:
        if request in self.in_flight:
            self.in_flight.discard(request)
            self.last_api_event = time.perf_counter()

    def count(self, kind: str, since: float = 0.0) -> int:
        return sum(1 for at, k, _ in self.sent if k == kind and at >= since)

    def wait_quiet(self, page: Any, timeout: float = TIMEOUT_S) -> float:
        """Wait until no API call has been in flight for QUIET_S; the perf_counter of the last one's end."""
        deadline = time.monotonic() + timeout
        while self.in_flight or time.perf_counter() - self.last_api_event < QUIET_S:
            if time.monotonic() > deadline:
                raise TimeoutError(f"API calls still in flight after {timeout:.0f} s: {len(self.in_flight)}")
            page.wait_for_timeout(50)  # Playwright delivers the request events while it waits
        return self.last_api_event


def open_page(browser: Any, url: str) -> tuple[Any, Any, Requests, dict[str, float]]:
    """A fresh context (empty cache, as a new visitor) on `url`, waited until the page's start-up is
    done; the context, page, its requests and the start-up figures."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_S * 1000)
    page.add_init_script(WATCH_JS)
    requests = Requests(url)
    requests.attach(page)
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => window.__bench && window.__bench.firstReconstruction !== null")
    first = page.evaluate("() => window.__bench.firstReconstruction") / 1000
    api_at_first = requests.count("api")
    done = requests.wait_quiet(page)
    milestones = {k: v / 1000 if v else None for k, v in page.evaluate(MILESTONES_JS).items()}
    figures = {
        "first_reconstruction_s": first,
        "dom_content_loaded_s": milestones["dom"],
        "load_s": milestones["load"],
        "first_api_call_s": milestones["call"],
        "api_requests_at_first_reconstruction": api_at_first,
        "startup_done_s": done - started,
        "api_requests": requests.count("api"),
        "file_requests": requests.count("file"),
        "other_requests": requests.count("other"),
    }
    return context, page, requests, figures


def switch_model(page: Any, requests: Requests) -> dict[str, Any]:
    """Pick the next model of the Model dropdown; seconds until every visible panel shows it."""
    dropdown = page.get_by_role("combobox", name="Model", exact=True)
    current = option_name(dropdown.input_value())
    before = page.evaluate("() => window.__benchImage('Reconstruction')?.getAttribute('src')")
    dropdown.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    names = [option_name(text) for text in options.all_inner_texts()]
    target = names.index(current) + 1 if current in names else 0
    target %= len(names)
    page.evaluate(ARM_POINTER_JS)
    since = time.perf_counter()
    options.nth(target).click()
    done = page.evaluate(SWITCHED_JS, [names[target], before])
    pointer = page.evaluate("() => window.__bench.pointer")
    requests.wait_quiet(page)
    return {"to": names[target], "seconds": (done - pointer) / 1000, "api_requests": requests.count("api", since)}


def browser_figures(url: str, runs: int, switches: int) -> dict[str, Any]:
    """Start-up over `runs` fresh visits (after one unmeasured visit that warms the server), then
    `switches` model switches on the last visit's page."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium binary (set CHROMIUM=/path/to/chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            context, *_ = open_page(browser, url)  # the warm-up visit
            context.close()
            visits = []
            for i in range(runs):
                context, page, requests, figures = open_page(browser, url)
                visits.append(figures)
                if i < runs - 1:
                    context.close()
            switched = [switch_model(page, requests) for _ in range(switches)]
            context.close()
        finally:
            browser.close()
    return {"visits": visits, "switches": switched}


# --- the section ------------------------------------------------------------------------------


def bare_server(workdir: Path, *flags: str) -> AppServer:
    """benchmarks/bare_app.py (with `flags`) as an AppServer: its own port, log and temporary folders."""
    server = AppServer(workdir=workdir, timeout=180)
    server.command = [sys.executable, "-m", "benchmarks.bare_app", "--port", str(server.port), *flags]
    return server


def measure(url: str, bare_url: str, quick: bool = False) -> dict[str, Any]:
    """Every figure of the section, for the app at `url` against the bare app at `bare_url`."""
    rounds = 10 if quick else ROUNDS
    report: dict[str, Any] = {
        "slider": slider(url, bare_url, rounds),
        "slider_call": slider(url, bare_url, rounds, "call"),
    }
    report["training"] = slider_while_training(url, bare_url, rounds, 5 if quick else 20)
    time.sleep(3)  # the stopped run's process gone
    report["browser"] = browser_figures(url, 1 if quick else 5, 1 if quick else 5)
    return report


def rows(report: dict[str, Any]) -> list[Row]:
    s, c, t = report["slider"], report["slider_call"], report["training"]
    idle, busy = s["app"]["median_s"], t["app"]["median_s"]
    bare_idle, bare_busy = s["bare"]["median_s"], t["bare"]["median_s"]
    visits, switches = report["browser"]["visits"], report["browser"]["switches"]
    switch = median([w["seconds"] for w in switches])
    n = s["app"]["runs"]
    poll = milliseconds(t["status_polls"]["median_s"]) if t.get("status_polls") else "–"

    def of_visits(key: str) -> float:
        return median([v[key] for v in visits])

    first, api = of_visits("first_reconstruction_s"), of_visits("api_requests")
    each_visit = ", ".join(f"{v['first_reconstruction_s']:.2f}" for v in visits)
    each_switch = ", ".join(f"{w['to']} {w['seconds']:.2f}" for w in switches)
    return [
        Row(
            f"Slider: /decode p50, page's way (queue join + SSE), app ÷ bare app, {n} calls each alternating",
            f"{milliseconds(idle)} ÷ {milliseconds(bare_idle)} = **{s['ratio']:.2f}×** "
            f"(each round's own ratio, median {s['paired_ratio']:.2f}×; fastest calls {s['floor_ratio']:.2f}×)",
            f"≤ {BARS['slider']}×",
            verdict(s["ratio"], BARS["slider"]),
        ),
        Row(
            "Slider, scripts' way (/gradio_api/call: a new session each call), app ÷ bare app",
            f"{milliseconds(c['app']['median_s'])} ÷ {milliseconds(c['bare']['median_s'])} = {c['ratio']:.2f}× "
            f"(rounds' median {c['paired_ratio']:.2f}×)",
        ),
        Row(
            "Slider while a run trains (Train tab polling): /decode p50 ÷ idle p50",
            f"{milliseconds(busy)} ÷ {milliseconds(idle)} = **{ratio(busy, idle):.2f}×**",
            f"≤ {BARS['training']}×",
            verdict(ratio(busy, idle), BARS["training"]),
        ),
        Row(
            "Slider while a run trains: /decode p95 ÷ idle p95 (a status poll's work shows in the tail)",
            f"{milliseconds(t['app']['p95_s'])} ÷ {milliseconds(s['app']['p95_s'])} = "
            f"{ratio(t['app']['p95_s'], s['app']['p95_s']):.2f}× ({t['app']['runs']} calls; a poll's p50 {poll})",
        ),
        Row(
            "Bare app meanwhile (the machine's share of it): p50 ÷ its idle p50",
            f"{milliseconds(bare_busy)} ÷ {milliseconds(bare_idle)} = {ratio(bare_busy, bare_idle):.2f}×",
        ),
        Row(
            f"Start-up: navigation → first reconstruction shown (Chromium, median of {len(visits)})",
            f"**{first:.2f} s** ({each_visit})",
            f"≤ {BARS['first_reconstruction_s']} s",
            verdict(first, BARS["first_reconstruction_s"]),
        ),
        Row(
            "Start-up: API requests (queue join/data, run, call) until the page's start-up is done",
            f"**{api:.0f}** (at the first reconstruction {of_visits('api_requests_at_first_reconstruction'):.0f};"
            f" and {of_visits('file_requests'):.0f} file/static, {of_visits('other_requests'):.0f} other)",
            f"≤ {BARS['requests']}",
            verdict(api, BARS["requests"]),
        ),
        Row(
            "Start-up: where the time goes (medians): document parsed · loaded · first API call sent · "
            "last API call answered (1 s without one after it)",
            f"{of_visits('dom_content_loaded_s'):.2f} s · {of_visits('load_s'):.2f} s · "
            f"{of_visits('first_api_call_s'):.2f} s · {of_visits('startup_done_s'):.2f} s",
        ),
        Row(
            f"Model switch → #model-ready names it and the reconstruction is new (median of {len(switches)})",
            f"**{switch:.2f} s** ({each_switch}); {median([w['api_requests'] for w in switches]):.0f} API requests",
            f"≤ {BARS['switch_s']} s",
            verdict(switch, BARS["switch_s"]),
        ),
    ]


def section(checkpoints: str, quick: bool, report: dict) -> str:
    """`python -m benchmarks --only page`: the app and the bare app served at once, then `measure`."""
    with tempfile.TemporaryDirectory(prefix="page-benchmark-") as tmp:
        app = AppServer(checkpoints=checkpoints, workdir=Path(tmp) / "app", timeout=180)
        bare = bare_server(Path(tmp) / "bare")
        try:
            app.start(), bare.start()
            wait_for(app, bare, timeout=180)
            report["page"] = measure(app.url, bare.url, quick)
        finally:
            app.stop()
            bare.stop()
    return table("The page (issue 35's bars)", rows(report["page"]))


def variants(rounds: int) -> dict[str, dict[str, Any]]:
    """The bare app with each of VARIANTS against the plain bare app, both freshly started and up at
    once, calls alternating. Fresh each time: gradio's queue gets slower with the events it has served
    (its analytics summary), so a plain app kept across variants would age against each new one."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="page-variants-") as tmp:
        for i, (name, flags) in enumerate(VARIANTS.items()):
            plain, variant = bare_server(Path(tmp) / f"plain-{i}"), bare_server(Path(tmp) / f"variant-{i}", *flags)
            try:
                plain.start(), variant.start()
                wait_for(plain, variant, timeout=180)
                results[name] = slider(variant.url, plain.url, rounds, "call" if "new session" in name else "page")
            finally:
                variant.stop()
                plain.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.page", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, one visit, one switch")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--variants", action="store_true", help="time the bare app's variants instead")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    if args.variants:
        report["variants"] = variants(10 if args.quick else ROUNDS)
        lines = [
            Row(
                name,
                f"{milliseconds(r['app']['median_s'])} ÷ {milliseconds(r['bare']['median_s'])} = {r['ratio']:.2f}× "
                f"(rounds' median {r['paired_ratio']:.2f}×, fastest {r['floor_ratio']:.2f}×)",
            )
            for name, r in report["variants"].items()
        ]
        print(table("The bare app, one of the page's traits at a time ÷ the plain bare app (/decode p50)", lines))
    else:
        print(section(args.checkpoints, args.quick, report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
