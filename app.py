"""VAE Latent Explorer: reconstruct, sample, traverse and map what a VAE has learned.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--device auto|cpu|cuda]
                  [--checkpoints checkpoints/] [--hub OWNER/NAME ...] [--hub-timeout 5] [--runs DIR]

Hub models can also be listed in VAE_EXPLORER_HUB_MODELS (comma-separated). This file is also the
Hugging Face Space entry point; the page itself is the `explorer` package, one module per tab.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys

from explorer import CSS, PAGE_JS, create_app
from vae_models.images import MAX_FILE_BYTES

HUB_ENV = "VAE_EXPLORER_HUB_MODELS"
# gradio rebuilds a pandas summary of every recorded event after each queued event by default, work
# that grows with the server's age; every 1,000 events is plenty for the API page's usage figures.
ANALYTICS_EVERY = "1000"
# Each session's state holds a copy of every block's config, and a script's /gradio_api/call/ request is
# a new session each time: without a bound, memory grows until gradio's 10,000 sessions.
SESSIONS_KEPT = 1000
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--checkpoints", default="checkpoints", help="folder of checkpoint folders")
    parser.add_argument("--hub", action="append", default=[], metavar="REPO_ID", help="a Hub model (repeatable)")
    parser.add_argument("--hub-timeout", type=float, default=5.0, help="seconds to wait for the Hub at start-up")
    parser.add_argument("--runs", help="folder for runs trained in the page (default: a new temporary one)")
    parser.add_argument(
        "--judges",
        help="folder that keeps the evaluation's judge classifiers across restarts (default: inside --runs)",
    )
    return parser.parse_args(argv)


def hub_repos(flags: list[str]) -> list[str]:
    from_env = [r.strip() for r in os.environ.get(HUB_ENV, "").split(",") if r.strip()]
    return list(dict.fromkeys(flags + from_env))


def tune_malloc(arenas: int = 2, mmap_threshold: int = 1024 * 1024) -> None:
    """Keep RSS flat under many concurrent requests (`python -m benchmarks.load` measures it).

    glibc gives each busy thread its own heap arena, and it raises its mmap threshold each
    time a large block is freed, so image-sized tensors end up in the heaps, which fragment
    and are not given back: RSS keeps growing under load. Capping the arenas bounds how many
    heaps can fragment; a fixed threshold (which also turns the raising off) puts every block
    over 1 MiB in its own mapping, returned to the system when freed. Not lower: at 128 KiB each
    256-pixel float image of the canvas's reading was mapped and faulted in afresh, and a stroke's
    reading took up to twice as long. The README gives the measured growth and speed of both."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to tune
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, mmap_threshold)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # SIGTERM (a Space restarting, `kill`) exits through Python, so the training runs' processes are
    # stopped on the way out (TrainingService.shutdown, registered with atexit).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    tune_malloc()
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", ANALYTICS_EVERY)  # read by demo.queue()
    hub = hub_repos(args.hub)
    demo = create_app(args.checkpoints, hub, args.device, args.hub_timeout, args.runs, args.judges)
    # Two cores: two requests at a time, each with both threads, beat four fighting for them.
    demo.queue(default_concurrency_limit=2, max_size=64)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=MAX_FILE_BYTES,
        css=CSS,
        js=PAGE_JS,
        state_session_capacity=SESSIONS_KEPT,
    )


if __name__ == "__main__":
    main()
