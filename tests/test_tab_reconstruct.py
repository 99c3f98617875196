"""The Reconstruct tab (explorer.reconstruct.ReconstructTab) and its drawing canvas (explorer.canvas),
called directly on the shipped checkpoints: uploads, examples, Compare, a drawing read like a photo,
the canvas's preview, and the tab refilled for a new model."""

from __future__ import annotations

import io
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image
from support import CVAE, NAMES, VANILLA, noted, says
from tab_helpers import BAD_UPLOAD_IDS, BAD_UPLOADS, announced, grid_size, quietly, refresh_values, user_error

from explorer import canvas, state, text
from explorer.common import AUTO_CLASS, output_file

AUTO = AUTO_CLASS
SEVEN = {"side": 256, "strokes": [{"width": 14, "points": [[70, 60], [180, 60], [110, 200]]}]}
DSPRITES = "betatc_vae-dsprites"


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("reconstruct")


# --- the examples -----------------------------------------------------------------------------------


def test_write_examples_gives_one_png_per_class(uploads):
    digits = [path for key, path in uploads.items() if key.startswith("digit")]
    assert len(digits) == 10  # every digit, 0 to 9
    for path in digits:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] == image.size[1] >= 32


def test_examples_are_written_at_the_datas_own_size(uploads):
    with Image.open(uploads["digit0"]) as image:
        assert image.size == (32, 32)
    assert Path(uploads["digit9"]).is_file()


def test_clicking_an_example_makes_it_the_upload_and_reconstructs_it(tab):
    picked = tab.reconstruct_example(VANILLA, AUTO, gr.SelectData(None, {"index": 3, "value": None}))
    assert picked.upload == tab.explorer.example_path(VANILLA, 3) and "digits-test" in picked.upload
    assert picked.converted.size == picked.recon.size == (192, 192) and picked.notes == ""
    assert set(tab.named(picked)) == {tab.upload, tab.converted, tab.recon, tab.notes}
    assert "no example 99" in user_error(
        tab.reconstruct_example, VANILLA, AUTO, gr.SelectData(None, {"index": 99, "value": None})
    )


# --- uploads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_reconstruct_and_compare(tab, uploads, name):
    model = tab.explorer.catalog.model(name)
    shown, recon, notes = tab.reconstruct(name, uploads["digit3"])
    assert isinstance(shown, Image.Image) and isinstance(recon, Image.Image)
    # A test image needs no reading; the conditional VAE on "auto" says which class it read.
    assert notes.startswith("read as a 3, p = ") if model.is_conditional else notes == ""
    assert shown.size == recon.size == grid_size(1, 1, model.img_size)
    gallery, note = tab.compare(name, uploads["digit3"])
    assert note == ""
    assert [caption for _, caption in gallery] == ["input", *tab.explorer.catalog.same_data(name)]
    assert all(picture.size == shown.size for picture, _ in gallery)


def test_reconstruct_with_a_chosen_class(tab, uploads):
    images = [quietly(tab.reconstruct, CVAE, uploads["digit1"], choice)[1] for choice in ("1", 7, 7.0, AUTO)]
    assert np.array_equal(np.asarray(images[1]), np.asarray(images[2]))  # 7 and 7.0 are one class
    assert all(image.size == (192, 192) for image in images)


def test_upload_conversions_are_listed_once_under_the_models_view(tab, uploads):
    drawn = announced(tab.reconstruct, VANILLA, uploads["drawn.png"])
    assert noted(drawn, "ink separated", "dark on light")
    colour = announced(tab.reconstruct, VANILLA, uploads["colour.jpg"], AUTO, True)  # as is
    assert noted(colour, "greyscale") and noted(colour, "read as it is")
    assert "no ink found" in user_error(tab.reconstruct, VANILLA, uploads["colour.jpg"])  # noise, read
    assert announced(tab.reconstruct, VANILLA, uploads["digit2"]) == []  # a test image needs no conversion


@pytest.mark.parametrize(("upload", "problem"), BAD_UPLOADS, ids=BAD_UPLOAD_IDS)
def test_bad_uploads_are_user_errors(tab, uploads, upload, problem):
    path = uploads.get(upload, upload)
    assert says(user_error(tab.reconstruct, VANILLA, path), problem)
    assert says(user_error(tab.compare, CVAE, path), problem)


def test_unknown_class_for_reconstruct(tab, uploads):
    assert "unknown class 'eleven'" in user_error(tab.reconstruct, CVAE, uploads["digit1"], "eleven")


def test_every_output_picture_is_a_file_of_its_own(tab, uploads):
    """gradio caches outputs under the hash of their bytes: identical pictures must still differ in bytes."""
    first, second = (tab.reconstruct(VANILLA, uploads["digit1"])[1] for _ in range(2))
    assert first.tobytes() == second.tobytes() and first.info != second.info


# --- the canvas: its strokes drawn on paper, read like a photo -------------------------------------


def test_a_drawing_is_drawn_on_white_paper_where_its_strokes_are():
    paper = canvas.drawing_on_paper(SEVEN)
    pixels = np.asarray(paper)
    assert paper.size == (256, 256) and paper.mode == "L"
    assert pixels[60, 125] == 0 and pixels[60, 66] == 0  # on the bar, and in its round end beyond the first point
    across = pixels[40:80, 125]  # a column across the bar: 14 px of ink, no more
    assert (across == 0).sum() in (14, 15) and across[:10].min() == 255 and across[-10:].min() == 255
    assert pixels[200:, :60].min() == 255  # paper away from the strokes
    assert canvas.drawing_on_paper({"side": 256, "strokes": []}) is None
    assert canvas.drawing_on_paper(None) is None


@pytest.mark.parametrize(
    ("drawing", "problem"),
    [
        ({"side": 256, "strokes": [{"width": 14}]}, "not a list of strokes"),
        ({"side": 256, "strokes": [{"width": 14, "points": [[1, "x"]]}]}, "not a list of strokes"),
        ([[1, 2], [3, 4]], "not a list of strokes"),
        ("a 7", "not a list of strokes"),
        ({"side": float("inf"), "strokes": [{"width": 1, "points": [[1, 2]]}]}, "not a list of strokes"),
        ({"side": 256, "strokes": [{"width": 14, "points": []}]}, "needs points"),
        ({"side": 256, "strokes": [{"width": float("nan"), "points": [[1, 2]]}]}, "numbers"),
        ({"side": 256, "strokes": [{"width": 500, "points": [[1, 2]]}]}, "up to 64 pixels"),
        ({"side": 99_999, "strokes": [{"width": 1, "points": [[1, 2]]}]}, "side must be 8 to 1024"),
        ({"side": 256, "strokes": [{"width": 1, "points": [[1, 2]] * 20_001}]}, "too many strokes"),
    ],
)
def test_a_drawing_that_is_not_strokes_is_refused_by_name(tab, drawing, problem):
    assert problem in user_error(tab.reconstruct_drawing, VANILLA, drawing)
    assert tab.drawing_file(drawing) is None


def test_a_drawing_is_reconstructed_and_stands_as_the_upload(tab):
    view, recon, notes = tab.reconstruct_drawing(VANILLA, SEVEN)
    assert isinstance(view, Image.Image) and isinstance(recon, Image.Image)
    assert "counted in 4×4 blocks" in notes
    assert tab.reconstruct_drawing(VANILLA, {"side": 256, "strokes": []}) == (
        None,
        None,
        "_The canvas is empty: draw on it._",
    )
    speck = {"side": 256, "strokes": [{"width": 4, "points": [[128, 128]]}]}
    assert "speck" in user_error(tab.reconstruct_drawing, VANILLA, speck)
    path = tab.drawing_file(SEVEN)
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(canvas.drawing_on_paper(SEVEN)))


def test_the_canvas_preview_shows_the_reading_or_says_why_not(explorer):
    def preview(asked):
        return canvas.preview_drawing(explorer, asked)["html"]

    shown = preview({"model": CVAE, "drawing": SEVEN, "class_choice": None, "as_is": False})
    assert shown.count("<img src='data:image/png;base64,") == 2 and "read as a" in shown
    plain = preview({"model": VANILLA, "drawing": SEVEN})
    assert plain.count("<img") == 2 and "read as" not in plain
    assert preview({"model": VANILLA, "drawing": {"side": 256, "strokes": []}}) == text.EMPTY_CANVAS
    speck = {"side": 256, "strokes": [{"width": 4, "points": [[128, 128]]}]}
    assert "speck" in preview({"model": VANILLA, "drawing": speck})
    assert "no model named" in preview({"model": "nope", "drawing": SEVEN})
    for asked in (None, "x", {"drawing": SEVEN}, {"model": 3, "drawing": SEVEN}):
        assert "without a model" in preview(asked)
    assert "&lt;b&gt;" in text.canvas_problem("<b>")  # messages are escaped, never markup


def test_a_strokes_preview_and_its_queued_event_share_one_reading(tab, monkeypatch):
    calls = []
    reconstruct = canvas.explore.reconstruct
    monkeypatch.setattr(canvas.explore, "reconstruct", lambda *args: calls.append(1) or reconstruct(*args))
    drawn = {**SEVEN, "strokes": [{**SEVEN["strokes"][0], "width": 13}]}  # read by no other test
    asked = {"model": CVAE, "drawing": drawn, "class_choice": None, "as_is": False}
    preview = canvas.preview_drawing(tab.explorer, asked)
    notes = tab.reconstruct_drawing(CVAE, drawn, AUTO, False)[2]
    assert len(calls) == 1 and "read as a" in notes and "read as a" in preview["html"]
    tab.reconstruct_drawing(CVAE, drawn, "7", False)  # another class: another reading
    tab.reconstruct_drawing(CVAE, drawn, AUTO, True)  # read as is: another
    assert len(calls) == 3


def test_recent_readings_keep_the_newest_and_forget_a_deleted_models():
    readings, reads = state.RecentResults(kept=2), []
    for key in [("a", 1), ("b", 1), ("a", 1), ("c", 1), ("b", 1)]:
        readings.get(key, lambda key=key: reads.append(key) or key)
    assert reads == [("a", 1), ("b", 1), ("c", 1), ("b", 1)]  # "b" was the oldest when "c" came
    readings.forget("c")
    readings.get(("c", 1), lambda: reads.append("again"))
    assert reads[-1] == "again"


def test_previews_beyond_the_free_slots_leave_the_drawing_to_the_queued_event(explorer, monkeypatch):
    monkeypatch.setattr(canvas, "PREVIEW_WAIT_S", 0.05)
    for _ in range(state.PREVIEW_SLOTS):
        explorer.preview_slots.acquire()
    try:
        assert canvas.preview_drawing(explorer, {"model": VANILLA, "drawing": SEVEN})["html"] == text.CANVAS_BUSY
    finally:
        for _ in range(state.PREVIEW_SLOTS):
            explorer.preview_slots.release()
    assert "<img" in canvas.preview_drawing(explorer, {"model": VANILLA, "drawing": SEVEN})["html"]


def test_compare_follows_the_canvas_only_while_open(tab):
    path = tab.drawing_file(SEVEN)
    assert tab.compare_if_open(VANILLA, path, False, False) == (gr.skip(), gr.skip())
    assert tab.compare_if_open(VANILLA, None, False, True) == (gr.skip(), gr.skip())
    gallery, note = tab.compare_if_open(VANILLA, path, False, True)
    assert [caption for _, caption in gallery] == ["input", *tab.explorer.catalog.same_data(VANILLA)]
    assert "counted in 4×4 blocks" in note
    blank = Image.new("L", (256, 256), 255)
    blank_path = output_file(_png(blank), ".png")
    kept, why = tab.compare_if_open(VANILLA, blank_path, False, True)
    assert kept == gr.skip() and why.startswith("_Not compared: no ink found")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- a new model ------------------------------------------------------------------------------------


def test_a_model_switch_refreshes_the_tab_with_the_new_datas_examples(tab):
    captions = [caption for _, caption in tab.explorer.example_gallery(DSPRITES)]
    assert captions[:3] == ["square · small", "square · mid", "square · large"] and len(captions) == 9
    updates = tab.refresh(DSPRITES, refresh_values(tab, upload=None, shown_data=None))
    assert set(updates) <= set(tab.refreshed)
    path, shown, recon = updates[tab.upload], updates[tab.converted], updates[tab.recon]
    assert "dsprites-test" in path and updates[tab.shown_data] == "dsprites" and updates[tab.notes] == ""
    assert updates[tab.compared] is None and not updates[tab.compare_box].visible
    assert updates[tab.comparing] is False  # Compare, hidden, stops following the canvas
    assert shown.size == recon.size
    assert [caption for _, caption in updates[tab.gallery]] == captions
    again = tab.refresh(CVAE, refresh_values(tab, upload=path, shown_data="dsprites"))  # the data changed
    assert "digits-test" in again[tab.upload]  # a digit, not the sprite
    assert again[tab.notes].startswith("read as a")  # the conditional VAE says what it read the example as


def test_a_model_switch_within_the_data_reconstructs_the_same_upload(tab, uploads):
    updates = tab.refresh(VANILLA, refresh_values(tab, upload=uploads["drawn.png"], shown_data="digits"))
    # the visitor's own image and the examples stay as the page shows them (nothing is sent again)
    assert updates[tab.upload] == gr.skip() and updates[tab.gallery] == gr.skip()
    assert noted(updates[tab.notes].split(" · "), "dark on light")
