"""benchmarks/page.py (issue 35's page bars): its pure parts, fast; and its page-way client against
the bare app, slow. No timing is asserted: the figures are the benchmark's to report."""

from __future__ import annotations

import pytest

from benchmarks import page

ORIGIN = "http://127.0.0.1:7860/"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:7860/gradio_api/queue/join?model=cvae-digits", "api"),
        ("http://127.0.0.1:7860/gradio_api/queue/data?session_hash=abc", "api"),
        ("http://127.0.0.1:7860/gradio_api/run/predict", "api"),
        ("http://127.0.0.1:7860/gradio_api/call/decode/1a2b", "api"),
        ("http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/abc/image.png", "file"),
        ("http://127.0.0.1:7860/assets/index-DphvyggB.js", "file"),
        ("http://127.0.0.1:7860/theme.css?v=123", "file"),
        ("http://127.0.0.1:7860/static/fonts/ui-sans-serif/ui-sans-serif-Regular.woff2", "file"),
        ("http://127.0.0.1:7860/", "other"),
        ("http://127.0.0.1:7860/?model=cvae-digits&tab=traverse", "other"),
        ("http://127.0.0.1:7860/gradio_api/heartbeat/abc", "other"),
        ("http://127.0.0.1:7860/gradio_api/upload?upload_id=x", "other"),
        ("http://127.0.0.1:7861/gradio_api/queue/join", "external"),  # another server
        ("https://fonts.googleapis.com/css2?family=Source+Sans+Pro", "external"),
    ],
)
def test_requests_are_told_apart_as_api_calls_files_and_the_rest(url: str, kind: str) -> None:
    assert page.classify(url, ORIGIN) == kind


def test_the_requests_record_counts_by_kind_and_knows_what_is_in_flight() -> None:
    class Request:
        def __init__(self, url: str) -> None:
            self.url = url

    requests = page.Requests(ORIGIN)
    join, data = Request(ORIGIN + "gradio_api/queue/join"), Request(ORIGIN + "gradio_api/queue/data?session_hash=a")
    for request in (Request(ORIGIN), join, data, Request(ORIGIN + "assets/a.js")):
        requests.on_request(request)
    assert (requests.count("api"), requests.count("file"), requests.count("other")) == (2, 1, 1)
    assert requests.in_flight == {join, data}
    requests.on_done(join)
    requests.on_done(Request(ORIGIN + "assets/a.js"))  # not an API call: nothing changes
    assert requests.in_flight == {data}


def test_the_steadier_ratios_pair_each_round_s_calls() -> None:
    app, bare = [0.02, 0.05, 0.03, 0.02], [0.02, 0.02, 0.06, 0.02]  # each server starved once
    assert page.ratio(page.median(app), page.median(bare)) == 1.25
    assert page.steadier_ratios(app, bare) == {"paired_ratio": 1.0, "floor_ratio": 1.0}


def test_verdicts_and_ratios() -> None:
    assert page.verdict(1.25, 1.25) == "✅"
    assert page.verdict(1.26, 1.25) == "❌"
    assert page.verdict(3.0, None) == ""
    assert page.ratio(3.0, 2.0) == 1.5
    assert page.ratio(1.0, 0.0) == float("inf")


def test_option_names_are_the_model_names_without_their_summaries() -> None:
    assert page.option_name("cvae-digits · CVAE · 8 latents") == "cvae-digits"
    assert page.option_name("  ✓ vanilla_vae-dsprites · VAE ") == "vanilla_vae-dsprites"
    assert page.option_name("wae_mmd-digits") == "wae_mmd-digits"


def test_keyword_arguments_follow_the_endpoint_s_parameters() -> None:
    parameters = [
        {"parameter_name": "model_type", "parameter_has_default": False},
        {"parameter_name": "steps", "parameter_has_default": True, "parameter_default": 500},
        {"parameter_name": "lr", "parameter_has_default": False},
    ]
    assert page.positional(parameters, {"lr": 1e-3, "model_type": "cvae"}) == ["cvae", 500, 1e-3]
    with pytest.raises(ValueError, match="lr"):
        page.positional(parameters, {"model_type": "cvae"})


def test_side_by_side_alternates_the_order_and_runs_on_until_enough_rounds() -> None:
    order: list[str] = []
    calls = {"app": lambda: order.append("app"), "bare": lambda: order.append("bare")}
    seconds = page.side_by_side(calls, rounds=3, warmup=1)
    assert order == ["app", "bare", "app", "bare", "bare", "app", "app", "bare"]  # warm-up, then ab ba ab
    assert [len(s) for s in seconds.values()] == [3, 3]


def report(switch_seconds: float) -> dict:
    timing = {"median_s": 0.030, "p95_s": 0.040, "runs": 40}
    slower = {"median_s": 0.050, "p95_s": 0.070, "runs": 300}
    steady = {"paired_ratio": 1.1, "floor_ratio": 1.05}
    visit = {
        "first_reconstruction_s": 1.2,
        "api_requests_at_first_reconstruction": 2,
        "startup_done_s": 1.4,
        "dom_content_loaded_s": 0.3,
        "load_s": 0.6,
        "first_api_call_s": None,  # a browser without resource timing
        "api_requests": 4,
        "file_requests": 100,
        "other_requests": 2,
    }
    return {
        "slider": {"way": "page", "app": timing, "bare": {**timing, "median_s": 0.025}, "ratio": 1.2, **steady},
        "slider_call": {"way": "call", "app": slower, "bare": timing, "ratio": 50 / 30, **steady},
        "training": {"app": slower, "bare": timing, "status_polls": None, "still_training": True},
        "browser": {
            "visits": [visit] * 5,
            "switches": [{"to": "vanilla_vae-digits", "seconds": switch_seconds, "api_requests": 3}] * 5,
        },
    }


def test_the_table_has_a_row_per_figure_with_its_bar_and_verdict() -> None:
    text = page.table("The page", page.rows(report(switch_seconds=0.7)))
    lines = text.splitlines()
    assert lines[:4] == ["### The page", "", "| figure | value | bar | |", "| --- | --- | --- | --- |"]
    assert all(line.startswith("| ") and line.endswith(" |") and line.count(" | ") == 3 for line in lines[2:])
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[4:]}
    by_start = {key.split(":")[0]: line for key, line in rows.items()}
    assert "30.0 ms ÷ 25.0 ms = **1.20×** (each round's own ratio, median 1.10×" in by_start["Slider"]
    assert by_start["Slider"].endswith("| ≤ 1.25× | ✅ |")
    assert "50.0 ms ÷ 30.0 ms = **1.67×**" in by_start["Slider while a run trains (Train tab polling)"]
    assert by_start["Slider while a run trains (Train tab polling)"].endswith("| ≤ 1.3× | ❌ |")
    startup = [line for key, line in rows.items() if key.startswith("Start-up")]
    assert "**1.20 s**" in startup[0] and startup[0].endswith("| ≤ 1.5 s | ✅ |")
    assert "**4**" in startup[1] and "100 file/static" in startup[1] and startup[1].endswith("| ≤ 5 | ✅ |")
    switch = next(line for key, line in rows.items() if key.startswith("Model switch"))
    assert "**0.70 s**" in switch and switch.endswith("| ≤ 0.5 s | ❌ |")
    info = [line for line in lines[4:] if line.endswith("|  |  |")]  # figures without a bar
    assert len(info) == 4
    assert "| 0.30 s · 0.60 s · nan s · 1.40 s |" in next(line for line in info if "where the time goes" in line)


def test_the_bare_app_s_picture_is_192_pixels_and_new_each_call() -> None:
    import numpy as np

    from benchmarks.bare_app import picture

    rng = np.random.default_rng(0)
    first, second = picture([0.5] * 8, rng), picture([0.5] * 8, rng)
    assert first.size == (192, 192) and first.mode == "L"
    assert first.tobytes() != second.tobytes()


@pytest.mark.slow
def test_the_page_s_way_and_the_scripts_way_call_the_bare_app(tmp_path) -> None:
    """PageClient's queue join + event stream, its /run for an unqueued event, and /call, against the
    bare app served; with one trait of the page's added (extra components and chained events)."""
    server = page.bare_server(tmp_path / "bare", "--chains", "--components", "5", "--events", "4")
    with server:
        client = page.PageClient(server.url)
        for outputs in (client.call("decode", "m", [0.1] * 8, "auto"), client.call_api("decode", "m", [0.1] * 8, "a")):
            assert outputs[0]["url"].startswith(server.url) and outputs[0]["path"].endswith(".png")
        again = client.call("decode", "m", [0.1] * 8, "auto")  # the same session: a new stream, a new picture
        assert again[0]["url"] != outputs[0]["url"]
        seconds = page.side_by_side(page.decode_calls(server.url, server.url), rounds=2, warmup=0)
        assert [len(s) for s in seconds.values()] == [2, 2]
        assert len(client.call("lambda_2")) == 1  # an extra event, unqueued: POST /gradio_api/run/lambda_2
        with pytest.raises(KeyError, match="no event named"):
            client.call("nothing")
