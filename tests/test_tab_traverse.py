"""The Traverse tab (explorer.traverse): the start point, the sliders and their labels, the grid swept
around them, one latent's animation, a shared link's code, and the tab refilled for a new model."""

from __future__ import annotations

import math

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image
from support import CHECKPOINTS, CVAE, NAMES, VANILLA, says
from tab_helpers import BAD_UPLOAD_IDS, BAD_UPLOADS, grid_size, refresh_values, user_error

from explorer.common import AUTO_CLASS
from explorer.traverse import MAX_SLIDERS, Start, latent_index, slider_labels
from vae_models.images import label_rows
from vae_models.latent import traversal_codes

AUTO = AUTO_CLASS
DSPRITES_MODELS = sorted(p.name for p in CHECKPOINTS.glob("*-dsprites") if (p / "metrics.json").is_file())


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("traverse")


@pytest.mark.parametrize("name", NAMES)
def test_decode_traverse_and_sliders(tab, name):
    dim = tab.explorer.catalog.info(name).latent_dim
    decoded = tab.decode(name, [0.5] * dim, AUTO)
    assert decoded.size == (192, 192)
    for steps in (5, 3):  # the grid, with a margin of row labels on the left and headings above
        width, height = tab.traverse(name, None, steps, 2.0).size
        assert width > grid_size(dim * steps, steps)[0] + 60 and height > grid_size(dim * steps, steps)[1]
    order = tab.explorer.catalog.info(name).latent_order
    assert sorted(order) == list(range(dim))
    values = [0.3 * (i + 1) for i in range(min(dim, MAX_SLIDERS))]
    start_label = 0 if name == CVAE else None  # what set_start gives for "zero"
    from_sliders, slider_code, line = tab.decode_sliders(name, [], start_label, AUTO, *values)
    code = [0.0] * dim
    for position, slot in enumerate(order[: len(values)]):
        code[slot] = values[position]
    assert from_sliders.tobytes() == tab.decode(name, code, AUTO).tobytes()
    assert slider_code == pytest.approx(code) and line.startswith("Current code: `z = [")


@pytest.mark.parametrize("name", NAMES)
def test_sliders_before_any_start_point_decode_like_the_decode_endpoint(tab, name):
    """After a model change the page resets the start to ([], None); a slider moved then must still decode,
    as /decode does with class 'auto' (label 0 for the conditional VAE)."""
    dim = tab.explorer.catalog.info(name).latent_dim
    values = [0.2] * min(dim, MAX_SLIDERS)
    assert tab.decode_sliders(name, [], None, AUTO, *values)[0].tobytes() == (
        tab.decode(name, [0.2] * dim, AUTO).tobytes()
    )


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ([0.0] * 3, "latent dimensions; got a code of 3"),
        ([0.0] * 30, "latent dimensions; got a code of 30"),
        ([float("nan")] + [0.0] * 7, "finite"),
        ([float("inf")] * 8, "finite"),
        ([[0.0] * 8], "one flat list"),
        ("abc", "must be a list of numbers"),
        ({"z": 1}, "must be a list of numbers"),
    ],
    ids=["short", "long", "nan", "inf", "nested", "string", "dict"],
)
def test_decode_refuses_bad_codes(tab, code, problem):
    assert problem in user_error(tab.decode, VANILLA, code, AUTO)


@pytest.mark.parametrize("length", [3, 30], ids=["short", "long"])
def test_traverse_refuses_a_start_code_of_the_wrong_length(tab, length):
    assert "latent dimensions" in user_error(tab.traverse, VANILLA, [0.0] * length, 5, 2.0)


def test_traverse_refuses_a_nan_start(tab):
    assert "finite" in user_error(tab.traverse, VANILLA, [float("nan")] * 8, 5, 2.0)


@pytest.mark.parametrize("name", NAMES)
def test_set_start(tab, uploads, name):
    dim = tab.explorer.catalog.info(name).latent_dim
    conditional = tab.explorer.catalog.info(name).model_type == "cvae"
    for source, index, path in [("zero", 0, None), ("test image", 5, None), ("uploaded image", 0, uploads["digit4"])]:
        code, line, label, image, sliders = tab.set_start(name, source, index, path, AUTO)
        assert line == "Current code: `z = [" + ", ".join(f"{v:.2f}" for v in code) + "]`"
        assert len(code) == dim and all(math.isfinite(v) for v in code)
        assert (label is not None) == conditional
        assert image.size == (192, 192)
        assert len(sliders) == MAX_SLIDERS
        assert sum(1 for s in sliders if s.visible) == min(dim, MAX_SLIDERS)
    assert code != [0.0] * dim
    assert "test image index must be in [0, " in user_error(tab.set_start, name, "test image", 10**6, None, AUTO)
    assert "no image" in user_error(tab.set_start, name, "uploaded image", 0, None, AUTO)


@pytest.mark.parametrize(("upload", "problem"), BAD_UPLOADS, ids=BAD_UPLOAD_IDS)
def test_bad_uploads_are_user_errors(tab, uploads, upload, problem):
    path = uploads.get(upload, upload)
    assert says(user_error(tab.set_start, VANILLA, "uploaded image", 0, path, AUTO), problem)


def test_an_example_or_a_map_point_becomes_the_start(tab):
    picked = tab.start_from_example(VANILLA, AUTO, gr.SelectData(None, {"index": 4, "value": None}))
    path = tab.explorer.example_path(VANILLA, 4)
    assert picked.code == tab.set_start(VANILLA, "uploaded image", 0, path, AUTO).code
    assert set(tab.named(picked)) == set(tab.panels(Start))  # the code, its line, label, image and sliders
    dim = tab.explorer.catalog.info(VANILLA).latent_dim
    assert tab.start_from_point(VANILLA, [0.5] * dim, AUTO).code == pytest.approx([0.5] * dim)
    assert "click a point on the map first" in user_error(tab.start_from_point, VANILLA, None, AUTO)


# --- the sliders' labels, and one latent animated ---------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_latent_has_a_slider_label(tab, name):
    labels = slider_labels(tab.explorer.catalog.info(name))
    assert len(labels) == tab.explorer.catalog.info(name).latent_dim and all(label.startswith("z") for label in labels)


@pytest.mark.parametrize("name", DSPRITES_MODELS)
def test_dsprites_sliders_name_the_factor_each_latent_moves_most(tab, name):
    info = tab.explorer.catalog.info(name)
    metrics = info.metrics
    shares = np.array(metrics["mutual_information"]) / np.array(metrics["factor_entropy"])
    for dim, label in zip(info.latent_order, slider_labels(info), strict=True):
        assert label.startswith(f"z{dim} ")
        if "inactive" not in label:  # the top factor first; a second one when the top holds under half
            assert f"moves {metrics['factor_names'][shares[dim].argmax()]}" in label


def test_a_latent_is_named_by_its_slider_label_or_its_name(tab):
    info = tab.explorer.catalog.info(VANILLA)
    label = slider_labels(info)[0]
    assert latent_index(info, label) == latent_index(info, label.split(" · ")[0])
    assert latent_index(info, label) == info.latent_order[0]
    assert "pick the latent" in user_error(tab.animate_traversal, VANILLA, [], "z99")


def test_the_animation_is_a_gif_of_the_latents_sweep(tab):
    label = slider_labels(tab.explorer.catalog.info(VANILLA))[0]
    path = tab.animate_traversal(VANILLA, [], label, 5, 2.0)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 5


# --- the grid -------------------------------------------------------------------------------------


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


# --- a shared link's code, and a new model ------------------------------------------------------------


def test_a_shared_code_of_the_wrong_length_is_said_and_a_good_one_starts_the_traverse(tab):
    dim = tab.explorer.catalog.info(VANILLA).latent_dim
    start, link = tab.linked_start(VANILLA, {"model": VANILLA, "code": [0.1] * (dim + 1)}, AUTO)
    assert link[tab.pending] is None and f"has {dim + 1} numbers" in link[tab.link_note]
    assert start.code == [0.0] * dim  # the start is zero, as the note says
    start, link = tab.linked_start(VANILLA, {"model": VANILLA, "code": [0.25] * dim}, AUTO)
    code, line, _, image, _ = start
    assert code == pytest.approx([0.25] * dim) and "0.25" in line and isinstance(image, Image.Image)
    assert link == {tab.pending: None}  # the link is used up, and says nothing
    start, link = tab.linked_start(VANILLA, {"model": CVAE, "code": [0.25] * dim}, AUTO)
    assert start.code == [0.0] * dim and link == {}  # another model's code waits for that model


@pytest.mark.parametrize("name", NAMES)
def test_a_model_switch_sets_the_sliders_at_zero_and_draws_the_grid_around_them(tab, name):
    info = tab.explorer.catalog.info(name)
    values = refresh_values(tab, steps=5, span=2.0)
    updates = tab.refresh(name, values)
    assert set(updates) <= set(tab.refreshed) and tab.pending not in updates  # no link: nothing to use up
    assert updates[tab.code] == [0.0] * info.latent_dim
    sliders = [updates[slider] for slider in tab.sliders]
    assert sum(1 for s in sliders if s.visible) == min(info.latent_dim, MAX_SLIDERS)
    assert updates[tab.grid].tobytes() == tab.traverse(name, [], 5, 2.0, AUTO, updates[tab.start_label]).tobytes()
    assert updates[tab.latent].choices == [(label, label) for label in slider_labels(info)]
    assert updates[tab.latent].value == slider_labels(info)[0]
    assert not updates[tab.animated].visible and updates[tab.animated].value is None  # no GIF of the last model
    assert [caption for _, caption in updates[tab.gallery]] == [str(k) for k in range(10)]


def test_a_model_switch_to_a_shared_links_model_starts_at_its_code(tab):
    dim = tab.explorer.catalog.info(VANILLA).latent_dim
    values = refresh_values(tab, pending={"model": VANILLA, "code": [0.25] * dim})
    updates = tab.refresh(VANILLA, values)
    assert updates[tab.code] == pytest.approx([0.25] * dim) and updates[tab.pending] is None
    values = refresh_values(tab, pending={"model": VANILLA, "code": [0.25] * (dim - 1)})
    updates = tab.refresh(VANILLA, values)
    assert updates[tab.code] == [0.0] * dim and "so the start is zero" in updates[tab.link_note]
