"""The Interpolate tab (explorer.interpolate.InterpolateTab): the row between two images or two classes,
its GIF, the refusals, an example click filling A then B, and the tab refilled for a new model."""

from __future__ import annotations

import gradio as gr
import pytest
from PIL import Image
from support import CVAE, NAMES, says
from tab_helpers import BAD_UPLOAD_IDS, BAD_UPLOADS, grid_size, quietly, refresh_values, user_error

DSPRITES = "betatc_vae-dsprites"


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("interpolate")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolate(tab, uploads, name, mode):
    row, notes = tab.interpolate(name, "images", uploads["digit1"], uploads["digit5"], None, None, 6, mode)
    assert row.size == grid_size(6, 6) and notes == ""
    between_classes, _ = tab.interpolate(name, "classes", None, None, "1", "7", 4, mode)
    assert between_classes.size == grid_size(4, 4)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("images", "A", "A", None, None, 6, "cubic"), "interpolation mode must be one of"),
        (("faces", None, None, "1", "7", 6, "linear"), "interpolate between 'images' or 'classes'"),
        (("classes", None, None, None, "7", 6, "linear"), "pick a class from"),
        (("classes", None, None, "1", "seventy", 6, "linear"), "pick a class from"),
        (("images", None, "A", None, None, 6, "linear"), "no image"),
    ],
    ids=["mode", "source", "no-class", "bad-class", "no-image"],
)
def test_interpolate_refusals(tab, uploads, args, problem):
    args = tuple(uploads["digit1"] if value == "A" else value for value in args)
    assert problem in quietly(user_error, tab.interpolate, CVAE, *args)


@pytest.mark.parametrize(("upload", "problem"), BAD_UPLOADS, ids=BAD_UPLOAD_IDS)
def test_bad_uploads_are_user_errors(tab, uploads, upload, problem):
    path = uploads.get(upload, upload)
    assert says(user_error(tab.interpolate, CVAE, "images", uploads["digit1"], path), problem)


def test_the_animation_has_a_frame_per_step(tab, uploads):
    path = tab.animate_interpolation(CVAE, "images", uploads["digit1"], uploads["digit5"], None, None, 5)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 5


def test_an_example_click_fills_image_a_then_image_b(tab):
    first = tab.pick_example(CVAE, "A", gr.SelectData(None, {"index": 2, "value": None}))
    assert first == (tab.explorer.example_path(CVAE, 2), gr.skip(), "B")
    second = tab.pick_example(CVAE, first.target, gr.SelectData(None, {"index": 7, "value": None}))
    assert second == (gr.skip(), tab.explorer.example_path(CVAE, 7), "A")
    assert set(tab.named(second)) == {tab.image_a, tab.image_b, tab.target}


def test_a_model_switch_offers_two_different_classes_and_a_row_between_two_examples(tab):
    updates = tab.refresh(CVAE, refresh_values(tab, image_a=None, image_b=None, shown_data=None))
    assert set(updates) <= set(tab.refreshed)
    a, b = updates[tab.class_a], updates[tab.class_b]
    assert a.value != b.value  # class B defaults to another class than A
    examples = tab.explorer.examples["digits"]
    assert (updates[tab.image_a], updates[tab.image_b]) == (examples[0].path, examples[-1].path)
    row, notes = tab.interpolate(CVAE, "images", examples[0].path, examples[-1].path)
    assert updates[tab.row].tobytes() == row.tobytes() and updates[tab.notes] == notes
    assert updates[tab.shown_data] == "digits" and not updates[tab.animated].visible


def test_a_model_switch_keeps_the_images_of_the_same_data_and_drops_another_datas(tab, uploads):
    digits = refresh_values(tab, image_a=uploads["digit3"], image_b=uploads["digit4"], shown_data="digits")
    kept = tab.refresh(CVAE, digits)
    assert (kept[tab.image_a], kept[tab.image_b]) == (uploads["digit3"], uploads["digit4"])
    dropped = tab.refresh(DSPRITES, digits)
    assert "dsprites-test" in dropped[tab.image_a] and "dsprites-test" in dropped[tab.image_b]
    assert dropped[tab.shown_data] == "dsprites"
