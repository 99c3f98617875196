"""python -m benchmarks.load [--users 32] [--seconds 60] [--host 127.0.0.1] [--max-requests N] [--json FILE]

Launches the app and drives it with N concurrent gradio_client users on loopback only,
mixing every kind of request: uploads, slider decodes, sample grids, traversals, latent
maps and interpolations. The run stops by itself at the time or request limit. It
reports throughput, p50/p99 latency, errors, and the server's RSS after warm-up and
at the end; it exits 1 unless there were no errors and RSS grew by at most 10%.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .interaction import AUTO
from .server import AppServer

MAX_RSS_GROWTH = 0.10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[1])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only: the load never leaves this machine")
    parser.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests")
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--json", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        parser.error(f"--host must be a loopback address (127.0.0.1, ::1 or localhost), got {args.host!r}")
    if args.users < 1 or args.seconds <= 0 or args.max_requests < 1:
        parser.error("--users, --seconds and --max-requests must be positive")
    return args


class Workload:
    """The mixed requests one user makes, with fresh random inputs each time."""

    def __init__(self, models: dict[str, int], folder: Path) -> None:
        self.models = models  # name -> latent_dim
        self.folder = folder

    def upload(self, rng: random.Random) -> str:
        """A fresh image per upload, as different users upload different images. (Identical
        concurrent outputs race in gradio 6.31's output cache; see the README.)"""
        from PIL import Image, ImageDraw

        left, top = rng.randrange(8, 24), rng.randrange(8, 24)
        image = Image.new("L", (64, 64))
        ImageDraw.Draw(image).ellipse((left, top, left + rng.randrange(10, 32), top + rng.randrange(10, 32)), fill=255)
        path = self.folder / f"upload-{rng.getrandbits(64):016x}.png"
        image.save(path)
        return str(path)

    KINDS = ("decode", "reconstruct", "sample", "traverse", "latent_map", "interpolate")

    def request(self, rng: random.Random, name: str | None = None, kind: str | None = None) -> tuple[str, tuple]:
        """A random request; `name` and `kind` pin the model and the endpoint."""
        from gradio_client import handle_file

        name = name or rng.choice(sorted(self.models))
        image, other = handle_file(self.upload(rng)), handle_file(self.upload(rng))
        dim = self.models[name]
        code = [rng.uniform(-2, 2) for _ in range(dim)]
        kind = kind or rng.choices(self.KINDS, [6, 2, 2, 1, 1, 1])[0]
        arguments = {
            "decode": (name, code, AUTO),
            "reconstruct": (name, image, AUTO),
            "sample": (name, 64, rng.randrange(2**31), 1.0),
            "traverse": (name, code, 7, 3.0, AUTO),
            "latent_map": (name, rng.choice(["PCA", "t-SNE"]), "label", None),
            "interpolate": (name, "images", image, other, None, None, 8, "linear"),
        }
        return kind, arguments[kind]


def drive(url: str, workload: Workload, users: int, seconds: float, max_requests: int, downloads: str) -> dict:
    from gradio_client import Client

    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    issued = 0
    lock = threading.Lock()

    def user(index: int) -> None:
        nonlocal issued
        client = Client(url, verbose=False, download_files=downloads)
        rng = random.Random(index)
        while time.monotonic() < deadline:
            with lock:
                if issued >= max_requests:
                    return
                issued += 1
            kind, arguments = workload.request(rng)
            start = time.perf_counter()
            try:
                client.predict(*arguments, api_name=f"/{kind}")
            except Exception as err:  # every failure is a finding to report, not a crash of the run
                with lock:
                    errors[f"{kind}: {type(err).__name__}: {str(err)[:120]}"] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def summary(result: dict, rss_before: int, rss_after: int, users: int) -> dict[str, Any]:
    latencies = sorted(result["latencies"])
    count = len(latencies)
    return {
        "users": users,
        "requests_ok": count,
        "errors": sum(result["errors"].values()),
        "error_kinds": dict(result["errors"]),
        "seconds": round(result["elapsed"], 1),
        "throughput_per_s": round(count / result["elapsed"], 2),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(1000 * latencies[min(count - 1, int(0.99 * count))], 1) if latencies else None,
        "rss_after_warmup_mb": round(rss_before / 2**20, 1),
        "rss_end_mb": round(rss_after / 2**20, 1),
        "rss_growth": round(rss_after / rss_before - 1, 4) if rss_before else None,
    }


def warm_up(url: str, workload: Workload, downloads: str) -> None:
    """Every endpoint once for every model (both map projections too), so all models and caches
    are loaded before the memory baseline."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=downloads)
    rng = random.Random(-1)
    for name in sorted(workload.models):
        for kind in Workload.KINDS:
            api, arguments = workload.request(rng, name, kind)
            client.predict(*arguments, api_name=f"/{api}")
        for projection in ("PCA", "t-SNE"):
            client.predict(name, projection, "label", None, api_name="/latent_map")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vae_models.catalog import discover

    models = {info.name: info.latent_dim for info in discover(args.checkpoints)[0]}
    with AppServer(checkpoints=args.checkpoints) as server, tempfile.TemporaryDirectory() as tmp:
        workload = Workload(models, Path(tmp))
        # Then the same load for a quarter of the time (15 s at least), so the server's threads
        # and their allocator arenas are all in place too.
        warm_up(server.url, workload, tmp)
        drive(server.url, workload, args.users, max(15.0, args.seconds / 4), args.max_requests, tmp)
        rss_before = server.rss()
        result = drive(server.url, workload, args.users, args.seconds, args.max_requests, tmp)
        report = summary(result, rss_before, server.rss(), args.users)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    healthy = report["errors"] == 0 and (report["rss_growth"] or 0) <= MAX_RSS_GROWTH
    print("PASS" if healthy else "FAIL: errors or RSS growth over 10%", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
