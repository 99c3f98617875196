"""The page's small parts, without a browser: the default model, the scoreboard over a catalog with an
injected scoreboard, the card's numbers and words, the latent map's palette and legend, the labelled
traversal grid swept around the sliders, t-SNE's progress and subsample, and what a model switch returns."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image
from support import CHECKPOINTS, CVAE, VANILLA

import callbacks
import page_text
from vae_models import figures
from vae_models.catalog import Catalog, read_info
from vae_models.disentanglement import HEADLINE_METRICS
from vae_models.images import label_rows
from vae_models.latent import subsample, traversal_codes, tsne_projection_in_steps

DSPRITES = ("betatc_vae-dsprites", "vanilla_vae-dsprites")


def board(level: float) -> dict:
    return {key: {"mean": level, "sd": 0.01, "per_seed": [level] * 3} for key in HEADLINE_METRICS}


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Catalog:
    """Two dSprites checkpoints (metadata only) and a copy of one with a fast-recipe scoreboard, and one
    without: what the Model card shows before and after `train.evaluate` has scored them."""
    root = tmp_path_factory.mktemp("scored")
    infos = []
    for name, level in zip(DSPRITES, (0.6, None), strict=True):
        folder = root / name
        folder.mkdir()
        for file in ("config.json", "metrics.json"):
            shutil.copy(CHECKPOINTS / name / file, folder / file)
        (folder / "model.safetensors").write_bytes(b"")  # never loaded here
        metrics = json.loads((folder / "metrics.json").read_text())
        for key in ("disentanglement", "disentanglement_provenance"):  # the shipped ones may have one by now
            metrics.pop(key, None)
        if level is not None:
            metrics["disentanglement"] = board(level) | {"mig": {"mean": 0.1, "sd": 0.0, "per_seed": [0.1] * 3}}
            metrics["disentanglement_provenance"] = {"recipe": {"name": "fast (smaller samples, for CI)"}}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        infos.append(read_info(folder, name))
    return Catalog(infos)


def test_the_page_opens_on_the_digits_model_with_the_lowest_sample_fd(catalog):
    digits = [catalog.info(n) for n in catalog.names if catalog.info(n).dataset == "digits"]
    best = min(digits, key=lambda info: info.metrics["sample_frechet_distance"])
    assert callbacks.default_model(catalog) == best.name
    assert callbacks.default_model(Catalog([catalog.info(VANILLA)])) == VANILLA


def test_the_scoreboard_puts_every_model_of_the_data_side_by_side(scored):
    explorer = callbacks.Explorer(scored)
    table, chart, note, provenance = explorer.scoreboard(DSPRITES[0])
    assert table["headers"][:3] == ["model", "recipe", "DCI disentanglement"]
    assert len(table["headers"]) == 2 + len(HEADLINE_METRICS)
    first, second = table["data"]
    assert first[:3] == [DSPRITES[0], "fast (smaller samples, for CI)", "0.60 ± 0.01"]
    assert second[:3] == [DSPRITES[1], "–", "not evaluated"]
    assert [trace.name for trace in chart.data] == [DSPRITES[0]] and explorer.factor_panels(DSPRITES[0])[2].visible
    assert "**fast (smaller samples, for CI)**" in note and "not comparable" in note
    assert f"{DSPRITES[1]}**: not evaluated yet: run `python -m train.evaluate" in note
    assert '"fast (smaller samples, for CI)"' in provenance and "What each metric rewards" in provenance


def test_the_scoreboard_sentence_says_where_the_metrics_disagree(scored, monkeypatch):
    other = scored.info(DSPRITES[1])
    monkeypatch.setitem(other.metrics, "disentanglement", board(0.3) | {"mig": {"mean": 0.5, "sd": 0, "per_seed": []}})
    _, chart, note, _ = callbacks.Explorer(scored).scoreboard(DSPRITES[1])
    assert "The metrics disagree" in note and "MIG rank" in note
    assert len(chart.data) == 2


def test_no_scoreboard_for_data_without_factors(explorer):
    assert not explorer.has_scoreboard(VANILLA)
    assert explorer.scoreboard(VANILLA)[2].startswith("_digits has no labelled factors")


@pytest.mark.parametrize(
    ("value", "text"),
    [(10_000, "10,000"), (10000.0, "10,000"), (12345.6, "12,346"), (0.95601, "0.956"), (-0.0015, "-0.0015"), (8, "8")],
)
def test_numbers_read_as_a_reader_writes_them(value, text):
    assert page_text.number(value) == text


def test_the_card_names_metrics_with_units_and_meaning_and_explains_a_negative_mmd():
    table = page_text.metrics_markdown({"iwae_nll_nats": 358.9, "mmd_aggregate_posterior": -0.0015, "test_images": 270})
    assert "| test NLL, importance-weighted (nats/image) | 358.9 | a tighter estimate" in table
    assert "| test images | 270 |" in table and "iwae_nll_nats" not in table
    assert "below 0" in table and "-0.0015" in table


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


def test_the_grid_sweeps_around_the_sliders():
    start = torch.tensor([1.0, -2.0, 0.5])
    codes = traversal_codes(start, [1, 0], steps=5, span=1.0, around_start=True).view(2, 5, 3)
    assert torch.allclose(codes[:, 2], start.expand(2, 3))  # the middle column is the sliders' code
    assert torch.allclose(codes[0, :, 1], torch.tensor([-3.0, -2.5, -2.0, -1.5, -1.0]))


def test_traversal_rows_carry_their_labels():
    grid = Image.new("L", (90, 60), 0)
    labelled = label_rows(grid, ["z1 · KL 2.00 · moves posX", "z0 · inactive"], ["-1", "0", "+1"])
    ink = np.asarray(labelled.convert("L"))[:, : labelled.width - 90] < 128
    assert labelled.width > 150 and ink[labelled.height - 45].any() and ink[labelled.height - 15].any()


def test_tsne_reports_real_progress_and_the_page_subsamples(monkeypatch):
    seen: list[float] = []
    codes = np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)
    embedding = tsne_projection_in_steps(codes, progress=seen.append)
    assert embedding.shape == (120, 2) and np.isfinite(embedding).all()
    assert len(seen) == 15 and seen == sorted(seen) and seen[-1] == 1.0  # 750 iterations, 50 at a time
    assert len(subsample(10_000, 2_500)) == 2_500 and list(subsample(5, 10)) == list(range(5))
    monkeypatch.setattr(callbacks, "TSNE_MAX_POINTS", 100)
    latents = {"codes": codes, "labels": np.zeros(120, int)}
    fresh, how = callbacks.fresh_map(latents, "t-SNE", lambda done: None)
    assert len(fresh["tsne"]) == len(fresh["labels"]) == 100 and "random subsample of the 120" in how


def test_a_model_switch_refreshes_reconstruct_and_interpolate_with_the_new_datas_examples(catalog, tmp_path):
    from examples import write_examples

    small = Catalog([catalog.info(n) for n in (CVAE, "betatc_vae-dsprites") if n in catalog.names])
    explorer = callbacks.Explorer(small, write_examples(small, tmp_path))
    captions = [caption for _, caption in explorer.example_gallery("betatc_vae-dsprites")]
    assert captions[:3] == ["square · small", "square · mid", "square · large"] and len(captions) == 9
    path, shown, recon, notes, compared, _, box, comparing, dataset = explorer.refresh_reconstruct(
        "betatc_vae-dsprites", None, None
    )
    assert "dsprites-test" in path and dataset == "dsprites" and notes == "" and compared is None and not box.visible
    assert comparing is False  # Compare, hidden, stops following the canvas
    assert shown.size == recon.size
    again = explorer.refresh_reconstruct(CVAE, path, "dsprites")  # the data changed: a digit, not the sprite
    assert "digits-test" in again[0]
    a, b, *_ = explorer.reset_interpolate(CVAE, None, None, None)
    assert a.value != b.value  # class B defaults to another class than A


def test_the_conditional_tab_explains_itself_for_other_models(explorer):
    controls, why, switch, grid = explorer.conditional_panel(VANILLA)
    assert not controls.visible and why.visible and "not conditioned on a class" in why.value
    assert switch.visible and switch.value == f"Switch to {CVAE}" and grid is None
    assert explorer.switch_to_conditional(VANILLA)["value"] == CVAE
    controls, why, switch, grid = explorer.conditional_panel(CVAE)
    assert controls.visible and not why.visible and isinstance(grid, Image.Image)


def test_every_output_picture_is_a_file_of_its_own(explorer, uploads):
    """gradio caches outputs under the hash of their bytes: identical pictures must still differ in bytes."""
    first, second = (explorer.reconstruct(VANILLA, uploads["digit1"])[1] for _ in range(2))
    assert first.tobytes() == second.tobytes() and first.info != second.info


def test_errors_are_kept_for_the_session_that_caused_them():
    log = callbacks.ErrorLog(size=2)
    assert log.take("nobody") == "" and log.take(None) == ""


def test_scoreboard_chart_is_a_figure(scored):
    assert isinstance(
        figures.scoreboard_chart({"a": board(0.4)}, HEADLINE_METRICS, dict.fromkeys(HEADLINE_METRICS, "t")),
        go.Figure,
    )


def test_examples_are_written_at_the_datas_own_size(uploads):
    with Image.open(uploads["digit0"]) as image:
        assert image.size == (32, 32)
    assert Path(uploads["digit9"]).is_file()
