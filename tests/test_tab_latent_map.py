"""The Latent map tab (explorer.latent_map.LatentMapTab, over explorer.maps and explorer.figures): the
map with the upload as a star, Recompute and t-SNE's subsample, a click decoded on the map shown,
the plane's base, the palette and legend, and the tab refilled for a new model."""

from __future__ import annotations

import itertools

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from support import CHECKPOINTS, NAMES, VANILLA, says
from tab_helpers import BAD_UPLOAD_IDS, BAD_UPLOADS, quietly, refresh_values, user_error

from explorer import figures, maps
from vae_models.latent import subsample, tsne_projection_in_steps

DSPRITES_MODELS = sorted(p.name for p in CHECKPOINTS.glob("*-dsprites") if (p / "metrics.json").is_file())


def no_progress(*args, **kwargs) -> None:
    return None


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("latent-map")


@pytest.mark.parametrize("name", NAMES)
def test_latent_map(tab, uploads, name):
    figure, text = tab.latent_map(name, "PCA", "label", None)
    assert isinstance(figure, go.Figure) and "Explained variance" in text
    assert "your image" not in [trace.name for trace in figure.data]
    assert set(trace.name for trace in figure.data) <= set(tab.explorer.catalog.info(name).class_names)
    for method, trace_type in [("PCA", "scattergl"), ("PCA 3-D", "scatter3d"), ("t-SNE", "scattergl")]:
        figure, text = quietly(tab.latent_map, name, method, "label", uploads["digit2"])
        assert figure.data[-1].name == "your image" and figure.data[-1].type == trace_type
        assert all(trace.type == trace_type for trace in figure.data)
        assert method in text


def test_latent_map_refusals(tab):
    assert "map method must be one of" in user_error(tab.latent_map, VANILLA, "UMAP", "label", None)
    assert "cannot colour by 'shape'" in user_error(tab.latent_map, VANILLA, "PCA", "shape", None)


@pytest.mark.parametrize(("upload", "problem"), [u for u in BAD_UPLOADS if u[0]], ids=BAD_UPLOAD_IDS[2:])
def test_bad_uploads_are_user_errors(tab, uploads, upload, problem):
    # Without an upload the map is simply drawn without the star.
    assert says(user_error(tab.latent_map, VANILLA, "PCA", "label", uploads[upload]), problem)
    # A new upload that cannot be read leaves the map as it is (the Reconstruct tab says why).
    assert tab.map_with_image(VANILLA, "PCA", "label", uploads[upload]) == (gr.skip(), gr.skip())


def test_recompute_map(tab):
    figure, text = tab.recompute_map(VANILLA, "PCA 3-D", "label", None, progress=no_progress)
    assert isinstance(figure, go.Figure) and figure.data[0].type == "scatter3d"
    assert "Explained variance" in text and text.startswith("Recomputed PCA 3-D of ")


def test_tsne_reports_real_progress_and_the_page_subsamples(monkeypatch):
    seen: list[float] = []
    codes = np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)
    embedding = tsne_projection_in_steps(codes, progress=seen.append)
    assert embedding.shape == (120, 2) and np.isfinite(embedding).all()
    assert len(seen) == 15 and seen == sorted(seen) and seen[-1] == 1.0  # 750 iterations, 50 at a time
    assert len(subsample(10_000, 2_500)) == 2_500 and list(subsample(5, 10)) == list(range(5))
    monkeypatch.setattr(maps, "TSNE_MAX_POINTS", 100)
    latents = {"codes": codes, "labels": np.zeros(120, int)}
    fresh, how = maps.fresh_map(latents, "t-SNE", lambda done: None)
    assert len(fresh["tsne"]) == len(fresh["labels"]) == 100 and "random subsample of the 120" in how


# --- a point of the map, decoded ------------------------------------------------------------------


def test_the_plane_base_is_the_data_mean_or_the_traverse_start(tab):
    inverse = tab.map_inverse(VANILLA, "PCA")
    info = tab.explorer.catalog.info(VANILLA)
    assert np.allclose(maps.plane_base(inverse, "data mean", None, info), inverse.codes.mean(0), atol=1e-5)
    start = [0.5] * info.latent_dim
    assert np.allclose(maps.plane_base(inverse, "Traverse start", start, info), start)
    with pytest.raises(ValueError, match="off-plane components"):
        maps.plane_base(inverse, "somewhere", None, info)


def test_a_click_on_a_recomputed_map_decodes_on_its_own_points(tab):
    tab.recompute_map(VANILLA, "t-SNE", "label", None, progress=no_progress)
    fresh = tab.map_inverse(VANILLA, "t-SNE", recomputed=True)
    assert fresh is not tab.map_inverse(VANILLA, "t-SNE")  # Recompute's map, not the cached one
    x, y = fresh.coords[5]
    _, code, *_ = tab.decode_point(VANILLA, "t-SNE", x, y, recomputed=True)
    assert np.allclose(code, fresh.codes[5])  # a click on a point of the map shown is that point's code
    _, cached, *_ = tab.decode_point(VANILLA, "t-SNE", x, y)
    assert not np.allclose(cached, code)


# --- the figure's colours ---------------------------------------------------------------------------


def test_ten_classes_get_ten_distinct_colours():
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in figures.CATEGORY_COLOURS], dtype=float)
    closest = min(np.abs(a - b).sum() for a, b in itertools.combinations(rgb, 2))
    assert len(rgb) == 10 and closest > 60, closest  # plotly's default put 0/3 and 6/8 this near


def test_continuous_colour_has_one_title_and_the_3d_upload_marker_is_a_solid_diamond():
    coords = np.random.default_rng(0).normal(size=(20, 3))
    figure = figures.latent_map(coords, np.linspace(0, 1, 20), "scale", ["x"] * 20, highlight=np.zeros(3))
    assert figure.data[0].marker.colorbar.title.text == "scale"
    assert not figure.layout.legend.title.text  # the colour bar's title only: none over the legend
    star = figure.data[-1].marker
    assert star.symbol == "diamond" and star.line.width >= 2 and star.opacity == 1


# --- a new model ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_model_switch_colours_the_new_map_by_label_and_decodes_its_origin(tab, name):
    updates = tab.refresh(name, refresh_values(tab, method="PCA"))
    assert set(updates) <= set(tab.refreshed)
    assert [choice[0] for choice in updates[tab.colour_by].choices] == ["label"]
    assert updates[tab.colour_by].value == "label" and updates[tab.recomputed] is False
    assert isinstance(updates[tab.plot], go.Figure) and "Explained variance" in updates[tab.caption]
    assert updates[tab.point_code] == pytest.approx(tab.decode_point(name, "PCA", 0.0, 0.0).point_code)
    assert updates[tab.point_note].startswith("The map's origin, the mean code.")
    assert (updates[tab.x], updates[tab.y]) == (0.0, 0.0)
    assert not updates[tab.manifold_image].visible  # no manifold of the previous model


@pytest.mark.parametrize("name", DSPRITES_MODELS)
def test_a_dsprites_map_may_be_coloured_by_each_factor(tab, name):
    factors = tab.explorer.catalog.info(name).metrics["factor_names"]
    updates = tab.refresh(name, refresh_values(tab, method="t-SNE"))
    assert [choice[0] for choice in updates[tab.colour_by].choices] == ["label", *factors]
    assert updates[tab.plot].data[0].type == "scattergl" and "t-SNE" in updates[tab.caption]


def test_a_model_without_a_latent_cache_clears_the_map_and_says_why(tab, monkeypatch):
    monkeypatch.setattr(tab.explorer.catalog, "latents", lambda name: None)
    updates = tab.refresh(VANILLA, refresh_values(tab))
    assert updates[tab.plot] is None and updates[tab.point_image] is None and updates[tab.point_code] is None
    assert "no latent cache" in updates[tab.caption] and "press **Recompute**" in updates[tab.point_note]
