"""unpack_images: a visitor's zip or image files -> a folder data set that load_dataset reads.

Every zip here is built in tmp_path; hostile ones (a bomb, lying headers, paths out of the
folder) are made with zipfile itself or by patching its bytes, so the tests stay small and fast.
"""

import io
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import encoded, noise_rgb, noted

from train.limits import ENV_MAX_TRAIN_IMAGES, ENV_MAX_UPLOAD_FILES, ENV_MAX_UPLOAD_MB, upload_limits_from_env
from vae_models.data import UploadError, UploadLimits, load_dataset, unpack_images
from vae_models.data.uploads import (
    MAX_SIDE,
    MB,
    SKIP_NOT_IMAGE,
    SKIP_OUTSIDE,
    SKIP_UNREADABLE,
)

ENV_NAMES = (ENV_MAX_UPLOAD_MB, ENV_MAX_UPLOAD_FILES, ENV_MAX_TRAIN_IMAGES)


@pytest.fixture(autouse=True)
def default_env(monkeypatch):
    """Tests that pass limits=None see the defaults, whatever the machine's environment says."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def png(seed: int, size: tuple[int, int] = (12, 10), colour: bool = True) -> bytes:
    image = noise_rgb(*size, seed=seed)
    return encoded(image if colour else image.convert("L"), "PNG")


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)  # ZipInfo keeps the name exactly as given
    return path


def images(prefix: str, count: int, colour: bool = True, start: int = 0) -> dict[str, bytes]:
    return {f"{prefix}{k:02d}.png": png(start + k, colour=colour) for k in range(count)}


def refusal(paths: list[Path], dest: Path, limits: UploadLimits | None = None) -> str:
    """The message of the UploadError unpack_images raises; dest must then be gone."""
    with pytest.raises(UploadError) as caught:
        unpack_images(paths, dest, limits)
    assert not dest.exists()
    return str(caught.value)


def load_both(result) -> tuple:
    splits = [
        load_dataset("folder", split, root=str(result.root), in_channels=result.in_channels, img_size=32)
        for split in ("train", "test")
    ]
    return tuple(splits)


def written(root: Path) -> list[Path]:
    return sorted(path.relative_to(root) for path in root.rglob("*") if path.is_file())


# --- layouts that load -----------------------------------------------------------------------


def test_a_zip_of_class_folders_is_labelled_and_loads(tmp_path):
    members = images("cats/", 7) | images("dogs/", 5, start=50) | {"birds/broken.png": b"junk"}
    result = unpack_images([make_zip(tmp_path / "pets.zip", members)], tmp_path / "out")
    assert (result.class_names, result.count, result.in_channels) == (["cats", "dogs"], 12, 3)
    assert result.skipped == {SKIP_UNREADABLE: 1}  # and birds, left without images, is no class
    assert noted(result.notes, "labelled by folder", "2 classes")
    assert written(result.root)[:2] == [Path("cats/00000.png"), Path("cats/00001.png")]
    train, test = load_both(result)
    assert train.class_names == test.class_names == ["cats", "dogs"]
    assert len(train) + len(test) == 12
    labels = np.concatenate([train.labels.numpy(), test.labels.numpy()])
    assert np.bincount(labels).tolist() == [7, 5]
    assert train.batch([0])[0].shape == (1, 3, 32, 32)


def test_a_wrapping_folder_is_opened_and_system_files_are_ignored(tmp_path):
    members = images("photos/a/", 5) | images("photos/b/", 5, start=9) | images("photos/b/deeper/", 2, start=20)
    members |= {"__MACOSX/photos/a/._00.png": b"\0resource fork", "photos/.DS_Store": b"\0", "photos/Thumbs.db": b"x"}
    result = unpack_images([make_zip(tmp_path / "photos.zip", members)], tmp_path / "out")
    assert (result.class_names, result.count, result.skipped) == (["a", "b"], 12, {})
    assert len(list((result.root / "b").iterdir())) == 7  # a subfolder belongs to its class


def test_images_at_the_top_of_a_zip_are_one_class_and_grey_is_one_channel(tmp_path):
    members = images("", 11, colour=False)
    members["grey-as-rgb.png"] = encoded(Image.new("RGB", (9, 9), (90, 90, 90)), "PNG")
    result = unpack_images([make_zip(tmp_path / "u.zip", members)], tmp_path / "out")
    assert (result.class_names, result.count, result.in_channels) == (["images"], 12, 1)
    assert noted(result.notes, "unlabelled", "one class")
    train, test = load_both(result)
    assert len(train) + len(test) == 12
    assert train.batch([0])[0].shape == (1, 1, 32, 32)


def test_several_image_files_are_one_class(tmp_path):
    paths = []
    for k, data in enumerate(images("", 10).values()):
        paths.append(tmp_path / f"photo{k}.png")
        paths[-1].write_bytes(data)
    result = unpack_images(paths, tmp_path / "out")
    assert (result.class_names, result.count, result.in_channels) == (["images"], 10, 3)


def test_images_outside_the_class_folders_are_skipped(tmp_path):
    members = images("cats/", 6) | images("dogs/", 6, start=6) | {"cover.png": png(99)}
    result = unpack_images([make_zip(tmp_path / "z.zip", members)], tmp_path / "out")
    assert (result.count, result.skipped) == (12, {SKIP_OUTSIDE: 1})
    assert noted(result.notes, "skipped 1 file", "cover.png")


def test_class_folder_names_are_made_safe_and_unique(tmp_path):
    members = {}
    for k, folder in enumerate(["Cats", "cats", "__", "a<b>|c", " été "]):
        members |= images(f"{folder}/", 2, start=10 * k)
    result = unpack_images([make_zip(tmp_path / "z.zip", members)], tmp_path / "out")
    assert result.class_names == sorted(["Cats", "cats_2", "class", "a_b_c", "été"])
    assert sorted(path.name for path in result.root.iterdir()) == result.class_names
    assert len(load_both(result)[0].class_names) == 5


# --- every kind of image ends up loadable ------------------------------------------------------


def _special_images() -> dict[str, bytes]:
    rgba = Image.new("RGBA", (20, 20), (255, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 10, 20))
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    palette.paste(1, (8, 0, 16, 16))
    deep = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    frames = [Image.new("RGB", (10, 10), (90 * k, 0, 0)) for k in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    turned = Image.new("RGB", (40, 20), (0, 120, 0))
    exif = turned.getexif()
    exif[0x0112] = 6  # the camera was held on its side: display rotated by 90°
    return {
        "grey.png": png(1, colour=False),
        "rgb.jpg": encoded(noise_rgb(30, 18), "JPEG"),
        "rgba.png": encoded(rgba, "PNG"),
        "la.png": encoded(Image.new("LA", (9, 9), (40, 128)), "PNG"),
        "palette.png": encoded(palette, "PNG", transparency=0),
        "deep.png": encoded(deep, "PNG"),
        "cmyk.jpg": encoded(Image.new("CMYK", (12, 12), (0, 255, 255, 0)), "JPEG"),
        "strip.png": encoded(Image.new("L", (1, 300), 77), "PNG"),
        "large.png": encoded(Image.new("RGB", (3000, 2000), (10, 20, 30)), "PNG"),
        "animated.gif": gif.getvalue(),
        "turned.jpg": encoded(turned, "JPEG", exif=exif),
    }


def test_every_mode_and_size_is_written_as_8_bit_and_loads(tmp_path):
    special = _special_images()
    result = unpack_images([make_zip(tmp_path / "mixed.zip", special)], tmp_path / "out")
    assert (result.count, result.skipped, result.in_channels) == (len(special), {}, 3)
    files = {name: Image.open(result.root / "images" / f"{k:05d}.png") for k, name in enumerate(sorted(special))}
    assert all(image.mode in ("L", "RGB") and max(image.size) <= MAX_SIDE for image in files.values())
    assert files["large.png"].size == (MAX_SIDE, 171) and files["strip.png"].size == (1, MAX_SIDE)
    assert files["turned.jpg"].size == (20, 40)
    assert files["deep.png"].mode == "L" and files["deep.png"].getpixel((0, 0)) == 128  # 32768 / 65535
    assert files["palette.png"].getpixel((0, 0)) == (255, 255, 255)  # transparent -> the white background
    assert files["palette.png"].getpixel((12, 0)) == (200, 30, 30)
    assert files["rgba.png"].getpixel((0, 0)) == (255, 255, 255) and files["rgba.png"].getpixel((15, 0)) == (255, 0, 0)
    assert files["cmyk.jpg"].mode == "RGB" and files["cmyk.jpg"].getpixel((6, 6))[0] > 200
    for phrase in ("shrunk", "mixed sizes", "transparency flattened onto white", "first of its 3 frames", "upright"):
        assert noted(result.notes, phrase), (phrase, result.notes)
    train, test = load_both(result)
    assert len(train) + len(test) == len(special)
    assert train.batch()[0].shape == (len(train), 3, 32, 32)


def _huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims width×height pixels but holds a few bytes: a decompression bomb's header."""
    data = bytearray(encoded(Image.new("L", (1, 1)), "PNG"))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_non_images_and_unreadable_images_are_skipped_and_counted(tmp_path):
    members = images("", 10) | {"notes.txt": b"hello", "data.csv": b"1,2", "broken.png": b"\x89PNG nonsense"}
    members["bomb.png"] = _huge_png_header(20_000, 20_000)
    result = unpack_images([make_zip(tmp_path / "z.zip", members)], tmp_path / "out")
    assert result.count == 10
    assert result.skipped == {SKIP_NOT_IMAGE: 2, SKIP_UNREADABLE: 2}
    assert noted(result.notes, "skipped 2 files", "not an image", "notes.txt")
    assert noted(result.notes, "skipped 2 files", "unreadable", "bomb.png", "megapixel")


# --- refusals --------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_and_small_on_disk(tmp_path):
    upload = make_zip(tmp_path / "bomb.zip", images("", 10))
    with zipfile.ZipFile(upload, "a", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("zeros.png")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            for _ in range(200):
                member.write(bytes(MB))
    assert upload.stat().st_size < MB
    message = refusal([upload], tmp_path / "out")
    assert "bomb" in message and "zeros.png" in message


def test_a_zip_that_declares_too_much_is_refused(tmp_path):
    noise = {f"n{k}.bmp": np.random.default_rng(k).bytes(600_000) for k in range(2)}  # incompressible
    upload = make_zip(tmp_path / "big.zip", noise | images("", 10))
    message = refusal([upload], tmp_path / "out", UploadLimits(max_unpacked_bytes=MB))
    assert "bomb" in message and "would unpack to 1.1 MB" in message


def _lie_about_size(path: Path, name: str, declared: int) -> None:
    """Patch the uncompressed size of `name` in its local header and central directory entry."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo(name).header_offset
    central = data.rindex(data[offset + 4 : offset + 26]) - 6  # the same fields, after "version made by"
    data[offset + 22 : offset + 26] = struct.pack("<I", declared)
    data[central + 24 : central + 28] = struct.pack("<I", declared)
    path.write_bytes(bytes(data))


def test_a_header_that_understates_a_member_reads_no_more_than_it_declares(tmp_path):
    upload = make_zip(tmp_path / "liar.zip", images("", 10) | {"zeros.png": bytes(30 * MB)})
    _lie_about_size(upload, "zeros.png", 1000)
    assert zipfile.ZipFile(upload).getinfo("zeros.png").file_size == 1000
    tracemalloc.start()
    try:
        result = unpack_images([upload], tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * MB
    assert (result.count, result.skipped) == (10, {SKIP_UNREADABLE: 1})
    assert noted(result.notes, "zeros.png", "damaged in the zip")


def test_reading_stops_when_a_member_yields_more_than_declared(tmp_path, monkeypatch):
    """Should a zip reader ever hand over more than the header says, the read is cut and refused."""
    upload = make_zip(tmp_path / "z.zip", images("", 10) | {"liar.png": b"x" * 100})
    honest_open = zipfile.ZipFile.open

    def lying_open(self, info, *args, **kwargs):
        return io.BytesIO(bytes(10 * MB)) if info.filename == "liar.png" else honest_open(self, info, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", lying_open)
    message = refusal([upload], tmp_path / "out")
    assert "liar.png" in message and "bomb" in message


@pytest.mark.parametrize(
    "name",
    ["../evil.png", "a/../../evil.png", "/etc/evil.png", "C:/evil.png", "C:evil.png", "..\\evil.png", "\\\\srv\\x.png"],
)
def test_a_path_out_of_the_zip_is_refused_and_nothing_is_written(tmp_path, name):
    upload = make_zip(tmp_path / "z.zip", images("", 10) | {name: png(99)})
    before = sorted(tmp_path.rglob("*"))
    message = refusal([upload], tmp_path / "out")
    assert "leaves the zip's folder" in message and name in message
    assert sorted(tmp_path.rglob("*")) == before


def test_a_zip_of_text_files_is_refused_with_an_example(tmp_path):
    upload = make_zip(tmp_path / "t.zip", {f"notes{k}.txt": b"words" for k in range(12)})
    message = refusal([upload], tmp_path / "out")
    assert "12 files but none is an image" in message and "notes0.txt" in message


@pytest.mark.parametrize(
    ("members", "phrase"),
    [({}, "the zip is empty"), ({"folder/": b""}, "the zip is empty"), ({"__MACOSX/._x.png": b"x"}, "system files")],
)
def test_an_empty_zip_is_refused(tmp_path, members, phrase):
    assert phrase in refusal([make_zip(tmp_path / "e.zip", members)], tmp_path / "out")


def test_a_single_image_is_not_a_dataset(tmp_path):
    single = tmp_path / "one.png"
    single.write_bytes(png(0))
    message = refusal([single], tmp_path / "out")
    assert "at least 10 images" in message and "1 usable image" in message


def test_too_few_readable_images_are_refused_with_the_reasons(tmp_path):
    upload = make_zip(tmp_path / "z.zip", images("", 3) | {"broken.png": b"junk"})
    message = refusal([upload], tmp_path / "out")
    assert "3 usable images" in message and "broken.png" in message


@pytest.mark.parametrize("cut", [0, 100, -30])
def test_a_corrupt_zip_is_refused(tmp_path, cut):
    data = make_zip(tmp_path / "good.zip", images("", 10)).read_bytes()
    upload = tmp_path / "bad.zip"
    upload.write_bytes(data[:cut] if cut else b"this is not a zip file at all" * 10)
    assert "bad.zip is not a readable zip file" in refusal([upload], tmp_path / "out")


def test_the_size_and_count_limits(tmp_path):
    upload = make_zip(tmp_path / "z.zip", images("", 12))
    out = tmp_path / "out"
    assert "the limit is 0.0 MB" in refusal([upload], out, UploadLimits(max_upload_bytes=100))
    assert "12 entries; the limit is 11" in refusal([upload], out, UploadLimits(max_files=11))
    assert "12 images; the limit is 11" in refusal([upload], out, UploadLimits(max_images=11))
    loose = [tmp_path / f"{k}.png" for k in range(3)]
    for path in loose:
        path.write_bytes(png(1))
    assert "3 files were uploaded; the limit is 2" in refusal(loose, out, UploadLimits(max_files=2, min_images=1))
    assert "upload one zip on its own" in refusal([upload, loose[0]], out)


def test_dest_is_left_as_it_was(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UploadError):
        unpack_images([make_zip(tmp_path / "t.zip", images("", 2))], empty)
    assert empty.is_dir() and not any(empty.iterdir())
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="new or empty"):
        unpack_images([make_zip(tmp_path / "g.zip", images("", 10))], busy)
    assert [path.name for path in busy.iterdir()] == ["keep.txt"]


# --- limits from the environment ---------------------------------------------------------------


def test_limits_from_the_environment(tmp_path, monkeypatch):
    assert upload_limits_from_env() == UploadLimits()
    assert UploadLimits().max_upload_bytes == 50 * MB and UploadLimits().min_images == 10
    monkeypatch.setenv(ENV_MAX_UPLOAD_MB, "2.5")
    monkeypatch.setenv(ENV_MAX_UPLOAD_FILES, " 30 ")
    monkeypatch.setenv(ENV_MAX_TRAIN_IMAGES, "11")
    limits = upload_limits_from_env()
    assert (limits.max_upload_bytes, limits.max_unpacked_bytes) == (round(2.5 * MB), 25 * MB)
    assert (limits.max_files, limits.max_images) == (30, 11)
    upload = make_zip(tmp_path / "z.zip", images("", 12))
    assert "12 images; the limit is 11" in refusal([upload], tmp_path / "out", limits)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (ENV_MAX_UPLOAD_MB, "lots"),
        (ENV_MAX_UPLOAD_MB, "inf"),
        (ENV_MAX_UPLOAD_MB, "-5"),
        (ENV_MAX_UPLOAD_FILES, "2.5"),
        (ENV_MAX_TRAIN_IMAGES, "5"),  # below the 10 a data set needs
    ],
)
def test_a_malformed_limit_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        upload_limits_from_env()
