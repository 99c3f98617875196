"""Cold start (process start to first page served) and peak memory with every model loaded."""

from __future__ import annotations

import tempfile

from .server import AppServer
from .timing import Timing


def cold_start(checkpoints: str, runs: int) -> tuple[Timing, int, int]:
    """Start-up times over `runs` launches; RSS after the page is up, and the peak RSS after
    each shipped model has answered one request (so all are loaded)."""
    from gradio_client import Client

    from vae_models.catalog import discover

    names = [info.name for info in discover(checkpoints)[0]]
    seconds, idle_rss, peak_rss = [], 0, 0
    for run in range(runs):
        with AppServer(checkpoints=checkpoints) as server:
            seconds.append(server.startup_seconds)
            if run == 0:
                idle_rss = server.rss()
                with tempfile.TemporaryDirectory() as tmp:
                    client = Client(server.url, verbose=False, download_files=tmp)
                    for name in names:
                        client.predict(name, 16, 0, 1.0, api_name="/sample")
                        client.predict(name, "PCA", "label", None, api_name="/latent_map")
                peak_rss = server.rss("VmHWM")
    return Timing.of(seconds), idle_rss, peak_rss
