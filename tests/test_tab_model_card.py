"""The Model card tab (explorer.model_card.ModelCardTab, with explorer.text's words): the card, its
numbers and meanings, the factor panels, the disentanglement scoreboard over a catalog with an
injected scoreboard, and the tab refilled for a new model."""

from __future__ import annotations

import json
import shutil

import plotly.graph_objects as go
import pytest
from support import CHECKPOINTS, CVAE, NAMES, VANILLA
from tab_helpers import refresh_values

from explorer import figures, text
from explorer.model_card import ModelCardTab
from explorer.state import Explorer
from vae_models.catalog import Catalog, read_info
from vae_models.disentanglement import HEADLINE_METRICS

DSPRITES = ("betatc_vae-dsprites", "vanilla_vae-dsprites")
DSPRITES_MODELS = sorted(p.name for p in CHECKPOINTS.glob("*-dsprites") if (p / "metrics.json").is_file())


def board(level: float) -> dict:
    return {key: {"mean": level, "sd": 0.01, "per_seed": [level] * 3} for key in HEADLINE_METRICS}


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("model-card")


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


# --- the card -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_model_card(tab, name):
    text_, information, mutual_information, metrics, configs = tab.model_card(name)
    assert text_.startswith(f"### {tab.explorer.catalog.info(name).summary()}")
    assert '"model_type"' in configs and "| metric | value | what it means |" in metrics
    assert information is None or isinstance(information, go.Figure)
    assert mutual_information is None and not tab.factor_panels(name).mutual_information  # digits: no factors


@pytest.mark.parametrize("name", DSPRITES_MODELS)
def test_a_dsprites_card_has_the_latent_by_factor_heatmap(tab, name):
    metrics = tab.explorer.catalog.info(name).metrics
    heatmap = tab.model_card(name)[2]
    assert isinstance(heatmap, go.Figure) and tab.factor_panels(name).mutual_information
    assert [str(x) for x in heatmap.data[0].x] == metrics["factor_names"]


@pytest.mark.parametrize(
    ("value", "words"),
    [(10_000, "10,000"), (10000.0, "10,000"), (12345.6, "12,346"), (0.95601, "0.956"), (-0.0015, "-0.0015"), (8, "8")],
)
def test_numbers_read_as_a_reader_writes_them(value, words):
    assert text.number(value) == words


def test_the_card_names_metrics_with_units_and_meaning_and_explains_a_negative_mmd():
    table = text.metrics_markdown({"iwae_nll_nats": 358.9, "mmd_aggregate_posterior": -0.0015, "test_images": 270})
    assert "| test NLL, importance-weighted (nats/image) | 358.9 | a tighter estimate" in table
    assert "| test images | 270 |" in table and "iwae_nll_nats" not in table
    assert "below 0" in table and "-0.0015" in table


# --- the scoreboard -------------------------------------------------------------------------------


def test_the_scoreboard_puts_every_model_of_the_data_side_by_side(scored):
    card = ModelCardTab(Explorer(scored))
    table, chart, note, provenance = card.scores(DSPRITES[0])
    assert table["headers"][:3] == ["model", "recipe", "DCI disentanglement"]
    assert len(table["headers"]) == 2 + len(HEADLINE_METRICS)
    first, second = table["data"]
    assert first[:3] == [DSPRITES[0], "fast (smaller samples, for CI)", "0.60 ± 0.01"]
    assert second[:3] == [DSPRITES[1], "–", "not evaluated"]
    assert [trace.name for trace in chart.data] == [DSPRITES[0]] and card.factor_panels(DSPRITES[0]).chart
    assert "**fast (smaller samples, for CI)**" in note and "not comparable" in note
    assert f"{DSPRITES[1]}**: not evaluated yet: run `python -m train.evaluate" in note
    assert '"fast (smaller samples, for CI)"' in provenance and "What each metric rewards" in provenance


def test_the_scoreboard_sentence_says_where_the_metrics_disagree(scored, monkeypatch):
    other = scored.info(DSPRITES[1])
    monkeypatch.setitem(other.metrics, "disentanglement", board(0.3) | {"mig": {"mean": 0.5, "sd": 0, "per_seed": []}})
    _, chart, note, _ = ModelCardTab(Explorer(scored)).scores(DSPRITES[1])
    assert "The metrics disagree" in note and "MIG rank" in note
    assert len(chart.data) == 2


def test_no_scoreboard_for_data_without_factors(tab):
    assert not tab.has_scoreboard(VANILLA)
    assert tab.scores(VANILLA)[2].startswith("_digits has no labelled factors")


def test_scoreboard_chart_is_a_figure():
    assert isinstance(
        figures.scoreboard_chart({"a": board(0.4)}, HEADLINE_METRICS, dict.fromkeys(HEADLINE_METRICS, "t")),
        go.Figure,
    )


# --- a new model ------------------------------------------------------------------------------------


def test_a_model_switch_fills_the_card_and_shows_the_factor_panels_only_where_there_are_factors(tab):
    digits = tab.refresh(CVAE, refresh_values(tab))
    assert set(digits) == set(tab.refreshed)
    assert digits[tab.heading] == tab.model_card(CVAE).heading and digits[tab.metrics] == tab.model_card(CVAE).metrics
    assert not digits[tab.scoreboard_box].visible and not digits[tab.mutual_information].visible
    assert digits[tab.note].startswith("_digits has no labelled factors")
    sprites = tab.refresh(DSPRITES_MODELS[0], refresh_values(tab))
    assert sprites[tab.scoreboard_box].visible and sprites[tab.mutual_information].visible
    assert isinstance(sprites[tab.mutual_information].value, dict)  # the heatmap, as the page receives it
    assert sprites[tab.table]["headers"][:2] == ["model", "recipe"]
