"""The explorer's page: one module per tab, each owning its layout, its wiring and its callbacks,
over one shared `Explorer` (the catalog of models and what was worked out for them).

    demo = create_app("checkpoints")   # or build_app(Explorer(catalog), service)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import gradio as gr

from train.live import TrainingService
from vae_models import resolve_device
from vae_models.catalog import Catalog

from .arithmetic import ArithmeticTab
from .components import Tab
from .conditional import ConditionalTab
from .examples import write_examples
from .interpolate import InterpolateTab
from .latent_map import LatentMapTab
from .model_card import ModelCardTab
from .page import CSS, PAGE_JS, Page
from .palette import PaletteTab
from .reconstruct import ReconstructTab
from .sample import SampleTab
from .state import Explorer
from .train import TrainingTab
from .traverse import TraverseTab

__all__ = ["CSS", "PAGE_JS", "Explorer", "build_app", "create_app", "page_tabs"]
CACHE_SECONDS = (600, 3600)  # every output is a new file (common.display): every 10 min, drop those over 1 h old


def page_tabs(explorer: Explorer, service: TrainingService) -> list[Tab]:
    """The tabs, in the page's order (a shared link names them by id)."""
    tabs = [ReconstructTab, SampleTab, ConditionalTab, TraverseTab, LatentMapTab, InterpolateTab, ArithmeticTab]
    return [tab(explorer) for tab in tabs] + [
        PaletteTab(explorer),
        TrainingTab(explorer, service),
        ModelCardTab(explorer),
    ]


def build_app(explorer: Explorer, service: TrainingService) -> gr.Blocks:
    with gr.Blocks(title="VAE Latent Explorer", delete_cache=CACHE_SECONDS) as demo:
        gr.Markdown(
            "# VAE Latent Explorer\nReconstruct an image, sample the prior, drag the latents, and map the latent "
            "space of four kinds of VAE. Every action is also an API endpoint (see *Use via API* below)."
        )
        warnings = explorer.catalog.warnings
        gr.Markdown("\n".join(f"⚠️ {w}" for w in warnings), visible=bool(warnings))
        page = Page(explorer, demo, page_tabs(explorer, service))
        page.layout()
        page.wire()
    demo.page = page  # the tabs, for tests and benchmarks that call their callbacks
    return demo


def create_app(
    checkpoints: str | Path = "checkpoints",
    hub: list[str] = (),
    device: str = "auto",
    hub_timeout: float = 5.0,
    runs: str | Path | None = None,
    judges: str | Path | None = None,
) -> gr.Blocks:
    """The page over the models in `checkpoints` and `hub`; runs trained in it go under `runs`
    (by default a new temporary folder), and their evaluation's judges under `judges` (by default
    in `runs`)."""
    try:
        resolve_device(device)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    catalog = Catalog.build(checkpoints, list(hub), device=device, hub_timeout=hub_timeout)
    for warning in catalog.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not catalog.names:
        raise SystemExit(f"no models: {checkpoints} holds no checkpoint folders and no Hub model was reachable")
    examples = write_examples(catalog, Path(tempfile.mkdtemp(prefix="vae-explorer-examples-")))
    service = TrainingService(runs or Path(tempfile.mkdtemp(prefix="vae-explorer-runs-")), judges=judges).start()
    return build_app(Explorer(catalog, examples), service)
