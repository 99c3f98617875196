"""The benchmark command runs from a fresh install (--quick, as CI runs it) and its timing maths is right."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.photo_digits import BARS, judged
from benchmarks.timing import Timing, time_calls
from benchmarks.training import relative_gap

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_timing_summarises_median_and_p95():
    timing = Timing.of([float(v) for v in range(1, 21)])
    assert timing.median == 10.5
    assert timing.p95 == 19.0
    assert timing.runs == 20


def test_time_calls_warms_up_then_times_each_run():
    calls = []
    timing = time_calls(lambda: calls.append(1), runs=5, warmup=3)
    assert len(calls) == 8
    assert timing.runs == 5 and 0 <= timing.median <= timing.p95


def test_relative_gap_of_loss_curves():
    assert relative_gap([10.0] * 30, [10.0] * 30) == 0
    assert relative_gap([10.0] * 30, [11.0] * 30) == pytest.approx(0.1)


class LabelsAsGiven:
    def predict(self, images):
        return images


def test_19_judged_right_of_20_meets_a_95_percent_bar():
    labels = torch.arange(20) % 10
    calls = labels.clone()
    calls[0] = 9
    assert judged(LabelsAsGiven(), calls, labels) >= BARS["model view"] == 0.95


@pytest.mark.slow
def test_quick_benchmark_prints_every_section_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for heading in ("Training throughput", "App actions in-process", "end to end", "Cold start", "Data"):
        assert heading in result.stdout
    report = json.loads(out.read_text())
    assert {row["model"] for row in report["training"]} == {"vanilla_vae", "wae_mmd", "betatc_vae", "cvae"}
    assert all(row["fp32_images_per_s"] > 0 and row["fast_images_per_s"] > 0 for row in report["training"])
    for way in ("end_to_end_gradio_client", "end_to_end_HTTP"):
        assert all(t["median_s"] > 0 for t in report["interaction"][way].values())
    assert report["startup"]["median_s"] > 0 and report["startup"]["rss_peak_all_models_bytes"] > 0
    assert 0 < report["data"]["share"] < 1
