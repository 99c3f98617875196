"""Uploads to tensors (vae_models.images): read_image and to_model_input on every kind of file a
user might upload, broken, hostile or merely unusual, including a fuzz of corrupted files."""

import io
import resource

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from support import NOT_AN_IMAGE, dark_on_light, encoded, noise_rgb, noted, says

from vae_models.images import MAX_FILE_BYTES, ImageInputError, read_image, to_model_input


def animated_gif(frames: int = 3) -> bytes:
    """Frames of different noise."""
    first, *rest = (noise_rgb(seed=k).convert("P") for k in range(frames))
    return encoded(first, "GIF", save_all=True, append_images=rest)


def check_tensor(x: torch.Tensor, channels: int = 1, side: int = 32) -> None:
    assert x.shape == (1, channels, side, side)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def image_error(source) -> str:
    with pytest.raises(ImageInputError) as caught:
        read_image(source)
    return str(caught.value)


DAMAGED = ("corrupt", "cut short", "truncated", *NOT_AN_IMAGE)  # a cut header leaves no recognisable format


VALID_FILES = {
    "png": encoded(noise_rgb(), "PNG"),
    "jpeg": encoded(noise_rgb(), "JPEG", quality=90),
    "gif": encoded(noise_rgb().convert("P"), "GIF"),
    "animated-gif": animated_gif(),
    "webp": encoded(noise_rgb(), "WEBP"),
    "bmp": encoded(noise_rgb(), "BMP"),
}


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
