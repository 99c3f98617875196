"""The app's callbacks (callbacks.Explorer), called directly on the shipped checkpoints, and the
app's start-up (app.py: the examples, the page's endpoints, the command line)."""

import io
import math
import warnings

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from support import CHECKPOINTS, CVAE, NAMES, NOT_AN_IMAGE, VANILLA, noted, says

import app
import callbacks
import page_text
from train.live import TrainingService

AUTO = app.AUTO_CLASS


def test_write_examples_gives_one_png_per_class(uploads):
    digits = [path for key, path in uploads.items() if key.startswith("digit")]
    assert len(digits) == 10  # every digit, 0 to 9
    for path in digits:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] == image.size[1] >= 32


def grid_size(count: int, nrow: int, side: int = 32) -> tuple[int, int]:
    """The size of app.display's picture of `count` images `side` pixels wide, `nrow` a row."""
    if count == 1:
        return (side * max(1, 192 // side),) * 2
    scale = max(1, 64 // side)
    columns, rows = min(nrow, count), math.ceil(count / min(nrow, count))
    return ((side + 2) * columns + 2) * scale, ((side + 2) * rows + 2) * scale


def user_error(call, *args, **kwargs) -> str:
    with pytest.raises(gr.Error) as caught:
        call(*args, **kwargs)
    return caught.value.message


def quietly(call, *args, **kwargs):
    """Call a callback, ignoring the gr.Warning toasts (outside a page they are Python warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return call(*args, **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_reconstruct_and_compare(explorer, uploads, name):
    model = explorer.catalog.model(name)
    shown, recon, notes = explorer.reconstruct(name, uploads["digit3"])
    assert isinstance(shown, Image.Image) and isinstance(recon, Image.Image)
    # A test image needs no reading; the conditional VAE on "auto" says which class it read.
    assert notes.startswith("read as a 3, p = ") if model.is_conditional else notes == ""
    assert shown.size == recon.size == grid_size(1, 1, model.img_size)
    gallery, note = explorer.compare(name, uploads["digit3"])
    assert note == ""
    assert [caption for _, caption in gallery] == ["input", *explorer.catalog.same_data(name)]
    assert all(picture.size == shown.size for picture, _ in gallery)


def test_reconstruct_with_a_chosen_class(explorer, uploads):
    images = [quietly(explorer.reconstruct, CVAE, uploads["digit1"], choice)[1] for choice in ("1", 7, 7.0, AUTO)]
    assert np.array_equal(np.asarray(images[1]), np.asarray(images[2]))  # 7 and 7.0 are one class
    assert all(image.size == (192, 192) for image in images)


def announced(call, *args) -> list[str]:
    """The conversion notes a reconstruction lists under the model's view (no toasts: none is raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notes = call(*args)[2]
    assert not [w for w in caught if issubclass(w.category, UserWarning)]
    return notes.split(" · ") if notes else []


def test_upload_conversions_are_listed_once_under_the_models_view(explorer, uploads):
    drawn = announced(explorer.reconstruct, VANILLA, uploads["drawn.png"])
    assert noted(drawn, "ink separated", "dark on light")
    colour = announced(explorer.reconstruct, VANILLA, uploads["colour.jpg"], AUTO, True)  # as is
    assert noted(colour, "greyscale") and noted(colour, "read as it is")
    assert "no ink found" in user_error(explorer.reconstruct, VANILLA, uploads["colour.jpg"])  # noise, read
    assert announced(explorer.reconstruct, VANILLA, uploads["digit2"]) == []  # a test image needs no conversion


@pytest.mark.parametrize(
    ("upload", "problem"),
    [(None, ("no image",)), ("", ("no image",)), ("page.png", NOT_AN_IMAGE), ("empty.png", ("empty",))],
)
def test_bad_uploads_are_user_errors(explorer, uploads, upload, problem):
    path = uploads.get(upload, upload)
    assert says(user_error(explorer.reconstruct, VANILLA, path), problem)
    assert says(user_error(explorer.compare, CVAE, path), problem)
    assert says(user_error(explorer.interpolate, CVAE, "images", uploads["digit1"], path), problem)
    assert says(user_error(explorer.set_start, VANILLA, "uploaded image", 0, path, AUTO), problem)
    if path:  # without an upload the map is simply drawn without the star
        assert says(user_error(explorer.latent_map, VANILLA, "PCA", "label", path), problem)


@pytest.mark.parametrize("name", NAMES)
def test_sample(explorer, name):
    picture = explorer.sample(name, 16, 3, 1.0)
    assert picture.size == grid_size(16, 4)
    assert explorer.sample(name, 16, 3, 1.0).tobytes() == picture.tobytes()
    assert explorer.sample(name, 16, 4, 1.0).tobytes() != picture.tobytes()
    assert explorer.sample(name, 1, 0, 0.5).size == grid_size(1, 1)
    assert "num_samples must be between" in user_error(explorer.sample, name, 0, 0, 1.0)


def test_generate_and_class_style(explorer):
    assert explorer.generate(CVAE, "3", 16, 0, 1.0).size == grid_size(16, 4)
    assert explorer.generate(CVAE, 3, 6, 0, 1.0).size == grid_size(6, 3)
    classes = len(explorer.catalog.info(CVAE).class_names)
    assert explorer.class_style(CVAE, 4, 0, 1.0).size == grid_size(4 * classes, 4)


@pytest.mark.parametrize(
    ("name", "choice", "problem"),
    [
        (CVAE, "eleven", "unknown class 'eleven'"),
        (CVAE, "12", "class index 12 is out of range"),
        (CVAE, "-1", "class index -1 is out of range"),
        (CVAE, AUTO, "pick a class to generate"),
        (CVAE, None, "pick a class to generate"),
        (VANILLA, "3", "not a conditional VAE"),
        ("no-such-model", "3", "no model named 'no-such-model'"),
    ],
)
def test_generate_refusals(explorer, name, choice, problem):
    message = user_error(explorer.generate, name, choice, 4, 0, 1.0)
    assert problem in message
    if problem.startswith("unknown class"):
        assert "['0', '1'" in message  # names the model's classes


def test_class_style_needs_a_conditional_model(explorer):
    assert "not a conditional VAE; pick a cvae" in user_error(explorer.class_style, VANILLA, 4, 0, 1.0)


def test_unknown_class_for_reconstruct(explorer, uploads):
    assert "unknown class 'eleven'" in user_error(explorer.reconstruct, CVAE, uploads["digit1"], "eleven")


@pytest.mark.parametrize("name", NAMES)
def test_decode_traverse_and_sliders(explorer, name):
    dim = explorer.catalog.info(name).latent_dim
    decoded = explorer.decode(name, [0.5] * dim, AUTO)
    assert decoded.size == (192, 192)
    for steps in (5, 3):  # the grid, with a margin of row labels on the left and headings above
        width, height = explorer.traverse(name, None, steps, 2.0).size
        assert width > grid_size(dim * steps, steps)[0] + 60 and height > grid_size(dim * steps, steps)[1]
    order = explorer.catalog.info(name).latent_order
    assert sorted(order) == list(range(dim))
    values = [0.3 * (i + 1) for i in range(min(dim, app.MAX_SLIDERS))]
    start_label = 0 if name == CVAE else None  # what set_start gives for "zero"
    from_sliders, slider_code, line = explorer.decode_sliders(name, [], start_label, AUTO, *values)
    code = [0.0] * dim
    for position, slot in enumerate(order[: len(values)]):
        code[slot] = values[position]
    assert from_sliders.tobytes() == explorer.decode(name, code, AUTO).tobytes()
    assert slider_code == pytest.approx(code) and line.startswith("Current code: `z = [")


@pytest.mark.parametrize(
    "name",
    [
        CVAE,
        VANILLA,
    ],
)
def test_sliders_before_any_start_point_decode_like_the_decode_endpoint(explorer, name):
    """After a model change the page resets the start to ([], None); a slider moved then must still decode,
    as /decode does with class 'auto' (label 0 for the conditional VAE)."""
    dim = explorer.catalog.info(name).latent_dim
    values = [0.2] * min(dim, app.MAX_SLIDERS)
    assert explorer.decode_sliders(name, [], None, AUTO, *values)[0].tobytes() == (
        explorer.decode(name, [0.2] * dim, AUTO).tobytes()
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
def test_decode_refuses_bad_codes(explorer, code, problem):
    assert problem in user_error(explorer.decode, VANILLA, code, AUTO)


@pytest.mark.parametrize(
    "length",
    [
        3,
        30,
    ],
    ids=["short", "long"],
)
def test_traverse_refuses_a_start_code_of_the_wrong_length(explorer, length):
    assert "latent dimensions" in user_error(explorer.traverse, VANILLA, [0.0] * length, 5, 2.0)


def test_traverse_refuses_a_nan_start(explorer):
    assert "finite" in user_error(explorer.traverse, VANILLA, [float("nan")] * 8, 5, 2.0)


@pytest.mark.parametrize("name", NAMES)
def test_latent_map(explorer, uploads, name):
    figure, text = explorer.latent_map(name, "PCA", "label", None)
    assert isinstance(figure, go.Figure) and "Explained variance" in text
    assert "your image" not in [trace.name for trace in figure.data]
    assert set(trace.name for trace in figure.data) <= set(explorer.catalog.info(name).class_names)
    for method, trace_type in [("PCA", "scattergl"), ("PCA 3-D", "scatter3d"), ("t-SNE", "scattergl")]:
        figure, text = quietly(explorer.latent_map, name, method, "label", uploads["digit2"])
        assert figure.data[-1].name == "your image" and figure.data[-1].type == trace_type
        assert all(trace.type == trace_type for trace in figure.data)
        assert method in text


def test_latent_map_refusals(explorer):
    assert "map method must be one of" in user_error(explorer.latent_map, VANILLA, "UMAP", "label", None)
    assert "cannot colour by 'shape'" in user_error(explorer.latent_map, VANILLA, "PCA", "shape", None)


def test_recompute_map(explorer):
    figure, text = explorer.recompute_map(VANILLA, "PCA 3-D", "label", None, progress=lambda *a, **k: None)
    assert isinstance(figure, go.Figure) and figure.data[0].type == "scatter3d"
    assert "Explained variance" in text and text.startswith("Recomputed PCA 3-D of ")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolate(explorer, uploads, name, mode):
    row, notes = explorer.interpolate(name, "images", uploads["digit1"], uploads["digit5"], None, None, 6, mode)
    assert row.size == grid_size(6, 6) and notes == ""
    between_classes, _ = explorer.interpolate(name, "classes", None, None, "1", "7", 4, mode)
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
def test_interpolate_refusals(explorer, uploads, args, problem):
    args = tuple(uploads["digit1"] if value == "A" else value for value in args)
    assert problem in quietly(user_error, explorer.interpolate, CVAE, *args)


@pytest.mark.parametrize("name", NAMES)
def test_set_start(explorer, uploads, name):
    dim = explorer.catalog.info(name).latent_dim
    conditional = explorer.catalog.info(name).model_type == "cvae"
    for source, index, path in [("zero", 0, None), ("test image", 5, None), ("uploaded image", 0, uploads["digit4"])]:
        code, line, label, image, *sliders = explorer.set_start(name, source, index, path, AUTO)
        assert line == "Current code: `z = [" + ", ".join(f"{v:.2f}" for v in code) + "]`"
        assert len(code) == dim and all(math.isfinite(v) for v in code)
        assert (label is not None) == conditional
        assert image.size == (192, 192)
        assert len(sliders) == app.MAX_SLIDERS
        assert sum(1 for s in sliders if s.visible) == min(dim, app.MAX_SLIDERS)
    assert code != [0.0] * dim
    assert "test image index must be in [0, " in user_error(explorer.set_start, name, "test image", 10**6, None, AUTO)
    assert "no image" in user_error(explorer.set_start, name, "uploaded image", 0, None, AUTO)


@pytest.mark.parametrize("name", NAMES)
def test_model_card_and_page_updates(explorer, name):
    text, information, mutual_information, metrics, configs = explorer.model_card(name)
    assert text.startswith(f"### {explorer.catalog.info(name).summary()}")
    assert '"model_type"' in configs and "| metric | value | what it means |" in metrics
    assert information is None or isinstance(information, go.Figure)
    assert mutual_information is None and not explorer.factor_panels(name)[1].visible  # digits: no factors
    dropdown = explorer.class_dropdown(name)
    assert dropdown.choices[0][0] == AUTO and dropdown.visible == (name == CVAE)
    assert [choice[0] for choice in explorer.reset_map(name)[0].choices] == ["label"]
    labels = callbacks.slider_labels(explorer.catalog.info(name))
    assert len(labels) == explorer.catalog.info(name).latent_dim and all(label.startswith("z") for label in labels)


def test_build_app_names_every_endpoint(explorer, uploads, tmp_path):
    demo = app.build_app(explorer, TrainingService(tmp_path))
    names = {getattr(fn, "api_name", None) for fn in demo.fns.values()}
    expected = {"reconstruct", "compare", "sample", "generate", "class_style", "set_start", "decode", "traverse"}
    assert expected | {"latent_map", "recompute_map", "interpolate", "model_card", "scoreboard"} <= names
    cartography = {"decode_point", "manifold", "arithmetic", "palette", "animate_traversal", "animate_interpolation"}
    assert cartography | {"reconstruct_drawing"} <= names
    assert {"train", "train_preset", "train_stop", "train_resume", "train_status", "train_download"} <= names
    tabs = next(block for block in demo.blocks.values() if isinstance(block, gr.Tabs))
    assert [tab.id for tab in tabs.children] == list(callbacks.TAB_IDS)  # what a shared link may name


def test_parse_args_and_hub_repos(monkeypatch):
    args = app.parse_args([])
    assert (args.host, args.port, args.checkpoints, args.hub, args.hub_timeout) == (
        "127.0.0.1",
        7860,
        "checkpoints",
        [],
        5.0,
    )
    args = app.parse_args(["--hub", "a/b", "--hub", "c/d", "--hub-timeout", "2", "--port", "9"])
    assert (args.hub, args.hub_timeout, args.port) == (["a/b", "c/d"], 2.0, 9)
    monkeypatch.setenv(app.HUB_ENV, " c/d, e/f ,, ")
    assert app.hub_repos(["a/b", "c/d"]) == ["a/b", "c/d", "e/f"]
    monkeypatch.delenv(app.HUB_ENV)
    assert app.hub_repos([]) == []


def test_create_app_without_models_exits_with_a_message(tmp_path):
    with pytest.raises(SystemExit, match="no models"):
        app.create_app(tmp_path / "nothing", hub=[])


DSPRITES_MODELS = sorted(p.name for p in CHECKPOINTS.glob("*-dsprites") if (p / "metrics.json").is_file())


@pytest.mark.parametrize("name", DSPRITES_MODELS)
def test_dsprites_sliders_name_the_factor_each_latent_moves_most(explorer, name):
    info = explorer.catalog.info(name)
    metrics = info.metrics
    shares = np.array(metrics["mutual_information"]) / np.array(metrics["factor_entropy"])
    for dim, label in zip(info.latent_order, callbacks.slider_labels(info), strict=True):
        assert label.startswith(f"z{dim} ")
        if "inactive" not in label:  # the top factor first; a second one when the top holds under half
            assert f"moves {metrics['factor_names'][shares[dim].argmax()]}" in label
    heatmap = explorer.model_card(name)[2]
    assert isinstance(heatmap, go.Figure) and explorer.factor_panels(name)[1].visible
    assert [str(x) for x in heatmap.data[0].x] == metrics["factor_names"]
    assert [choice[0] for choice in explorer.reset_map(name)[0].choices] == ["label", *metrics["factor_names"]]


# --- shared links and the map's helpers -----------------------------------------------------------


def test_a_shared_link_is_checked_and_falls_back_with_notes():
    names = [VANILLA, CVAE]
    assert callbacks.shared_state({"model": VANILLA, "tab": "traverse", "code": "0.5,-1,2e-3"}, names, CVAE) == (
        VANILLA,
        "traverse",
        [0.5, -1.0, 0.002],
        [],
    )
    model, tab, code, notes = callbacks.shared_state({"model": "nope", "tab": "x", "code": "1,a"}, names, CVAE)
    assert (model, tab, code) == (CVAE, None, None)
    assert noted(notes, "'nope'", "not on this server") and noted(notes, "tab 'x'") and noted(notes, "comma-separated")
    assert callbacks.shared_state({}, names, CVAE) == (CVAE, None, None, [])
    _, _, code, notes = callbacks.shared_state({"code": "0.5,nan"}, names, CVAE)  # not finite: a note, no error
    assert code is None and noted(notes, "finite numbers")


def test_a_shared_code_of_the_wrong_length_is_said_and_a_good_one_starts_the_traverse(explorer):
    dim = explorer.catalog.info(VANILLA).latent_dim
    *_, pending, note = explorer.apply_shared_code(VANILLA, {"model": VANILLA, "code": [0.1] * (dim + 1)}, AUTO)
    assert pending is None and f"has {dim + 1} numbers" in note
    code, line, _, image, *_ = explorer.apply_shared_code(VANILLA, {"model": VANILLA, "code": [0.25] * dim}, AUTO)
    assert code == pytest.approx([0.25] * dim) and "0.25" in line and isinstance(image, Image.Image)


def test_a_latent_is_named_by_its_slider_label_or_its_name(explorer):
    info = explorer.catalog.info(VANILLA)
    label = callbacks.slider_labels(info)[0]
    assert callbacks.latent_index(info, label) == callbacks.latent_index(info, label.split(" · ")[0])
    assert callbacks.latent_index(info, label) == info.latent_order[0]
    assert "pick the latent" in user_error(explorer.animate_traversal, VANILLA, [], "z99")


def test_the_plane_base_is_the_data_mean_or_the_traverse_start(explorer):
    inverse = explorer.map_inverse(VANILLA, "PCA")
    info = explorer.catalog.info(VANILLA)
    assert np.allclose(callbacks.plane_base(inverse, "data mean", None, info), inverse.codes.mean(0), atol=1e-5)
    start = [0.5] * info.latent_dim
    assert np.allclose(callbacks.plane_base(inverse, "Traverse start", start, info), start)
    with pytest.raises(ValueError, match="off-plane components"):
        callbacks.plane_base(inverse, "somewhere", None, info)


def test_a_click_on_a_recomputed_map_decodes_on_its_own_points(explorer):
    explorer.recompute_map(VANILLA, "t-SNE", "label", None, progress=lambda *args, **kwargs: None)
    fresh = explorer.map_inverse(VANILLA, "t-SNE", recomputed=True)
    assert fresh is not explorer.map_inverse(VANILLA, "t-SNE")  # Recompute's map, not the cached one
    x, y = fresh.coords[5]
    _, code, *_ = explorer.decode_point(VANILLA, "t-SNE", x, y, recomputed=True)
    assert np.allclose(code, fresh.codes[5])  # a click on a point of the map shown is that point's code
    _, cached, *_ = explorer.decode_point(VANILLA, "t-SNE", x, y)
    assert not np.allclose(cached, code)


# --- the canvas: its strokes drawn on paper, read like a photo -------------------------------------

SEVEN = {"side": 256, "strokes": [{"width": 14, "points": [[70, 60], [180, 60], [110, 200]]}]}


def test_a_drawing_is_drawn_on_white_paper_where_its_strokes_are():
    paper = callbacks.drawing_on_paper(SEVEN)
    pixels = np.asarray(paper)
    assert paper.size == (256, 256) and paper.mode == "L"
    assert pixels[60, 125] == 0 and pixels[60, 66] == 0  # on the bar, and in its round end beyond the first point
    across = pixels[40:80, 125]  # a column across the bar: 14 px of ink, no more
    assert (across == 0).sum() in (14, 15) and across[:10].min() == 255 and across[-10:].min() == 255
    assert pixels[200:, :60].min() == 255  # paper away from the strokes
    assert callbacks.drawing_on_paper({"side": 256, "strokes": []}) is None
    assert callbacks.drawing_on_paper(None) is None


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
def test_a_drawing_that_is_not_strokes_is_refused_by_name(explorer, drawing, problem):
    assert problem in user_error(explorer.reconstruct_drawing, VANILLA, drawing)
    assert explorer.drawing_file(drawing) is None


def test_a_drawing_is_reconstructed_and_stands_as_the_upload(explorer):
    view, recon, notes = explorer.reconstruct_drawing(VANILLA, SEVEN)
    assert isinstance(view, Image.Image) and isinstance(recon, Image.Image)
    assert "counted in 4×4 blocks" in notes
    assert explorer.reconstruct_drawing(VANILLA, {"side": 256, "strokes": []}) == (
        None,
        None,
        "_The canvas is empty: draw on it._",
    )
    speck = {"side": 256, "strokes": [{"width": 4, "points": [[128, 128]]}]}
    assert "speck" in user_error(explorer.reconstruct_drawing, VANILLA, speck)
    path = explorer.drawing_file(SEVEN)
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(callbacks.drawing_on_paper(SEVEN)))


def test_the_canvas_preview_shows_the_reading_or_says_why_not(explorer):
    shown = explorer.preview_drawing({"model": CVAE, "drawing": SEVEN, "class_choice": None, "as_is": False})["html"]
    assert shown.count("<img src='data:image/png;base64,") == 2 and "read as a" in shown
    plain = explorer.preview_drawing({"model": VANILLA, "drawing": SEVEN})["html"]
    assert plain.count("<img") == 2 and "read as" not in plain
    empty = {"model": VANILLA, "drawing": {"side": 256, "strokes": []}}
    assert explorer.preview_drawing(empty)["html"] == page_text.EMPTY_CANVAS
    speck = {"side": 256, "strokes": [{"width": 4, "points": [[128, 128]]}]}
    assert "speck" in explorer.preview_drawing({"model": VANILLA, "drawing": speck})["html"]
    assert "no model named" in explorer.preview_drawing({"model": "nope", "drawing": SEVEN})["html"]
    for asked in (None, "x", {"drawing": SEVEN}, {"model": 3, "drawing": SEVEN}):
        assert "without a model" in explorer.preview_drawing(asked)["html"]
    assert "&lt;b&gt;" in page_text.canvas_problem("<b>")  # messages are escaped, never markup


def test_a_strokes_preview_and_its_queued_event_share_one_reading(explorer, monkeypatch):
    calls = []
    reconstruct = callbacks.explore.reconstruct
    monkeypatch.setattr(callbacks.explore, "reconstruct", lambda *args: calls.append(1) or reconstruct(*args))
    drawn = {**SEVEN, "strokes": [{**SEVEN["strokes"][0], "width": 13}]}  # read by no other test
    preview = explorer.preview_drawing({"model": CVAE, "drawing": drawn, "class_choice": None, "as_is": False})
    notes = explorer.reconstruct_drawing(CVAE, drawn, callbacks.AUTO_CLASS, False)[2]
    assert len(calls) == 1 and "read as a" in notes and "read as a" in preview["html"]
    explorer.reconstruct_drawing(CVAE, drawn, "7", False)  # another class: another reading
    explorer.reconstruct_drawing(CVAE, drawn, callbacks.AUTO_CLASS, True)  # read as is: another
    assert len(calls) == 3


def test_recent_readings_keep_the_newest_and_forget_a_deleted_models():
    readings, reads = callbacks.RecentReadings(kept=2), []
    for key in [("a", 1), ("b", 1), ("a", 1), ("c", 1), ("b", 1)]:
        readings.get(key, lambda key=key: reads.append(key) or key)
    assert reads == [("a", 1), ("b", 1), ("c", 1), ("b", 1)]  # "b" was the oldest when "c" came
    readings.forget("c")
    readings.get(("c", 1), lambda: reads.append("again"))
    assert reads[-1] == "again"


def test_previews_beyond_the_free_slots_leave_the_drawing_to_the_queued_event(explorer, monkeypatch):
    monkeypatch.setattr(callbacks, "PREVIEW_WAIT_S", 0.05)
    for _ in range(callbacks.PREVIEW_SLOTS):
        explorer.preview_slots.acquire()
    try:
        assert explorer.preview_drawing({"model": VANILLA, "drawing": SEVEN})["html"] == page_text.CANVAS_BUSY
    finally:
        for _ in range(callbacks.PREVIEW_SLOTS):
            explorer.preview_slots.release()
    assert "<img" in explorer.preview_drawing({"model": VANILLA, "drawing": SEVEN})["html"]


def test_compare_follows_the_canvas_only_while_open(explorer):
    path = explorer.drawing_file(SEVEN)
    assert explorer.compare_if_open(VANILLA, path, False, False) == (gr.skip(), gr.skip())
    assert explorer.compare_if_open(VANILLA, None, False, True) == (gr.skip(), gr.skip())
    gallery, note = explorer.compare_if_open(VANILLA, path, False, True)
    assert [caption for _, caption in gallery] == ["input", *explorer.catalog.same_data(VANILLA)]
    assert "counted in 4×4 blocks" in note
    blank = Image.new("L", (256, 256), 255)
    blank_path = callbacks.output_file(_png(blank), ".png")
    kept, why = explorer.compare_if_open(VANILLA, blank_path, False, True)
    assert kept == gr.skip() and why.startswith("_Not compared: no ink found")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
