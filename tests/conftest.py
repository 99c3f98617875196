"""Fixtures shared by the explorer's test modules: the catalog of shipped checkpoints, the page's
shared state over it (`explorer.state.Explorer`), the page laid out once with every tab, and a
folder of uploads. Each is built once per test session; explorer and vae_models are imported only
when a test asks for them, so other modules collect quickly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import CHECKPOINTS, CVAE, NAMES, VANILLA, dark_on_light, noise_rgb

if TYPE_CHECKING:
    import gradio as gr

    from explorer.page import Page
    from explorer.state import Explorer
    from vae_models.catalog import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    from vae_models.catalog import Catalog

    built = Catalog.build(CHECKPOINTS)
    assert {CVAE, VANILLA} <= set(built.names), built.warnings
    return built


@pytest.fixture(scope="session")
def judges(tmp_path_factory) -> Path:
    """One folder of evaluation judges for every test that evaluates a run: training the judge is
    most of an evaluation's time, so each (data, seed) is trained once a session. The tests of the
    judge's training and of this cache train their own."""
    return tmp_path_factory.mktemp("judges")


@pytest.fixture(scope="session")
def explorer(catalog, tmp_path_factory) -> Explorer:
    """The page's shared state over the shipped checkpoints, with the example images of each of
    their datasets (as the app writes them at start-up)."""
    from explorer.examples import write_examples
    from explorer.state import Explorer

    return Explorer(catalog, write_examples(catalog, tmp_path_factory.mktemp("examples")))


@pytest.fixture(scope="session")
def demo(explorer, tmp_path_factory) -> gr.Blocks:
    """The page built once over `explorer`, its tabs laid out and wired; its training service is
    never started (no run, no supervisor thread), and nothing is launched."""
    from explorer import build_app
    from train.live import TrainingService

    return build_app(explorer, TrainingService(tmp_path_factory.mktemp("runs")))


@pytest.fixture(scope="session")
def page(demo) -> Page:
    """The Page: `page.tab(id)` is a laid-out tab whose methods are the callbacks."""
    return demo.page


@pytest.fixture(scope="session")
def tabs(page) -> dict:
    """Every tab by id, in the page's order."""
    return page.tabs


@pytest.fixture(scope="session")
def uploads(tmp_path_factory, catalog) -> dict[str, str]:
    from explorer.examples import write_examples
    from vae_models.catalog import Catalog

    folder = tmp_path_factory.mktemp("uploads")
    # Only the two digits models: examples of other data sets (dSprites) are not needed here.
    examples = write_examples(Catalog([catalog.info(name) for name in NAMES]), folder)
    paths = {f"digit{k}": example.path for k, example in enumerate(examples["digits"])}
    dark_on_light().save(folder / "drawn.png")
    noise_rgb(40, 40).save(folder / "colour.jpg")
    (folder / "page.png").write_text("<html>not an image</html>")
    (folder / "empty.png").write_bytes(b"")
    return paths | {name: str(folder / name) for name in ("drawn.png", "colour.jpg", "page.png", "empty.png")}
