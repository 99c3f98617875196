"""How fast the page answers: each app action in-process, and end to end over loopback.

In-process calls the same callbacks the page's events call (the explorer's tabs). End to end adds
the queue, the HTTP round trip and the PNG download, measured two ways against one server:
through gradio_client, as a script calls the app, and over gradio's HTTP API with the
server-sent events read as they arrive, as the page does. gradio_client 2.x waits for
messages in a loop that sleeps 50 ms (gradio_client/utils.py), so its figures carry that.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .server import AppServer
from .timing import Timing, time_calls

AUTO = "auto (best fit)"


def pick_model(names: list[str]) -> str:
    """The dSprites β-TCVAE when shipped (the largest latent cache), else the first model."""
    return next((n for n in names if n.startswith("betatc_vae-dsprites")), names[0])


def example_image(folder: Path, size: int) -> str:
    from PIL import Image, ImageDraw

    path = folder / "upload.png"
    image = Image.new("L", (size, size))
    ImageDraw.Draw(image).ellipse((size // 4, size // 3, size // 2, size * 2 // 3), fill=255)
    image.save(path)
    return str(path)


def actions(call: Callable[..., object], name: str, latent_dim: int, upload: str) -> dict[str, Callable[[], object]]:
    """The measured actions, as calls of `call(api_name, *args)`."""
    return {
        "decode one latent (a slider move)": lambda: call("decode", name, [0.5] * latent_dim, AUTO),
        "traversal grid (all latents × 9)": lambda: call("traverse", name, [0.0] * latent_dim, 9, 3.0, AUTO),
        "prior sample grid of 64": lambda: call("sample", name, 64, 0, 1.0),
        "reconstruct an uploaded image": lambda: call("reconstruct", name, upload, AUTO, False),
        "latent map from cache (PCA)": lambda: call("latent_map", name, "PCA", "label", None),
        "latent map from cache (t-SNE)": lambda: call("latent_map", name, "t-SNE", "label", None),
        "decode a clicked map point (PCA)": lambda: call("decode_point", name, "PCA", 0.5, -0.5, "data mean", [], AUTO),
        "manifold, 16 × 16 over the PCA plane": lambda: call("manifold", name, 16, 2.0, "data mean", [], AUTO),
    }


def in_process(checkpoints: str, runs: int) -> tuple[str, dict[str, Timing]]:
    from explorer import Explorer, page_tabs
    from train.live import TrainingService
    from vae_models.catalog import Catalog

    explorer = Explorer(Catalog.build(checkpoints))
    name = pick_model(explorer.catalog.names)
    info = explorer.catalog.info(name)
    with tempfile.TemporaryDirectory() as tmp:
        tabs = {tab.id: tab for tab in page_tabs(explorer, TrainingService(Path(tmp)))}
        traverse, latent_map = tabs["traverse"], tabs["latent-map"]
        methods = {
            "decode": traverse.decode,
            "traverse": traverse.traverse,
            "sample": tabs["sample"].sample,
            "reconstruct": tabs["reconstruct"].reconstruct,
            "latent_map": latent_map.latent_map,
            "decode_point": latent_map.decode_point,
            "manifold": latent_map.manifold,
        }
        upload = example_image(Path(tmp), info.config.get("img_size", 64))
        measured = actions(lambda api, *args: methods[api](*args), name, info.latent_dim, upload)
        return name, {label: time_calls(fn, runs) for label, fn in measured.items()}


def end_to_end(checkpoints: str, runs: int) -> tuple[str, dict[str, dict[str, Timing]]]:
    """{"gradio_client": timings, "HTTP": timings} for the same actions on one served app."""
    from gradio_client import Client, handle_file

    from vae_models.catalog import discover

    infos = {info.name: info for info in discover(checkpoints)[0]}
    name = pick_model(sorted(infos))
    with AppServer(checkpoints=checkpoints) as server, tempfile.TemporaryDirectory() as tmp:
        client = Client(server.url, verbose=False, download_files=tmp)
        upload = example_image(Path(tmp), infos[name].config.get("img_size", 64))

        def call(api: str, *args: object) -> object:
            args = tuple(handle_file(a) if a == upload else a for a in args)
            return client.predict(*args, api_name=f"/{api}")

        callers = {"gradio_client": call, "HTTP": HttpCaller(server.url, upload)}
        measured = {way: actions(caller, name, infos[name].latent_dim, upload) for way, caller in callers.items()}
        return name, {way: {label: time_calls(fn, runs) for label, fn in m.items()} for way, m in measured.items()}


class HttpCaller:
    """Calls an endpoint the way the page does: upload the file once, post the call, read the
    event stream until "complete", then download every file in the result."""

    def __init__(self, url: str, upload: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=60)
        self.upload = upload
        with open(upload, "rb") as file:
            path = self.http.post("/gradio_api/upload", files={"files": file}).json()[0]
        self.uploaded = {"path": path, "meta": {"_type": "gradio.FileData"}}

    def __call__(self, api: str, *args: object) -> list:
        data = [self.uploaded if a == self.upload else a for a in args]
        event = self.http.post(f"/gradio_api/call/{api}", json={"data": data}).json()["event_id"]
        with self.http.stream("GET", f"/gradio_api/call/{api}/{event}") as stream:
            lines = list(stream.iter_lines())
        if "event: complete" not in lines:
            raise RuntimeError(f"/{api} did not complete: {lines[-2:]}")
        outputs = json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))
        for output in outputs:
            if isinstance(output, dict) and output.get("url"):
                self.http.get(output["url"]).raise_for_status()
        return outputs


def projection_timings(points: tuple[int, ...], runs: int) -> dict[str, Timing]:
    """PCA and t-SNE recomputed from scratch on 10-d codes with cluster structure."""
    from vae_models.latent import pca_projection, tsne_projection

    rng = np.random.default_rng(0)
    results = {}
    for n in points:
        codes = (rng.normal(size=(n, 10)) + 3 * rng.integers(0, 5, size=(n, 1))).astype(np.float32)
        results[f"PCA of {n:,} points"] = time_calls(lambda c=codes: pca_projection(c, 2), runs)
        tsne_runs = runs if n <= 2_000 else 1  # 10,000 points take most of a minute each
        results[f"t-SNE of {n:,} points"] = time_calls(lambda c=codes: tsne_projection(c), tsne_runs, 0)
    return results
