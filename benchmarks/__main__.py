"""python -m benchmarks [--quick] [--json FILE] [--checkpoints DIR] [--only SECTION ...]

Runs every benchmark and prints one markdown table per section: training throughput
(fp32 eager vs the fast path, side by side), app actions in-process and end to end,
recomputed projections, cold start and memory, the dSprites generator, and your own image
(photographed digits and sprites read and reconstructed, and digits drawn on the page's canvas in
headless Chromium). Every time is a median and p95 over repeated runs after warm-up. --quick is
the CI smoke run; it leaves out "own-image", which trains its judge and drives a browser for minutes,
and the forced bf16 column of training throughput.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from train.step import cpu_flags, flush_denormals

from . import canvas, data_loading, interaction, page, photo_digits, photo_sprites, startup, training
from .browser import chromium_path
from .timing import Timing, milliseconds

SECTIONS = ("training", "interaction", "projections", "startup", "data", "own-image", "page")
QUICK_SECTIONS = SECTIONS[:-2]  # own-image and page drive a browser for minutes
GOALS = {
    "decode one latent (a slider move)": 0.050,
    "prior sample grid of 64": 0.150,
    "latent map from cache (PCA)": 0.300,
    "latent map from cache (t-SNE)": 0.300,
    "t-SNE of 2,000 points": 5.0,
    "decode a clicked map point (PCA)": 0.100,  # end to end; in-process the goal is 5 ms
    "manifold, 16 × 16 over the PCA plane": 0.300,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced run (under 3 minutes) for CI")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="default: every section (--quick: but own-image)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile to the training fast path")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpu_bf16": [flag for flag in ("avx512_bf16", "amx_bf16") if flag in cpu_flags().split()],
        "gpu": gpu,
    }


def timing_row(label: str, timing: Timing) -> str:
    goal = GOALS.get(label)
    verdict = "" if goal is None else (" ✅" if timing.median <= goal else " ❌") + f" (goal {milliseconds(goal)})"
    return f"| {label} | {milliseconds(timing.median)} | {milliseconds(timing.p95)} | {timing.runs} |{verdict}"


def timing_table(title: str, timings: dict[str, Timing]) -> str:
    rows = [f"### {title}", "", "| action | median | p95 | runs |", "| --- | --- | --- | --- |"]
    return "\n".join(rows + [timing_row(label, t) for label, t in timings.items()])


def run_training(quick: bool, compile_model: bool, report: dict) -> str:
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = [
        "### Training throughput (seeds' architecture: 64×64×3, hidden [32…512], batch 64)",
        "",
        "| device | model | (a) fp32 eager img/s | (b) fast path img/s | (c) = (b)/(a) | fast path | loss gap "
        "| bf16 autocast + channels-last, forced |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    report["training"] = []
    for device in devices:
        for model_type in training.LATENT_DIMS:
            # --quick leaves out forced bf16, emulated on most CPUs at seconds a step of this network.
            steps, rounds = (2, 1) if quick else (10, 3)
            result = training.throughput(
                model_type, device, steps=steps, rounds=rounds, compile_model=compile_model, forced_bf16=not quick
            )
            plain, fast = training.loss_curves(model_type, device, 5 if quick else 200)
            result.loss_gap = training.relative_gap(plain, fast)
            a, b = training.BATCH_SIZE / result.fp32.median, training.BATCH_SIZE / result.fast.median
            forced = result.forced_bf16 and training.BATCH_SIZE / result.forced_bf16.median
            forced_cell = f"{forced:.0f} img/s ({forced / a:.2f}×)" if forced else "–"
            gap_ok = "✅" if result.loss_gap <= training.LOSS_GAP_TOLERANCE else "❌"
            rows.append(
                f"| {device.type} | {model_type} | {a:.0f} | {b:.0f} | {result.speed_up:.2f}× | "
                f"{result.fast_path} | {result.loss_gap:.1e} {gap_ok} "
                f"| {forced_cell} |"
            )
            report["training"].append(
                {
                    "device": device.type,
                    "model": model_type,
                    "fp32_images_per_s": a,
                    "fast_images_per_s": b,
                    "speed_up": result.speed_up,
                    "loss_gap": result.loss_gap,
                    "fast_path": result.fast_path,
                    "forced_bf16_images_per_s": forced,
                }
            )
    return "\n".join(rows)


def run_interaction(checkpoints: str, quick: bool, report: dict) -> str:
    runs = 5 if quick else 30
    name, local = interaction.in_process(checkpoints, runs)
    _, remote = interaction.end_to_end(checkpoints, runs)
    report["interaction"] = {
        "model": name,
        "in_process": {k: v.as_dict() for k, v in local.items()},
        **{f"end_to_end_{way}": {k: v.as_dict() for k, v in t.items()} for way, t in remote.items()},
    }
    titles = {
        "gradio_client": "end to end through gradio_client",
        "HTTP": "end to end over HTTP and server-sent events, as the page calls them",
    }
    tables = [timing_table(f"App actions in-process ({name})", local)]
    tables += [timing_table(f"App actions {titles[way]} ({name})", t) for way, t in remote.items()]
    return "\n\n".join(tables)


def run_projections(quick: bool, report: dict) -> str:
    timings = interaction.projection_timings((2_000,) if quick else (2_000, 10_000), 2 if quick else 5)
    report["projections"] = {k: v.as_dict() for k, v in timings.items()}
    return timing_table("Recomputing the latent map", timings)


def run_startup(checkpoints: str, quick: bool, report: dict) -> str:
    timing, idle, peak = startup.cold_start(checkpoints, 1 if quick else 3)
    report["startup"] = {**timing.as_dict(), "rss_idle_bytes": idle, "rss_peak_all_models_bytes": peak}
    verdict = "✅" if timing.median < 15 else "❌"
    memory = "✅" if peak < 1.5 * 2**30 else "❌"
    return "\n".join(
        [
            "### Cold start and memory",
            "",
            "| figure | value | goal |",
            "| --- | --- | --- |",
            f"| `python app.py` to first page (median of {timing.runs}) | {timing.median:.1f} s | < 15 s {verdict} |",
            f"| RSS once serving | {idle / 2**20:.0f} MB | |",
            f"| peak RSS, every shipped model loaded | {peak / 2**20:.0f} MB | < 1.5 GB {memory} |",
        ]
    )


def run_data(quick: bool, report: dict) -> str:
    from vae_models.data import dsprites_throughput

    rate = dsprites_throughput(n=1024 if quick else 8192)
    fetch, step = data_loading.dsprites_batch_and_step(3 if quick else 10)
    share = fetch.median / (fetch.median + step.median)
    report["data"] = {"dsprites_images_per_s": rate, "fetch": fetch.as_dict(), "step": step.as_dict(), "share": share}
    return "\n".join(
        [
            "### Data",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| dSprites generator | {rate:,.0f} images/s |",
            f"| fetching a batch of 256 (median) | {milliseconds(fetch.median)} |",
            f"| one β-TCVAE training step on it (median) | {milliseconds(step.median)} |",
            f"| data's share of a step | {share:.1%} |",
        ]
    )


def run_own_image(checkpoints: str, report: dict) -> str:
    """Issue 21's bars: photographed digits and sprites read into their domains and reconstructed,
    and digits drawn with the mouse on the canvas (skipped, and said, without Chromium)."""
    digits = photo_digits.measure(60, 0, Path(checkpoints), None)
    sprites = photo_sprites.measure(30, 0, Path(checkpoints), None)
    report["own_image"] = {"photo_digits": digits, "photo_sprites": sprites}
    parts = ["### Your own image", "", photo_digits.report(digits), "", photo_sprites.report(sprites), ""]
    if chromium_path() is None:
        return "\n".join([*parts, "The canvas: skipped, no Chromium binary (set CHROMIUM=/path/to/chromium)."])
    drawn = canvas.measure(Path(checkpoints), 2, 0, None)
    report["own_image"]["canvas"] = drawn
    return "\n".join([*parts, canvas.report(drawn)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flush_denormals(torch.device("cpu"))  # as training does
    report: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    runners = {
        "training": lambda: run_training(args.quick, args.compile, report),
        "interaction": lambda: run_interaction(args.checkpoints, args.quick, report),
        "projections": lambda: run_projections(args.quick, report),
        "startup": lambda: run_startup(args.checkpoints, args.quick, report),
        "data": lambda: run_data(args.quick, report),
        "own-image": lambda: run_own_image(args.checkpoints, report),
        "page": lambda: page.section(args.checkpoints, args.quick, report),
    }
    print(f"Machine: {json.dumps(report['machine'])}\n")
    for section in args.only or (QUICK_SECTIONS if args.quick else SECTIONS):
        print(runners[section](), end="\n\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
