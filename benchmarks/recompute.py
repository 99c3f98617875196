"""The Latent map's Recompute with t-SNE, as the page runs it, timed on a dSprites model's cached codes.

    python -m benchmarks.recompute [--model betatc_vae-dsprites] [--runs 3]

Prints the median and the slowest of the runs, and how many progress reports each made.
"""

from __future__ import annotations

import argparse
import statistics
import time

from explorer.maps import TSNE_MAX_POINTS, TSNE_PAGE_ITERATIONS, fresh_map
from vae_models.checkpoint import load_latent_cache


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recompute", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="betatc_vae-dsprites", help="a folder under checkpoints/ with a latent cache"
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    latents = load_latent_cache(f"checkpoints/{args.model}")
    seconds, reports = [], []
    for _ in range(args.runs):
        seen: list[float] = []
        started = time.perf_counter()
        fresh_map(latents, "t-SNE", seen.append)
        seconds.append(time.perf_counter() - started)
        reports.append(len(seen))
    print(
        f"t-SNE recompute of {TSNE_MAX_POINTS:,} of {len(latents['codes']):,} codes ({TSNE_PAGE_ITERATIONS} final "
        f"iterations), {args.runs} runs: median {statistics.median(seconds):.1f} s, slowest {max(seconds):.1f} s, "
        f"{min(reports)} progress reports each"
    )


if __name__ == "__main__":
    main()
