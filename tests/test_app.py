"""End to end: the real app (`python app.py`) in a child process, driven by gradio_client over HTTP.

One module-scoped fixture starts two apps at once: the plain one on checkpoints/, and one also
asked for a Hub model while HF_ENDPOINT points at a loopback server that accepts connections and
never answers. Starting them together means they share the machine's load, so their start-up
times can be compared. Only cvae-digits and vanilla_vae-digits are assumed to exist.
"""

import base64
import io
import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from hub_stand_in import SilentServer, hub_env
from PIL import Image, ImageDraw

from benchmarks import photo_digits
from benchmarks.server import AppServer, wait_for
from vae_models.data import read_into_domain
from vae_models.images import read_image

pytestmark = pytest.mark.slow

CVAE, VANILLA = "cvae-digits", "vanilla_vae-digits"
AUTO = "auto (best fit)"
START_TIMEOUT = 90
CALL_TIMEOUT = 60
HUB_TIMEOUT = 2
MISSING_REPO = "owner/missing"
ENDPOINTS = {
    "/reconstruct",
    "/sample",
    "/generate",
    "/traverse",
    "/decode",
    "/latent_map",
    "/interpolate",
    "/class_style",
    "/compare",
    "/set_start",
    "/model_card",
    "/recompute_map",
    "/scoreboard",
    "/decode_point",
    "/manifold",
    "/arithmetic",
    "/palette",
    "/animate_traversal",
    "/animate_interpolation",
}


class Apps:
    def __init__(self, plain: AppServer, hub: AppServer, silent: SilentServer) -> None:
        self.plain, self.hub, self.silent = plain, hub, silent


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """Each app gets its own log, temporary folder and gradio cache (AppServer's workdir)."""
    root = tmp_path_factory.mktemp("apps")
    with SilentServer() as silent:
        plain_env = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
        plain = AppServer(workdir=root / "plain", base_env=without_hub_models(plain_env | {"HF_HUB_OFFLINE": "1"}))
        hub = AppServer(
            *("--hub", MISSING_REPO, "--hub-timeout", str(HUB_TIMEOUT)),
            workdir=root / "hub",
            base_env=without_hub_models(hub_env(silent.endpoint, root / "hub-cache")),
        )
        try:
            plain.start()
            hub.start()
            wait_for(plain, hub, timeout=START_TIMEOUT)  # polled together: each start-up time is its own
            yield Apps(plain, hub, silent)
        finally:
            plain.stop()
            hub.stop()


def without_hub_models(env: dict[str, str]) -> dict[str, str]:
    """No Hub models from the environment: only those the test asks for with --hub."""
    return {key: value for key, value in env.items() if key != "VAE_EXPLORER_HUB_MODELS"}


def new_client(url: str, downloads: Path) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=str(downloads))


@pytest.fixture(scope="module")
def client(apps, tmp_path_factory) -> Client:
    return new_client(apps.plain.url, tmp_path_factory.mktemp("downloads"))


def call(client: Client, *args, api_name: str):
    """One prediction, bounded in time (predict itself waits forever)."""
    return client.submit(*args, api_name=api_name).result(timeout=CALL_TIMEOUT)


def opened(path: str) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def assert_picture(path: str, min_side: int = 32) -> Image.Image:
    image = opened(path)
    assert image.width >= min_side and image.height >= min_side
    low, high = image.convert("L").getextrema()
    assert high > low  # not a blank canvas
    return image


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Uploads: digits drawn light on dark as the models saw them, and hostile files."""
    folder = tmp_path_factory.mktemp("files")
    digit_one = Image.new("L", (32, 32), 0)
    ImageDraw.Draw(digit_one).line([(16, 5), (16, 27)], fill=255, width=3)
    digit_zero = Image.new("L", (32, 32), 0)
    ImageDraw.Draw(digit_zero).ellipse([8, 5, 24, 27], outline=255, width=3)
    digit_one.save(folder / "one.png")
    digit_zero.save(folder / "zero.png")
    buffer = io.BytesIO()
    digit_zero.save(buffer, "PNG")
    (folder / "truncated.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (folder / "page.png").write_text("<!DOCTYPE html><html><body>not an image</body></html>")
    (folder / "empty.png").write_bytes(b"")
    Image.new("1", (10_000, 10_000)).save(folder / "bomb.png")  # ~12 kB, 100 megapixels
    return {path.stem: str(path) for path in folder.iterdir()}


# --- the page and its endpoints -----------------------------------------------------------------


def test_the_named_endpoints_exist(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert named >= ENDPOINTS, ENDPOINTS - named


def test_the_page_lists_the_local_models(apps):
    with urllib.request.urlopen(apps.plain.url + "config", timeout=10) as response:
        config = response.read().decode()
    assert CVAE in config and VANILLA in config
    assert "could not be reached" not in config


@pytest.mark.parametrize("name", [CVAE, VANILLA])
def test_reconstruct(client, files, name):
    shown, recon, notes = call(client, name, handle_file(files["one"]), AUTO, api_name="/reconstruct")
    assert assert_picture(shown).size == assert_picture(recon).size == (192, 192)
    # A 32×32 grey light-on-dark digit is already in the frame: nothing to read. The conditional VAE
    # on "auto" says which class it read.
    assert notes.startswith("read as a ") if name == CVAE else notes == ""
    photo = Image.new("L", (300, 200), 235)  # a dark 1 on light paper, small in the photo
    ImageDraw.Draw(photo).line([(150, 60), (150, 140)], fill=30, width=5)
    path = Path(files["one"]).with_name("photo.png")
    photo.save(path)
    read, _, notes = call(client, name, handle_file(str(path)), AUTO, False, api_name="/reconstruct")
    assert "cropped to the ink" in notes
    as_is, _, notes = call(client, name, handle_file(str(path)), AUTO, True, api_name="/reconstruct")
    assert "read as it is" in notes and opened(read).tobytes() != opened(as_is).tobytes()


def test_the_photo_benchmark_s_uploads_read_as_in_process(client, tmp_path):
    """benchmarks.photo_digits judges what /reconstruct answers: the same view as reading in-process,
    and on "auto" the class the page's line names."""
    photos = photo_digits.make_photos(3, seed=0)
    answers = photo_digits.upload_all(client, CVAE, photos, tmp_path, reads_class=True)
    for photo, view in zip(photos, answers.views, strict=True):
        expected, _ = read_into_domain(read_image(photo.jpeg)[0], "digits", 1, 32)
        assert torch.allclose(view, expected[0], atol=1 / 255 + 1e-6)
    assert answers.reconstructions.shape == (3, 1, 32, 32) and answers.reconstructions.amax() > 0.5
    assert all(isinstance(c, int) and 0 <= c <= 9 for c in answers.classes)


def test_sample_is_deterministic_per_seed(client):
    first = opened(call(client, VANILLA, 16, 5, 1.0, api_name="/sample"))
    again = opened(call(client, VANILLA, 16, 5, 1.0, api_name="/sample"))
    other = opened(call(client, VANILLA, 16, 6, 1.0, api_name="/sample"))
    assert first.size == again.size == other.size and first.width > 100
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_generate_and_class_style(client):
    assert_picture(call(client, CVAE, "3", 16, 0, 1.0, api_name="/generate"), min_side=100)
    assert_picture(call(client, CVAE, 4, 0, 1.0, api_name="/class_style"), min_side=100)
    with pytest.raises(AppError, match="not a conditional VAE"):
        call(client, VANILLA, "3", 16, 0, 1.0, api_name="/generate")
    with pytest.raises(AppError, match="unknown class 'eleven'"):
        call(client, CVAE, "eleven", 16, 0, 1.0, api_name="/generate")


def latent_dim(client: Client, name: str) -> int:
    """From the app itself: the length of the zero start code."""
    code, line, *_ = call(client, name, "zero", 0, None, AUTO, api_name="/set_start")
    assert code == [0.0] * len(code) and line.startswith("Current code: `z = [0.00,")
    return len(code)


@pytest.mark.parametrize("name", [CVAE, VANILLA])
def test_traverse_decode_and_set_start(client, files, name):
    dim = latent_dim(client, name)
    grid = assert_picture(call(client, name, [], 5, 2.0, AUTO, api_name="/traverse"), min_side=100)
    assert grid.height > dim * 64  # one row per latent, each 64 px high, and a band of column headings
    assert assert_picture(call(client, name, [0.5] * dim, AUTO, api_name="/decode")).size == (192, 192)
    upload = handle_file(files["zero"])
    code, _, decoded, *sliders = call(client, name, "uploaded image", 0, upload, AUTO, api_name="/set_start")
    assert len(code) == dim and all(isinstance(v, float) for v in code) and code != [0.0] * dim
    assert assert_picture(decoded).size == (192, 192)
    assert len(sliders) == 16
    test_code, *_ = call(client, name, "test image", 3, None, AUTO, api_name="/set_start")
    assert len(test_code) == dim
    again = call(client, name, code, 5, 2.0, AUTO, api_name="/traverse")
    assert opened(again).size == grid.size


def test_bad_codes_are_named(client):
    with pytest.raises(AppError, match="latent dimensions; got a code of 30"):
        call(client, VANILLA, [0.0] * 30, AUTO, api_name="/decode")
    with pytest.raises(AppError, match="must be a list of numbers"):
        call(client, VANILLA, "zero", AUTO, api_name="/decode")
    with pytest.raises(AppError, match="one flat list"):
        call(client, VANILLA, [[0.0] * latent_dim(client, VANILLA)], AUTO, api_name="/decode")


def test_a_short_start_code_for_traverse_is_named(client):
    with pytest.raises(AppError, match="latent dimensions"):
        call(client, VANILLA, [0.0] * 3, 5, 2.0, AUTO, api_name="/traverse")


def points(values) -> int:
    """How many values a plotly array holds, plain or in plotly's binary encoding."""
    if isinstance(values, dict):
        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)


def plot_of(result) -> dict:
    figure, text = result
    assert figure["type"] == "plotly"
    return json.loads(figure["plot"]) | {"text": text}


def test_latent_map_is_a_plotly_figure_with_the_upload(client, files):
    plain = plot_of(call(client, VANILLA, "PCA", "label", None, api_name="/latent_map"))
    assert plain["data"] and "your image" not in [trace.get("name") for trace in plain["data"]]
    assert "Explained variance" in plain["text"]
    with_upload = plot_of(call(client, VANILLA, "PCA", "label", handle_file(files["one"]), api_name="/latent_map"))
    star = with_upload["data"][-1]
    assert star["name"] == "your image" and points(star["x"]) == points(star["y"]) == 1
    assert sum(points(trace["x"]) for trace in with_upload["data"][:-1]) == sum(
        points(trace["x"]) for trace in plain["data"]
    )
    three_d = plot_of(call(client, CVAE, "PCA 3-D", "label", handle_file(files["zero"]), api_name="/latent_map"))
    assert {trace["type"] for trace in three_d["data"]} == {"scatter3d"}
    recomputed = plot_of(call(client, VANILLA, "PCA", "label", None, api_name="/recompute_map"))
    assert recomputed["data"]


def test_interpolate_compare_and_model_card(client, files):
    one, zero = handle_file(files["one"]), handle_file(files["zero"])
    row, notes = call(client, VANILLA, "images", one, zero, None, None, 6, "spherical", api_name="/interpolate")
    assert opened(row).width > 5 * opened(row).height and notes == ""
    classes, _ = call(client, CVAE, "classes", None, None, "1", "7", 4, "linear", api_name="/interpolate")
    assert_picture(classes)
    with pytest.raises(AppError, match="pick a class from"):
        call(client, CVAE, "classes", None, None, "1", "seventy", 4, "linear", api_name="/interpolate")
    gallery, note = call(client, CVAE, one, api_name="/compare")
    assert [item["caption"] for item in gallery][:2] == ["input", CVAE] and VANILLA in str(gallery)
    assert note == ""
    for item in gallery:
        assert_picture(item["image"])
    heading, information, mutual_information, metrics, configs = call(client, CVAE, api_name="/model_card")
    assert heading.startswith(f"### {CVAE} · cvae · digits")
    assert information is None or information["type"] == "plotly"
    assert mutual_information is None  # digits have no labelled factors
    assert "| metric | value | what it means |" in metrics and '"model_type": "cvae"' in configs


def test_the_scoreboard_endpoint_on_data_without_factors(client):
    table, chart, note, provenance = call(client, VANILLA, api_name="/scoreboard")
    assert not (table or {}).get("data") and chart is None and "no labelled factors" in note and provenance == ""


def test_files_in_the_temp_folder_are_not_served(apps):
    secret = apps.plain.tmp / "someone-elses-file.txt"
    secret.write_text("not for the page")
    url = f"{apps.plain.url}gradio_api/file={secret}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, b""
    assert status in (403, 404) and b"not for the page" not in body, (status, body)


# --- hostile uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upload", "problem"),
    [
        ("page", ("not a readable image", "not an image", "not png")),
        ("empty", ("empty",)),
        ("truncated", ("corrupt", "cut short", "truncated")),
        ("bomb", ("megapixel",)),
    ],
)
@pytest.mark.parametrize("api_name", ["/reconstruct", "/latent_map"])
def test_hostile_uploads_are_named_errors_and_the_app_carries_on(client, files, upload, problem, api_name):
    args = {"/reconstruct": (VANILLA, handle_file(files[upload]), AUTO), "/latent_map": (VANILLA, "PCA", "label")}
    if api_name == "/latent_map":
        args[api_name] += (handle_file(files[upload]),)
    with pytest.raises(AppError) as caught:
        call(client, *args[api_name], api_name=api_name)
    message = str(caught.value)
    assert any(phrase in message.lower() for phrase in problem), message  # names the problem (any wording)
    assert "Traceback" not in message and "upstream Gradio app" not in message
    assert_picture(call(client, VANILLA, 4, 0, 1.0, api_name="/sample"))


# --- many users at once -----------------------------------------------------------------------------


def test_eight_concurrent_users(apps, client, tmp_path):
    dims = {name: latent_dim(client, name) for name in (CVAE, VANILLA)}

    # Every user asks for different pictures. (Identical outputs at the same moment hit a race in gradio
    # itself: save_pil_to_cache rewrites the shared cache file while another response streams it.)
    def session(user: int) -> list[str]:
        client = new_client(apps.plain.url, tmp_path / f"user{user}")
        name = (CVAE, VANILLA)[user % 2]
        upload = tmp_path / f"upload{user}.png"
        drawn = Image.new("L", (32, 32), 0)
        ImageDraw.Draw(drawn).line([(4 + 3 * user, 4), (28 - 2 * user, 28)], fill=255, width=3)
        drawn.save(upload)
        return [
            call(client, name, 4, 100 + user, 1.0, api_name="/sample"),
            call(client, name, handle_file(str(upload)), AUTO, api_name="/reconstruct")[1],
            call(client, name, [0.1 * user] * dims[name], AUTO, api_name="/decode"),
            call(client, name, [0.2 * user - 0.5] * dims[name], 3, 2.0, AUTO, api_name="/traverse"),
        ]

    results: dict[int, object] = {}

    def run(user: int) -> None:
        try:
            results[user] = session(user)
        except Exception as err:  # reported below, with the user
            results[user] = err

    threads = [threading.Thread(target=run, args=(user,)) for user in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=4 * CALL_TIMEOUT)
    failures = {user: outcome for user, outcome in results.items() if isinstance(outcome, Exception)}
    assert len(results) == 8 and not failures, failures
    for paths in results.values():
        for path in paths:
            assert_picture(path)
    samples = [opened(results[user][0]).tobytes() for user in range(8)]
    assert len(set(samples)) == 8  # eight seeds, eight different grids: no user got another's result


def test_32_identical_reconstructions_at_once_all_succeed(apps, files, tmp_path):
    """Two visitors clicking the same example on the same model at the same moment: identical outputs.
    gradio 6.31 caches each output under the hash of its bytes and rewrites that one file while another
    download reads it (about 1 call in 40 failed); every picture the app returns is now a file of its own."""
    clients = [new_client(apps.plain.url, tmp_path / f"user{user}") for user in range(32)]
    jobs = [c.submit(VANILLA, handle_file(files["one"]), AUTO, api_name="/reconstruct") for c in clients]
    results, failures = [], []
    for job in jobs:
        try:
            results.append(job.result(timeout=4 * CALL_TIMEOUT))
        except Exception as err:  # counted below: the bar is none
            failures.append(err)
    assert failures == [], f"{len(failures)} of 32 identical calls failed: {failures[:3]}"
    pictures = {opened(recon).tobytes() for _, recon, _ in results}
    assert len(pictures) == 1  # the same reconstruction, 32 times, each read whole
    assert len({recon for _, recon, _ in results}) == 32  # from 32 different files


# --- a Hub that never answers ------------------------------------------------------------------------


def test_an_unreachable_hub_model_costs_only_its_timeout_at_start_up(apps):
    assert apps.silent.connections, "the app never tried the (silent) Hub endpoint"
    # Both apps started together on the same machine; the Hub one may take the timeout longer, not more.
    slack = 15
    assert apps.hub.startup_seconds <= apps.plain.startup_seconds + HUB_TIMEOUT + slack, (
        apps.hub.startup_seconds,
        apps.plain.startup_seconds,
    )
    assert f"Hub model {MISSING_REPO} could not be reached within {HUB_TIMEOUT} s" in apps.hub.log.read_text()


def test_the_page_shows_the_hub_warning_and_still_serves_local_models(apps, tmp_path):
    with urllib.request.urlopen(apps.hub.url + "config", timeout=10) as response:
        config = response.read().decode()
    assert MISSING_REPO in config and "could not be reached" in config
    client = new_client(apps.hub.url, tmp_path)
    assert_picture(call(client, VANILLA, 4, 0, 1.0, api_name="/sample"))
    with pytest.raises(AppError, match=MISSING_REPO):  # gradio's own choice check, or the catalog's
        call(client, MISSING_REPO, 4, 0, 1.0, api_name="/sample")


# --- the map as an instrument: points, the manifold, arithmetic, palettes, animations ---------------

DSPRITES = "betatc_vae-dsprites"
CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
DIGIT_SIDE = json.loads((CHECKPOINTS / VANILLA / "config.json").read_text())["img_size"]
GRID_SCALE = 64 // DIGIT_SIDE  # the page enlarges the images of a grid to 64 px


def pixels(path: str, side: int) -> np.ndarray:
    """A picture brought back to its images' own resolution (the page enlarges by pixel repetition)."""
    image = opened(path).convert("L")
    step = image.width // side
    return np.asarray(image)[step // 2 :: step, step // 2 :: step][:side, :side]


def tiles(path: str, count: int, side: int, scale: int, padding: int = 2) -> list[np.ndarray]:
    """The images of a grid `count` wide (torchvision's make_grid layout, then enlarged), in reading order."""
    grid = np.asarray(opened(path).convert("L"))
    cell = side * scale + padding * scale
    rows = grid.shape[0] // cell
    origin = padding * scale + scale // 2
    return [
        grid[origin + r * cell :: scale, origin + c * cell :: scale][:side, :side]
        for r in range(rows)
        for c in range(count)
    ]


def gif_frames(path: str) -> list[Image.Image]:
    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(gif.convert("L").copy())
    return frames


@pytest.mark.parametrize("name", [VANILLA, DSPRITES])
def test_a_map_point_decodes_to_what_decode_gives_for_its_code(client, name):
    if not (CHECKPOINTS / name).is_dir():
        pytest.skip(f"{name} is not shipped")
    first = call(client, name, "PCA", 0.5, -0.5, "data mean", [], AUTO, api_name="/decode_point")
    second = call(client, name, "PCA", -1.0, 1.0, "data mean", [], AUTO, api_name="/decode_point")
    for image, code, note, *_ in (first, second):
        assert "PCA plane" in note and "data mean" in note
        assert opened(image).tobytes() == opened(call(client, name, code, AUTO, api_name="/decode")).tobytes()
    assert (first[3], first[4]) == pytest.approx((0.5, -0.5), abs=1e-4)  # the code projects back onto the click
    assert first[1] != second[1] and opened(first[0]).tobytes() != opened(second[0]).tobytes()


def test_map_points_off_the_map_on_t_sne_and_from_the_traverse_start_say_so(client):
    dim = latent_dim(client, VANILLA)
    _, code, note, x, _ = call(client, VANILLA, "PCA", 1e6, 0.0, "data mean", [], AUTO, api_name="/decode_point")
    assert "outside the data's range" in note and x < 1e3
    _, _, note, *_ = call(client, VANILLA, "t-SNE", 0.0, 0.0, "data mean", [], AUTO, api_name="/decode_point")
    assert "approximation" in note
    start = [0.3] * dim
    _, from_start, note, *_ = call(
        client, VANILLA, "PCA", 0.0, 0.0, "Traverse start", start, AUTO, api_name="/decode_point"
    )
    assert "Traverse start" in note and from_start != code
    with pytest.raises(AppError, match="2-D maps"):
        call(client, VANILLA, "PCA 3-D", 0.0, 0.0, "data mean", [], AUTO, api_name="/decode_point")


def test_the_manifold_origin_tile_is_the_mean_code_decoded(client):
    _, mean_code, *_ = call(client, VANILLA, "PCA", 0.0, 0.0, "data mean", [], AUTO, api_name="/decode_point")
    grid = call(client, VANILLA, 15, 2.0, "data mean", [], AUTO, api_name="/manifold")
    images = tiles(grid, 15, DIGIT_SIDE, GRID_SCALE)
    assert len(images) == 225
    centre = pixels(call(client, VANILLA, mean_code, AUTO, api_name="/decode"), DIGIT_SIDE)
    assert np.array_equal(images[7 * 15 + 7], centre)
    assert not np.array_equal(images[0], centre)
    with pytest.raises(AppError, match=r"(2 to 24 steps|greater than maximum value 24)"):
        call(client, VANILLA, 40, 2.0, "data mean", [], AUTO, api_name="/manifold")


def test_arithmetic_rows_their_r_squared_and_their_gif(client):
    if not (CHECKPOINTS / DSPRITES).is_dir():
        pytest.skip(f"{DSPRITES} is not shipped")
    row, note, gif = call(client, DSPRITES, [], "move right (posX)", None, None, 1.0, 6, AUTO, api_name="/arithmetic")
    assert "R²" in note
    images = tiles(row, 6, 64, 1)[:6]
    columns = np.arange(64)
    centre_x = [float((image.sum(0) * columns).sum() / max(image.sum(), 1)) for image in images]
    assert centre_x[-1] > centre_x[0] + 2  # the sprite moved right
    frames = gif_frames(gif)
    assert len(frames) == 6 and frames[0].width == 128
    for frame, image in zip(frames, images, strict=True):
        assert np.array_equal(np.asarray(frame)[1:128:2, 1:128:2], image)  # 2× enlarged, above the progress bar
    _, weak, _ = call(client, DSPRITES, [], "rotate (orientation)", None, None, 1.0, 4, AUTO, api_name="/arithmetic")
    assert "hardly encodes" in weak  # orientation is encoded far from linearly (R² < 0.1)
    _, classes, _ = call(
        client, VANILLA, [], "between classes (From → To)", "3", "8", 1.0, 4, AUTO, api_name="/arithmetic"
    )
    assert "3 → 8" in classes
    with pytest.raises(AppError, match="no direction 'fly'"):
        call(client, DSPRITES, [], "fly", None, None, 1.0, 4, AUTO, api_name="/arithmetic")


def test_palettes_of_classes_and_images_and_an_empty_corner(client, files):
    grid, _ = call(
        client, VANILLA, "classes", 5, "linear", "0", "1", "6", "7", None, None, None, None, api_name="/palette"
    )
    side = (5 * (DIGIT_SIDE + 2) + 2) * GRID_SCALE  # make_grid's 2 px padding, all enlarged
    assert opened(grid).size == (side, side)
    images = [
        handle_file(files["one"]),
        handle_file(files["zero"]),
        handle_file(files["zero"]),
        handle_file(files["one"]),
    ]
    grid, _ = call(client, CVAE, "images", 3, "spherical", None, None, None, None, *images, api_name="/palette")
    assert_picture(grid, min_side=100)
    with pytest.raises(AppError, match="top right corner is empty"):
        call(client, VANILLA, "classes", 5, "linear", "0", None, "6", "7", None, None, None, None, api_name="/palette")


def test_animations_have_the_asked_frames_and_they_are_the_rows_images(client, files):
    ends = (handle_file(files["one"]), handle_file(files["zero"]), None, None)
    row, _ = call(client, VANILLA, "images", *ends, 5, "linear", api_name="/interpolate")
    gif = call(client, VANILLA, "images", *ends, 5, "linear", api_name="/animate_interpolation")
    frames = gif_frames(gif)
    assert len(frames) == 5 and frames[0].size == (128, 128 + 3)  # enlarged to 128 px, and the 3 px progress bar
    scale = 128 // DIGIT_SIDE
    for frame, image in zip(frames, tiles(row, 5, DIGIT_SIDE, GRID_SCALE)[:5], strict=True):
        assert np.array_equal(np.asarray(frame)[scale // 2 : 128 : scale, scale // 2 : 128 : scale], image)
    traversal = gif_frames(call(client, VANILLA, [], "z0", 7, 3.0, AUTO, api_name="/animate_traversal"))
    assert len(traversal) == 7 and len({frame.tobytes() for frame in traversal}) == 7
    with pytest.raises(AppError, match="pick the latent to animate"):
        call(client, VANILLA, [], "z99", 5, 3.0, AUTO, api_name="/animate_traversal")


def test_the_readme_client_example_runs_against_the_app(apps, tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = next(block for block in readme.split("```python\n")[1:] if "gradio_client" in block).split("```")[0]
    assert 'Client("http://127.0.0.1:7860/")' in example
    script = example.replace("http://127.0.0.1:7860/", apps.plain.url)
    namespace: dict = {}
    exec(compile(script, "README.md", "exec"), namespace)
    for path in (namespace["grid"], namespace["image"], namespace["point"], namespace["manifold"], namespace["row"]):
        assert_picture(path)
    assert len(gif_frames(namespace["gif"])) == 8 and "R²" in namespace["note"]
    assert_picture(namespace["palette"])
