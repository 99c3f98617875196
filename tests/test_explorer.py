"""The explorer's pure layers, without a server: uploads to tensors (images), what the app does
with a model (explore), the figures, the catalog, the Hub deadline, and every callback of
callbacks.Explorer called directly on the shipped checkpoints.

Only cvae-digits and vanilla_vae-digits are assumed to exist in checkpoints/; nothing here
depends on their metric values, since they are retrained from time to time.
"""

import io
import json
import math
import os
import resource
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from hub_stand_in import SilentServer, closed_port, hub_env
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

import app
import callbacks
from vae_models import ConditionalVAE, explore, figures
from vae_models.catalog import Catalog, ModelInfo, discover
from vae_models.distributions import gaussian_kl
from vae_models.images import MAX_FILE_BYTES, ImageInputError, read_image, to_model_input
from vae_models.latent import traversal_codes

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = REPO_ROOT / "checkpoints"
CVAE, VANILLA = "cvae-digits", "vanilla_vae-digits"
NAMES = [CVAE, VANILLA]
AUTO = app.AUTO_CLASS


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise_rgb(width: int = 24, height: int = 20, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def animated_gif(frames: int = 3) -> bytes:
    """Frames of different noise."""
    first, *rest = (noise_rgb(seed=k).convert("P") for k in range(frames))
    return encoded(first, "GIF", save_all=True, append_images=rest)


def dark_on_light(size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A black bar on white, as a user would draw a digit."""
    image = Image.new("L", size, 255)
    image.paste(0, (size[0] // 2 - 3, 4, size[0] // 2 + 3, size[1] - 4))
    return image


def check_tensor(x: torch.Tensor, channels: int = 1, side: int = 32) -> None:
    assert x.shape == (1, channels, side, side)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def image_error(source) -> str:
    with pytest.raises(ImageInputError) as caught:
        read_image(source)
    return str(caught.value)


# What a message must say, by problem: any one of the phrases (the wording is the library's to polish).
NOT_AN_IMAGE = ("not a readable image", "not an image", "not png")
DAMAGED = ("corrupt", "cut short", "truncated", *NOT_AN_IMAGE)  # a cut header leaves no recognisable format


def says(message: str, phrases: tuple[str, ...]) -> bool:
    return any(phrase in message.lower() for phrase in phrases)


def noted(notes: list[str], *words: str) -> bool:
    """Some note mentions all of `words` (case-insensitive)."""
    return any(all(word.lower() in note.lower() for word in words) for note in notes)


VALID_FILES = {
    "png": encoded(noise_rgb(), "PNG"),
    "jpeg": encoded(noise_rgb(), "JPEG", quality=90),
    "gif": encoded(noise_rgb().convert("P"), "GIF"),
    "animated-gif": animated_gif(),
    "webp": encoded(noise_rgb(), "WEBP"),
    "bmp": encoded(noise_rgb(), "BMP"),
}
# --- 1. uploads: read_image and to_model_input ---------------------------------------------


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert "empty" in image_error(path) and "empty" in image_error(b"")


def test_a_missing_file(tmp_path):
    assert says(image_error(tmp_path / "absent.png"), ("cannot read", "no such file", "not found"))


def test_a_file_over_the_size_limit(tmp_path):
    path = tmp_path / "huge.png"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    message = image_error(path)
    assert "20 MB" in message and "limit" in message


@pytest.mark.parametrize(
    "content",
    [b"<!DOCTYPE html><html><body>not an image</body></html>", b"just some text\n", b"\x89PNG\r\n\x1a\n"],
    ids=["html", "text", "png-signature-only"],
)
def test_not_an_image_renamed_png(tmp_path, content):
    path = tmp_path / "picture.png"
    path.write_bytes(content)
    assert says(image_error(path), NOT_AN_IMAGE)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "gif", "webp", "bmp"])
@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.9])
def test_truncated_files(fmt, fraction):
    data = VALID_FILES[fmt]
    cut = max(8, int(len(data) * fraction))
    assert says(image_error(data[:cut]), DAMAGED)


@pytest.mark.parametrize(
    "fmt",
    [
        *(name for name in VALID_FILES if name != "animated-gif"),
        "animated-gif",
    ],
)
def test_every_truncation_is_an_image_input_error_or_an_image(fmt):
    """Cut at every byte: the outcome is ImageInputError, or (a lost trailer) a decoded image."""
    data = VALID_FILES[fmt]
    for cut in range(len(data)):
        try:
            image, _ = read_image(data[:cut])
        except ImageInputError:
            continue
        except Exception as err:
            raise AssertionError(f"{fmt} cut at byte {cut} of {len(data)} raised {type(err).__name__}: {err}") from err
        check_tensor(to_model_input(image, 1, 32)[0])


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """10000×10000 pixels, 1 bit each: about 12 kB on disk, 100 megapixels decoded."""
    return encoded(Image.new("1", (10_000, 10_000)), "PNG")


def test_a_decompression_bomb(bomb_png, tmp_path):
    assert len(bomb_png) < 100_000
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png)
    message = image_error(path)
    assert "megapixel" in message and "limit" in message


def test_an_image_between_our_limit_and_pils_is_refused_as_too_large_not_as_corrupt():
    # 64 megapixels: over MAX_PIXELS (50 M), under PIL's own bomb warning (89 M), so _check_pixels refuses it.
    message = image_error(encoded(Image.new("1", (8000, 8000)), "PNG"))
    assert "8000×8000" in message and "megapixels" in message
    assert not says(message, ("corrupt", "cut short", "not a readable image", "imageinputerror"))


def test_an_animated_gif_gives_its_first_frame_and_a_note():
    image, notes = read_image(VALID_FILES["animated-gif"])
    first = Image.open(io.BytesIO(VALID_FILES["animated-gif"])).convert("RGB")
    assert image.mode == "RGB" and image.size == first.size
    assert np.array_equal(np.asarray(image), np.asarray(first))
    assert noted(notes, "animated", "GIF", "first", "3")


def test_an_animated_png_gives_its_first_frame_and_a_note():
    data = encoded(Image.new("RGB", (8, 8), "white"), "PNG", save_all=True, append_images=[Image.new("RGB", (8, 8))])
    image, notes = read_image(data)
    assert np.asarray(image).min() == 255
    assert noted(notes, "animated", "PNG")


def test_a_16_bit_png_is_scaled_to_the_unit_range():
    pixels = np.full((6, 5), 32768, dtype=np.uint16)
    pixels[0, 0], pixels[1, 1], pixels[2, 2] = 65535, 0, 1000
    data = encoded(Image.fromarray(pixels), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    image, notes = read_image(data)
    values = np.asarray(image)
    assert image.mode == "F"
    assert values[0, 0] == pytest.approx(1.0) and values[1, 1] == 0.0
    assert values[3, 3] == pytest.approx(32768 / 65535, abs=1e-6)
    assert values[2, 2] == pytest.approx(1000 / 65535, abs=1e-6)
    assert noted(notes, "16-bit")
    check_tensor(to_model_input(image, 1, 32)[0])


def test_a_palette_png_without_transparency():
    palette_image = noise_rgb().convert("P")
    image, notes = read_image(encoded(palette_image, "PNG"))
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), np.asarray(palette_image.convert("RGB")))
    assert noted(notes, "palette")
    assert not noted(notes, "transparen")


def test_a_palette_png_with_transparency_is_flattened_on_white():
    palette_image = Image.new("P", (4, 4), 0)
    palette_image.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    palette_image.putpixel((1, 1), 1)
    image, notes = read_image(encoded(palette_image, "PNG", transparency=0))
    pixels = np.asarray(image)
    assert image.mode == "RGB"
    assert tuple(pixels[0, 0]) == (255, 255, 255)  # the transparent black became white
    assert tuple(pixels[1, 1]) == (200, 0, 0)
    assert noted(notes, "palette") and noted(notes, "transparen", "white")


def test_rgba_is_flattened_on_white():
    rgba = Image.new("RGBA", (3, 1))
    rgba.putdata([(0, 0, 0, 0), (255, 0, 0, 255), (0, 0, 0, 128)])
    image, notes = read_image(encoded(rgba, "PNG"))
    pixels = np.asarray(image).astype(int)
    assert image.mode == "RGB"
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    assert tuple(pixels[0, 1]) == (255, 0, 0)
    assert np.all(np.abs(pixels[0, 2] - 127) <= 1)
    assert noted(notes, "transparen", "white")


def test_la_is_flattened_on_white():
    la = Image.new("LA", (2, 1))
    la.putdata([(0, 0), (0, 255)])
    image, notes = read_image(encoded(la, "PNG"))
    assert image.mode in ("L", "RGB")
    pixels = np.asarray(image.convert("L"))
    assert pixels[0, 0] == 255 and pixels[0, 1] == 0
    assert noted(notes, "transparen", "white")
    _, more = to_model_input(image, 1, 32)
    assert not noted(more, "colour")  # still grey


def test_a_cmyk_jpeg():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    image, notes = read_image(encoded(cmyk, "JPEG", quality=95))
    assert image.mode == "RGB"
    red, green, blue = np.asarray(image).reshape(-1, 3).mean(0)
    assert red > 200 and green < 60 and blue < 60
    assert noted(notes, "CMYK")
    x, more = to_model_input(image, 1, 32)
    check_tensor(x)
    assert noted(more, "colour", "greyscale")


def test_a_1_bit_image():
    bits = Image.new("1", (10, 10), 0)
    bits.putpixel((2, 3), 1)
    image, notes = read_image(encoded(bits, "PNG"))
    assert image.mode == "L" and notes == []
    assert set(np.unique(np.asarray(image))) == {0, 255}


def test_greyscale_for_a_three_channel_model():
    x, notes = to_model_input(dark_on_light(), 3, 32)
    check_tensor(x, channels=3)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])
    assert noted(notes, "greyscale", "3 channels")


def test_colour_for_a_one_channel_model():
    x, notes = to_model_input(read_image(encoded(noise_rgb(), "PNG"))[0], 1, 32)
    check_tensor(x)
    assert noted(notes, "colour", "greyscale")
    grey_rgb = Image.new("RGB", (8, 8), (90, 90, 90))
    assert to_model_input(grey_rgb, 1, 32)[1] == []  # grey stored as RGB is not "colour"


def test_colour_for_a_three_channel_model_keeps_its_channels():
    x, notes = to_model_input(Image.new("RGB", (8, 8), (255, 0, 0)), 3, 16)
    check_tensor(x, channels=3, side=16)
    assert notes == []
    assert torch.allclose(x[0, :, 8, 8], torch.tensor([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("size", [(1, 5000), (5000, 1), (3, 700)], ids=["1x5000", "5000x1", "3x700"])
def test_extreme_aspect_ratios(size):
    line = Image.new("L", size, 0)
    line.paste(255, (0, 0, size[0], size[1] // 2 or 1))
    image, _ = read_image(encoded(line, "PNG"))
    for channels in (1, 3):
        check_tensor(to_model_input(image, channels, 32)[0], channels=channels)


def test_a_long_thin_image_needs_no_more_memory_than_its_pixels():
    """100000×1 is 0.1 megapixels (far under MAX_PIXELS). Run with the address space capped at
    1.5 GiB over what the process has now, so the bug fails an allocation instead of eating the machine."""
    data = encoded(Image.new("1", (100_000, 1), 1), "PNG")
    assert len(data) < 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        current = int(statm.read().split()[0]) * resource.getpagesize()
    cap = current + int(1.5 * 2**30)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        image, _ = read_image(data)
        x, _ = to_model_input(image, 1, 32, dark_background=True)
    except ImageInputError:
        return  # refusing it in words is fine too
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    check_tensor(x)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP"])
def test_webp_and_bmp(fmt):
    source = noise_rgb()
    options = {"lossless": True} if fmt == "WEBP" else {}
    image, notes = read_image(encoded(source, fmt, **options))
    assert image.mode == "RGB" and notes == []
    assert np.array_equal(np.asarray(image), np.asarray(source))
    check_tensor(to_model_input(image, 1, 32)[0])


def test_dark_on_light_is_inverted_only_for_light_on_dark_models():
    image = dark_on_light()
    plain, plain_notes = to_model_input(image, 1, 32, dark_background=False)
    inverted, notes = to_model_input(image, 1, 32, dark_background=True)
    check_tensor(plain)
    check_tensor(inverted)
    assert plain[0, 0, 0, 0] > 0.95 and plain[0, 0, 16, 16] < 0.05  # as drawn: white paper, black stroke
    assert torch.allclose(inverted, 1 - plain, atol=1e-6)
    assert noted(notes, "inverted") and not noted(plain_notes, "inverted")


def test_light_on_dark_is_never_inverted():
    image = Image.eval(dark_on_light(), lambda v: 255 - v)
    plain, _ = to_model_input(image, 1, 32, dark_background=False)
    kept, notes = to_model_input(image, 1, 32, dark_background=True)
    assert torch.equal(plain, kept) and kept[0, 0, 0, 0] < 0.05
    assert not noted(notes, "inverted")


def test_non_square_images_are_padded_with_their_border_not_cropped():
    wide = Image.new("L", (64, 16), 0)
    wide.paste(255, (0, 6, 4, 10))  # a light mark at the far left edge
    x, _ = to_model_input(wide, 1, 32)
    assert x[0, 0, :, :3].max() > 0.5  # still there after padding and resizing
    assert x[0, 0, 0, :].max() < 0.05  # padding took the black border colour


FUZZ_OPERATION = st.one_of(
    st.tuples(st.just("set"), st.integers(-(2**16), 2**16), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 2**16), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 2**16), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(-(2**16), 2**16), st.integers(1, 64)),
)


def corrupt(data: bytes, operations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, position, value in operations:
        if not out:
            break
        index = position % len(out)
        if kind == "set":
            out[index] = value
        elif kind == "cut":
            del out[position % (len(out) + 1) :]
        elif kind == "insert":
            out[index:index] = bytes([value])
        else:
            del out[index : index + value]
    return bytes(out)


@pytest.mark.parametrize(
    "fmt",
    [
        "png",
        "jpeg",
        "gif",
    ],
)
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(FUZZ_OPERATION, min_size=1, max_size=5))
@example(operations=[("set", -1, 0x2C)])  # a GIF's trailer turned into an image separator
def test_fuzzed_uploads_only_ever_raise_image_input_error(fmt, operations):
    data = corrupt(VALID_FILES[fmt], operations)
    try:
        image, _ = read_image(data)
    except ImageInputError as err:
        assert str(err)
        return
    for channels in (1, 3):
        check_tensor(to_model_input(image, channels, 32, dark_background=True)[0], channels=channels)


# --- 2. explore: the computations behind each tab -----------------------------------------


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    built = Catalog.build(CHECKPOINTS)
    assert {CVAE, VANILLA} <= set(built.names), built.warnings
    return built


@pytest.fixture(scope="module")
def cvae(catalog) -> ConditionalVAE:
    return catalog.model(CVAE)


@pytest.fixture(scope="module")
def vanilla(catalog):
    return catalog.model(VANILLA)


def codes_for(model, count: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randn(count, model.latent_dim, generator=torch.Generator().manual_seed(seed))


def test_decode_matches_the_models_decode(vanilla, cvae):
    codes = codes_for(vanilla)
    with torch.inference_mode():
        assert torch.allclose(explore.decode(vanilla, codes), vanilla.decode(codes), atol=1e-6)
        assert torch.allclose(explore.decode(cvae, codes, 3), cvae.decode(codes, torch.full((5,), 3)), atol=1e-6)
        assert torch.allclose(explore.decode(vanilla, codes[0]), vanilla.decode(codes[:1]), atol=1e-6)
    out = explore.decode(vanilla, codes)
    assert out.shape == (5, vanilla.in_channels, vanilla.img_size, vanilla.img_size)
    assert out.device.type == "cpu" and out.min() >= 0 and out.max() <= 1


def test_decode_refuses_codes_of_the_wrong_length_and_cvae_without_a_label(vanilla, cvae):
    with pytest.raises(ValueError, match="latent dimensions"):
        explore.decode(vanilla, torch.zeros(vanilla.latent_dim + 1))
    with pytest.raises(ValueError, match="needs labels="):
        explore.decode(cvae, torch.zeros(cvae.latent_dim))


@pytest.mark.parametrize("name", NAMES)
def test_traversal_grid_rows_move_one_latent_each(catalog, name):
    model = catalog.model(name)
    start = codes_for(model, 1, seed=3)[0]
    dims, steps, span = [2, 0, model.latent_dim - 1], 5, 2.0
    label = 4 if isinstance(model, ConditionalVAE) else None
    codes = traversal_codes(start, dims, steps, span)
    assert codes.shape == (len(dims) * steps, model.latent_dim)
    for row, dim in enumerate(dims):
        block = codes[row * steps : (row + 1) * steps]
        assert torch.allclose(block[:, dim], torch.linspace(-span, span, steps))
        others = [d for d in range(model.latent_dim) if d != dim]
        assert torch.equal(block[:, others], start[others].expand(steps, -1))
    grid = explore.traversal_grid(model, start, dims, steps, span, label)
    assert torch.allclose(grid, explore.decode(model, codes, label), atol=1e-6)


def test_slerp_endpoints_and_norm():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, generator=generator), torch.randn(8, generator=generator)
    b = b * a.norm() / b.norm()
    t = torch.linspace(0, 1, 9)
    path = explore.slerp(a, b, t)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(9), rtol=1e-5)
    unequal = explore.slerp(a, 3 * b, t)
    assert torch.allclose(unequal[0], a, atol=1e-5) and torch.allclose(unequal[-1], 3 * b, atol=1e-4)


def test_slerp_of_parallel_codes_is_linear():
    a = torch.tensor([1.0, 2.0, -1.0])
    t = torch.linspace(0, 1, 5)
    assert torch.allclose(explore.slerp(a, 2 * a, t), torch.lerp(a, 2 * a, t[:, None]), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolate_ends_at_the_decoded_end_codes(catalog, name, mode):
    model = catalog.model(name)
    start, end = codes_for(model, 2, seed=5)
    labels = (2, 7) if isinstance(model, ConditionalVAE) else None
    row = explore.interpolate(model, start, end, 6, mode, labels)
    assert row.shape == (6, model.in_channels, model.img_size, model.img_size)
    assert torch.allclose(row[0], explore.decode(model, start, labels and labels[0])[0], atol=1e-5)
    assert torch.allclose(row[-1], explore.decode(model, end, labels and labels[1])[0], atol=1e-5)


def test_interpolate_refuses_an_unknown_mode(vanilla):
    with pytest.raises(ValueError, match="interpolation mode must be one of"):
        explore.interpolate(vanilla, torch.zeros(vanilla.latent_dim), torch.ones(vanilla.latent_dim), 4, "cubic")


def test_class_style_grid_columns_share_z(cvae):
    styles, seed = 3, 4
    grid = explore.class_style_grid(cvae, styles, seed, temperature=0.8)
    assert grid.shape == (cvae.num_classes * styles, cvae.in_channels, cvae.img_size, cvae.img_size)
    z = explore.prior_codes(cvae, styles, seed, 0.8)
    for k in range(cvae.num_classes):
        assert torch.allclose(grid[k * styles : (k + 1) * styles], explore.decode(cvae, z, k), atol=1e-5)


def negative_elbo(model: ConditionalVAE, x: torch.Tensor, k: int) -> float:
    """-ELBO of one image under class k at the posterior mean, written out independently of best_label."""
    with torch.inference_mode():
        label = torch.tensor([k])
        mu, log_var = model.encode(x, label)
        return float(model.reconstruction_nll(model.decode_logits(mu, label), x) + gaussian_kl(mu, log_var))


def test_best_label_is_the_argmin_of_the_negative_elbo(cvae):
    for k in range(cvae.num_classes):
        x = explore.prior_samples(cvae, 1, seed=100 + k, labels=k)
        scores = [negative_elbo(cvae, x, c) for c in range(cvae.num_classes)]
        chosen = explore.best_label(cvae, x)
        assert 0 <= chosen < cvae.num_classes
        assert scores[chosen] <= min(scores) + 1e-3 * max(1.0, abs(min(scores))), (k, chosen, scores)


@pytest.mark.parametrize("name", NAMES)
def test_prior_samples_are_deterministic_per_seed_and_leave_the_global_rng_alone(catalog, name):
    model = catalog.model(name)
    label = 1 if isinstance(model, ConditionalVAE) else None
    torch.manual_seed(0)
    state = torch.get_rng_state()
    first = explore.prior_samples(model, 4, seed=7, labels=label)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(12345)
    torch.rand(100)
    assert torch.equal(explore.prior_samples(model, 4, seed=7, labels=label), first)
    assert not torch.allclose(explore.prior_samples(model, 4, seed=8, labels=label), first)
    cooler = explore.prior_codes(model, 4, seed=7, temperature=0.5)
    assert torch.allclose(cooler, 0.5 * explore.prior_codes(model, 4, seed=7))


# --- 3. figures ----------------------------------------------------------------------------


def test_latent_map_has_one_trace_per_category_present_and_the_highlight():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(30, 2))
    colour = np.array([0, 1, 3] * 10)  # classes 2 and 4 absent
    categories = ["zero", "one", "two", "three", "four"]
    figure = figures.latent_map(
        coords, colour, "label", [f"#{i}" for i in range(30)], categories=categories, highlight=np.array([0.5, -0.5])
    )
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == ["zero", "one", "three", "your image"]
    assert [len(trace.x) for trace in figure.data] == [10, 10, 10, 1]
    assert all(trace.type == "scattergl" for trace in figure.data)
    star = figure.data[-1]
    assert (star.x[0], star.y[0]) == (0.5, -0.5) and star.marker.color == "red"
    assert list(figure.data[2].text) == [f"#{i}" for i in range(2, 30, 3)]


def test_latent_map_in_3d_with_explained_variance_in_the_axis_titles():
    rng = np.random.default_rng(1)
    coords = rng.normal(size=(12, 3))
    figure = figures.latent_map(
        coords,
        np.array([0, 1] * 6),
        "label",
        ["x"] * 12,
        categories=["a", "b"],
        explained=np.array([0.5, 0.25, 0.125]),
        highlight=np.zeros(3),
    )
    assert len(figure.data) == 3 and all(isinstance(trace, go.Scatter3d) for trace in figure.data)
    scene = figure.layout.scene
    titles = [scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text]
    assert titles == ["PC1 (50% of variance)", "PC2 (25% of variance)", "PC3 (12% of variance)"]


def test_latent_map_2d_axis_titles_and_continuous_colour():
    coords = np.arange(20, dtype=float).reshape(10, 2)
    figure = figures.latent_map(coords, np.linspace(0, 1, 10), "scale", ["x"] * 10, explained=np.array([0.9, 0.05]))
    assert figure.layout.xaxis.title.text == "PC1 (90% of variance)"
    assert figure.layout.yaxis.title.text == "PC2 (5% of variance)"
    assert len(figure.data) == 1 and figure.data[0].marker.colorbar.title.text == "scale"
    tsne = figures.latent_map(coords, np.zeros(10, int), "label", ["x"] * 10, categories=["a"])
    assert tsne.layout.xaxis.title.text == "t-SNE 1"


def test_kl_bar_chart_greys_inactive_dimensions():
    figure = figures.kl_bar_chart([2.0, 0.001, 1.5, 0.0], [True, False, True, False], "KL (nats)")
    bar = figure.data[0]
    assert list(bar.x) == ["z0", "z1", "z2", "z3"] and list(bar.y) == [2.0, 0.001, 1.5, 0.0]
    colours = list(bar.marker.color)
    grey = colours[1]
    assert colours[3] == grey and colours[0] == colours[2] != grey
    red, green, blue = (int(grey[i : i + 2], 16) for i in (1, 3, 5))
    assert red == green == blue  # a grey
    assert figure.layout.yaxis.title.text == "KL (nats)"


def test_mutual_information_heatmap_is_normalised_by_entropy():
    matrix = np.array([[0.5, 0.1], [1.0, 0.3]])
    entropy = np.array([2.0, 0.6])
    figure = figures.mutual_information_heatmap(matrix, ["shape", "scale"], entropy)
    heat = figure.data[0]
    assert np.allclose(np.asarray(heat.z), [[0.25, 1 / 6], [0.5, 0.5]])
    assert list(heat.x) == ["shape", "scale"] and list(heat.y) == ["z0", "z1"]
    assert (heat.zmin, heat.zmax) == (0, 1)


# --- 4. the catalog --------------------------------------------------------------------------


def test_discover_skips_broken_folders_with_a_warning(tmp_path):
    for name in NAMES:
        (tmp_path / name).symlink_to(CHECKPOINTS / name, target_is_directory=True)
    config = (CHECKPOINTS / VANILLA / "config.json").read_bytes()
    broken = {
        "no-weights": {"config.json": config},
        "bad-config": {"config.json": b"{not json", "model.safetensors": b"x"},
        "pickle-only": {"config.json": config, "pytorch_model.bin": b"\x80\x04K\x01."},
        "list-config": {"config.json": b"[1, 2]", "model.safetensors": b"x"},
        ".half-written": {"config.json": config},
    }
    for folder, files in broken.items():
        (tmp_path / folder).mkdir()
        for filename, content in files.items():
            (tmp_path / folder / filename).write_bytes(content)
    (tmp_path / "notes.txt").write_text("not a folder")
    infos, warnings_ = discover(tmp_path)
    assert [info.name for info in infos] == sorted(NAMES)
    assert len(warnings_) == 4, warnings_
    by_folder = {folder: [w for w in warnings_ if f"{tmp_path / folder}:" in w] for folder in broken}
    assert "model.safetensors is missing" in by_folder["no-weights"][0]
    assert "not readable JSON" in by_folder["bad-config"][0]
    assert "model.safetensors is missing" in by_folder["pickle-only"][0]
    assert "must hold a JSON object" in by_folder["list-config"][0]
    assert by_folder[".half-written"] == []
    assert all(w.startswith("skipped ") for w in warnings_)


def test_discover_of_a_missing_folder(tmp_path):
    assert discover(tmp_path / "absent") == ([], [f"no checkpoint folder at {tmp_path / 'absent'}"])


def test_catalog_loads_each_model_once(catalog):
    fresh = Catalog([catalog.info(name) for name in NAMES], device="cpu")  # nothing loaded yet
    results = []
    threads = [threading.Thread(target=lambda: results.append(fresh.model(VANILLA))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(model is fresh.model(VANILLA) for model in results)
    assert fresh.model(CVAE) is fresh.model(CVAE) is not catalog.model(CVAE)
    assert isinstance(catalog.model(CVAE), ConditionalVAE) and not catalog.model(CVAE).training
    assert catalog.latents(VANILLA) is catalog.latents(VANILLA)


def test_catalog_refuses_an_unknown_name(catalog):
    with pytest.raises(KeyError, match="no model named 'nope'"):
        catalog.info("nope")


def test_same_data(catalog):
    for name in NAMES:
        same = catalog.same_data(name)
        assert same[0] == name and set(NAMES) <= set(same) and len(set(same)) == len(same)
        assert {catalog.info(other).dataset for other in same} == {"digits"}


def test_model_info_summary():
    info = ModelInfo(
        "m", Path("m"), {"model_type": "betatc_vae", "latent_dim": 10}, {"dataset": "dsprites", "mig": 0.123456}
    )
    assert info.summary() == "m · betatc_vae · dsprites · 10-d latent · MIG 0.123"
    nll = ModelInfo("n", Path("n"), {"model_type": "vanilla_vae", "latent_dim": 4}, {"iwae_nll_nats": 81.234})
    assert nll.summary() == "n · vanilla_vae · unknown · 4-d latent · NLL 81.2"
    bare = ModelInfo("b", Path("b"), {}, training_config={"data": {"name": "mnist"}})
    assert bare.summary() == "b · ? · mnist · 0-d latent"


def test_model_info_of_the_shipped_checkpoints(catalog):
    for name in NAMES:
        info = catalog.info(name)
        assert info.summary().startswith(f"{name} · {info.model_type} · digits · {info.latent_dim}-d latent")
    assert catalog.info(CVAE).model_type == "cvae" and catalog.info(VANILLA).model_type == "vanilla_vae"


# --- 5. the Hub deadline, in child processes (huggingface_hub reads HF_* at import) -----------


HUB_CHILD = """
import json, sys, time
from hub_stand_in import forbid_non_loopback
forbid_non_loopback()
from vae_models.catalog import fetch_hub_models
start = time.monotonic()
infos, warnings = fetch_hub_models(["owner/name"], timeout=float(sys.argv[1]))
seconds = time.monotonic() - start
print(json.dumps({"seconds": seconds, "infos": [i.name for i in infos], "warnings": warnings, "done_at": time.time()}))
"""


class HubChild:
    """fetch_hub_models in a child process with the Hub environment set; a thread waits for it
    and notes when it exited, so the test can tell how long the process outlived the fetch."""

    def __init__(self, endpoint: str, cache: Path, timeout: float, *, offline: bool = False) -> None:
        env = hub_env(endpoint, cache, offline=offline)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")])
        command = [sys.executable, "-c", HUB_CHILD, str(timeout)]
        self.process = subprocess.Popen(
            command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.output: tuple[str, str] = ("", "")
        self.exited_at = math.inf
        self.waiter = threading.Thread(target=self._wait, daemon=True)
        self.waiter.start()

    def _wait(self) -> None:
        self.output = self.process.communicate()
        self.exited_at = time.time()

    def outcome(self) -> dict:
        self.waiter.join(timeout=90)
        assert self.process.returncode == 0, self.output[1]
        return json.loads(self.output[0].strip().splitlines()[-1]) | {"exited_at": self.exited_at}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.waiter.join()


@pytest.fixture(scope="module", autouse=True)
def hub_children(tmp_path_factory):
    """Both children, started with the module so they import torch while the other tests run."""
    root = tmp_path_factory.mktemp("hub")
    with SilentServer() as silent:
        children = {
            "hanging": HubChild(silent.endpoint, root / "cache-a", timeout=2),
            "offline": HubChild(f"http://127.0.0.1:{closed_port()}", root / "cache-b", timeout=10, offline=True),
        }
        try:
            yield children, silent
        finally:
            for child in children.values():
                child.stop()


@pytest.fixture(scope="module")
def hub_outcomes(hub_children):
    children, silent = hub_children
    outcomes = {name: child.outcome() for name, child in children.items()}
    return outcomes | {"connections": len(silent.connections)}


def test_a_hub_that_never_answers_costs_at_most_the_timeout(hub_outcomes):
    outcome = hub_outcomes["hanging"]
    assert hub_outcomes["connections"] >= 1  # the child did try the silent endpoint
    assert outcome["infos"] == []
    assert 1.5 <= outcome["seconds"] < 4, outcome
    [warning] = outcome["warnings"]
    assert "owner/name" in warning and "2 s" in warning and "could not be reached" in warning
    # The stuck download must not hold the process open at exit (huggingface_hub would retry for ~30 s).
    assert outcome["exited_at"] - outcome["done_at"] < 8


def test_an_offline_hub_with_an_empty_cache_is_a_warning(hub_outcomes):
    outcome = hub_outcomes["offline"]
    assert outcome["infos"] == [] and outcome["seconds"] < 5
    [warning] = outcome["warnings"]
    assert "owner/name" in warning and "not offered" in warning and "not in the local Hub cache" in warning


def test_no_hub_repos_costs_nothing():
    from vae_models.catalog import fetch_hub_models

    start = time.monotonic()
    assert fetch_hub_models([], timeout=5) == ([], [])
    assert time.monotonic() - start < 0.5


# --- 6. the app's callbacks, called directly ----------------------------------------------------


@pytest.fixture(scope="module")
def explorer(catalog) -> callbacks.Explorer:
    return callbacks.Explorer(catalog)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory, catalog) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("uploads")
    # Only the two digits models: examples of other data sets (dSprites) are not needed here.
    examples = app.write_examples(Catalog([catalog.info(name) for name in NAMES]), folder)
    paths = {f"digit{k}": path for k, path in enumerate(examples["digits"])}
    dark_on_light().save(folder / "drawn.png")
    noise_rgb(40, 40).save(folder / "colour.jpg")
    (folder / "page.png").write_text("<html>not an image</html>")
    (folder / "empty.png").write_bytes(b"")
    return paths | {name: str(folder / name) for name in ("drawn.png", "colour.jpg", "page.png", "empty.png")}


def test_write_examples_gives_one_png_per_class(uploads):
    digits = [path for key, path in uploads.items() if key.startswith("digit")]
    assert 2 <= len(digits) <= 8
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
    shown, recon = quietly(explorer.reconstruct, name, uploads["digit3"])
    assert isinstance(shown, Image.Image) and isinstance(recon, Image.Image)
    assert shown.size == recon.size == grid_size(1, 1, model.img_size)
    gallery = quietly(explorer.compare, name, uploads["digit3"])
    assert [caption for _, caption in gallery] == ["input", *explorer.catalog.same_data(name)]
    assert all(picture.size == shown.size for picture, _ in gallery)


def test_reconstruct_with_a_chosen_class(explorer, uploads):
    images = [quietly(explorer.reconstruct, CVAE, uploads["digit1"], choice)[1] for choice in ("1", 7, 7.0, AUTO)]
    assert np.array_equal(np.asarray(images[1]), np.asarray(images[2]))  # 7 and 7.0 are one class
    assert all(image.size == (192, 192) for image in images)


def announced(call, *args) -> list[str]:
    """The gr.Warning toasts a callback raised (outside a page, gradio issues them as UserWarnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call(*args)
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_upload_conversions_are_announced_as_warnings(explorer, uploads):
    drawn = announced(explorer.reconstruct, VANILLA, uploads["drawn.png"])
    assert noted(drawn, "inverted", "light-on-dark")
    colour = announced(explorer.reconstruct, VANILLA, uploads["colour.jpg"])
    assert noted(colour, "greyscale")
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
    assert explorer.traverse(name, None, 5, 2.0).size == grid_size(dim * 5, 5)
    assert explorer.traverse(name, [0.1] * dim, 3, 1.0).size == grid_size(dim * 3, 3)
    order = explorer.catalog.info(name).latent_order
    assert sorted(order) == list(range(dim))
    values = [0.3 * (i + 1) for i in range(min(dim, app.MAX_SLIDERS))]
    start_label = 0 if name == CVAE else None  # what set_start gives for "zero"
    from_sliders = explorer.decode_sliders(name, [], start_label, AUTO, *values)
    code = [0.0] * dim
    for position, slot in enumerate(order[: len(values)]):
        code[slot] = values[position]
    assert from_sliders.tobytes() == explorer.decode(name, code, AUTO).tobytes()


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
    assert explorer.decode_sliders(name, [], None, AUTO, *values).tobytes() == (
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
    assert "Explained variance" in text


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolate(explorer, uploads, name, mode):
    row = quietly(explorer.interpolate, name, "images", uploads["digit1"], uploads["digit5"], None, None, 6, mode)
    assert row.size == grid_size(6, 6)
    between_classes = explorer.interpolate(name, "classes", None, None, "1", "7", 4, mode)
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
        code, label, image, *sliders = quietly(explorer.set_start, name, source, index, path, AUTO)
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
    text, information, mutual_information = explorer.model_card(name)
    assert text.startswith(f"### {explorer.catalog.info(name).summary()}")
    assert '"model_type"' in text
    assert information is None or isinstance(information, go.Figure)
    assert mutual_information is None  # digits has no factors
    dropdown = explorer.class_dropdown(name)
    assert dropdown.choices[0][0] == AUTO and dropdown.visible == (name == CVAE)
    assert [choice[0] for choice in explorer.plain_class_dropdown(name).choices] == explorer.catalog.info(
        name
    ).class_names
    assert [choice[0] for choice in explorer.colour_dropdown(name).choices] == ["label"]
    labels = callbacks.slider_labels(explorer.catalog.info(name))
    assert len(labels) == explorer.catalog.info(name).latent_dim and all(label.startswith("z") for label in labels)


def test_build_app_names_every_endpoint(explorer, uploads):
    demo = app.build_app(explorer, {"digits": [uploads["digit0"], uploads["digit1"]]})
    names = {getattr(fn, "api_name", None) for fn in demo.fns.values()}
    expected = {"reconstruct", "compare", "sample", "generate", "class_style", "set_start", "decode", "traverse"}
    assert expected | {"latent_map", "recompute_map", "interpolate", "model_card"} <= names


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


CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
DSPRITES_MODELS = sorted(p.name for p in CHECKPOINTS.glob("*-dsprites") if (p / "metrics.json").is_file())


@pytest.mark.parametrize("name", DSPRITES_MODELS)
def test_dsprites_sliders_name_the_factor_each_latent_moves_most(explorer, name):
    info = explorer.catalog.info(name)
    metrics = info.metrics
    shares = np.array(metrics["mutual_information"]) / np.array(metrics["factor_entropy"])
    for dim, label in zip(info.latent_order, callbacks.slider_labels(info), strict=True):
        assert label.startswith(f"z{dim} ")
        if "inactive" not in label:
            assert label.endswith(f"moves {metrics['factor_names'][shares[dim].argmax()]}")
    _, _, heatmap = explorer.model_card(name)
    assert isinstance(heatmap, go.Figure)
    assert [str(x) for x in heatmap.data[0].x] == metrics["factor_names"]
    assert [choice[0] for choice in explorer.colour_dropdown(name).choices] == ["label", *metrics["factor_names"]]
