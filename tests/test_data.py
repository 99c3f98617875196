"""The data module: digits, the dSprites generator, torchvision data sets offline, and image folders."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.datasets.celeba
from PIL import Image
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader

from vae_models.data import (
    DATASETS,
    DSPRITES_FACTOR_NAMES,
    DSPRITES_FACTOR_SIZES,
    DatasetUnavailableError,
    dsprites_classes_to_index,
    dsprites_factor_values,
    dsprites_index_to_classes,
    dsprites_throughput,
    load_dataset,
    render_dsprites,
)
from vae_models.data import dsprites as dsprites_module

SQUARE, ELLIPSE, HEART = 0, 1, 2
LAST = 5  # scale class 1.0
ORIENTATIONS = dsprites_factor_values()["orientation"]


def sprite(shape: int, scale: int = LAST, orientation: int = 0, pos_x: int = 15, pos_y: int = 15) -> np.ndarray:
    """The [64, 64] image of one sprite, as a numpy bool array."""
    return render_dsprites([[shape, scale, orientation, pos_x, pos_y]])[0, 0].numpy() > 0.5


def extent(mask: np.ndarray) -> tuple[int, int]:
    """(width, height) in pixels of the bounding box of a mask."""
    rows, cols = np.nonzero(mask)
    return int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


def axis_angle(mask: np.ndarray) -> float:
    """Angle of the mask's long axis as displayed, counter-clockwise from the right, in [0, π)."""
    rows, cols = np.nonzero(mask)
    up = -(rows - rows.mean())  # screen rows grow downwards
    right = cols - cols.mean()
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(np.stack([right, up])))
    x, y = eigenvectors[:, np.argmax(eigenvalues)]
    return math.atan2(y, x) % math.pi


# --- digits ---------------------------------------------------------------------------------------------


def test_digits_shapes_range_split_and_stratification():
    train, test = load_dataset("digits"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1527, 270)
    image, label = train[0]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32 and isinstance(label, int)
    images = torch.stack([train[i][0] for i in range(len(train))])
    assert images.min() >= 0 and images.max() <= 1 and images.max() > 0.9
    assert (train.in_channels, train.img_size, train.name) == (1, 32, "digits")
    assert train.class_names == [str(d) for d in range(10)]
    assert train.factors is None and train.factor_names == ()
    all_counts = np.bincount(load_digits().target)
    test_counts = test.labels.bincount().numpy()
    assert np.all(np.abs(test_counts - 0.15 * all_counts) <= 1)  # each class keeps its share
    assert torch.equal(train.labels.bincount() + test.labels.bincount(), torch.from_numpy(all_counts))


def test_digits_pixels_are_sklearn_over_16_resized_bilinearly():
    digits = load_digits()
    train = load_dataset("digits", img_size=16)
    native = train.pixels[7, 0].numpy()
    assert train.labels[7] in digits.target[(digits.images == native).all(axis=(1, 2))]
    expected = F.interpolate(
        torch.from_numpy(native).float()[None, None] / 16, size=16, mode="bilinear", align_corners=False
    )
    assert torch.allclose(train[7][0], expected[0].clamp(0, 1))


def test_digits_split_is_deterministic_per_seed():
    first, again, other = (load_dataset("digits", "test", seed=s) for s in (0, 0, 1))
    assert torch.equal(first.pixels, again.pixels) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.pixels, other.pixels)


# --- dSprites: factors and indices ----------------------------------------------------------------------


def test_dsprites_splits_cover_the_factor_space():
    train = load_dataset("dsprites")
    assert len(train) == 737_280 == math.prod(DSPRITES_FACTOR_SIZES)
    assert train.factors.shape == (737_280, 5) and train.factors.dtype == torch.long
    assert torch.equal(train.labels, train.factors[:, 0])
    assert train.factor_names == DSPRITES_FACTOR_NAMES == ("shape", "scale", "orientation", "posX", "posY")
    assert train.class_names == ["square", "ellipse", "heart"]
    assert (train.in_channels, train.img_size) == (1, 64)
    assert np.array_equal(dsprites_classes_to_index(train.factors.numpy()), np.arange(737_280))
    test, again, other = (load_dataset("dsprites", "test", seed=s) for s in (0, 0, 1))
    assert len(test) == 10_000 and torch.equal(test.factors, again.factors)
    assert not torch.equal(test.factors, other.factors)
    assert len(np.unique(dsprites_classes_to_index(test.factors.numpy()))) == 10_000


def test_dsprites_index_round_trip_and_order():
    edges = [0, 1, 31, 32, 1023, 1024, 40959, 40960, 245759, 245760, 737279]
    index = np.concatenate([edges, np.random.default_rng(0).integers(0, 737_280, 1000)])
    classes = dsprites_index_to_classes(index)
    assert classes.dtype == np.int64 and classes.shape == (len(index), 5)
    assert np.array_equal(dsprites_classes_to_index(classes), index)
    assert np.all((classes >= 0) & (classes < np.array(DSPRITES_FACTOR_SIZES)))
    assert classes[:4].tolist() == [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 31], [0, 0, 0, 1, 0]]  # posY fastest
    assert classes[[5, 7, 9, 10]].tolist() == [[0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [2, 5, 39, 31, 31]]
    with pytest.raises(ValueError):
        dsprites_index_to_classes([737_280])
    with pytest.raises(ValueError):
        dsprites_classes_to_index([[3, 0, 0, 0, 0]])
    with pytest.raises(ValueError):
        render_dsprites([[0, 0, 0, 0]])


def test_dsprites_factor_values():
    values = dsprites_factor_values()
    assert tuple(values) == DSPRITES_FACTOR_NAMES
    assert tuple(len(v) for v in values.values()) == DSPRITES_FACTOR_SIZES
    assert np.allclose(values["scale"], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert values["orientation"][0] == 0 and np.isclose(values["orientation"][-1], 2 * np.pi)
    assert values["posX"][0] == 0 and values["posY"][-1] == 1


# --- dSprites: geometry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE, HEART])
@pytest.mark.parametrize("pos_x, pos_y", [(0, 0), (31, 0), (0, 31), (31, 31), (15, 15), (24, 7)])
@pytest.mark.parametrize("orientation", [0, 13])
def test_sprite_centroid_is_at_16_plus_32_pos(shape, pos_x, pos_y, orientation):
    rows, cols = np.nonzero(sprite(shape, LAST, orientation, pos_x, pos_y))
    assert abs(cols.mean() - (16 + 32 * pos_x / 31)) < 1  # posX is the column
    assert abs(rows.mean() - (16 + 32 * pos_y / 31)) < 1  # posY is the row, 0 at the top


def test_square_side_is_20_times_scale():
    for scale, value in enumerate(dsprites_factor_values()["scale"]):
        width, height = extent(sprite(SQUARE, scale))
        assert abs(width - 20 * value) <= 1 and abs(height - 20 * value) <= 1


def test_ellipse_is_26_by_14_and_turns_upright():
    assert np.allclose(extent(sprite(ELLIPSE)), (26, 14), atol=1)
    assert np.allclose(extent(sprite(ELLIPSE, orientation=10)), (14, 26), atol=1)  # 10/39 turn = 92°
    assert np.allclose(extent(sprite(ELLIPSE, scale=0)), (13, 7), atol=1)


def test_heart_is_20_by_17_point_down():
    mask = sprite(HEART)
    assert np.allclose(extent(mask), (20, 17), atol=1)
    rows = np.nonzero(mask.any(axis=1))[0]
    widths = mask[rows].sum(axis=1)
    middle = (rows[0] + rows[-1]) / 2
    assert mask[: math.floor(middle)].sum() > 1.5 * mask[math.ceil(middle) + 1 :].sum()  # lobes above
    assert widths[-1] < widths.max() / 4 and widths[-1] < widths[0]  # the point is the bottom row
    assert np.argmax(widths) < len(widths) / 2


def test_rotation_is_counter_clockwise_on_screen():
    # At π/4 the ellipse's long axis runs from bottom-left to top-right as displayed.
    mask = sprite(ELLIPSE, orientation=5)  # 5/39 turn = 46°
    rows, cols = np.nonzero(mask)
    assert np.corrcoef(cols, rows)[0, 1] < -0.5  # rightwards goes up
    for orientation in range(0, 40, 3):
        measured = axis_angle(sprite(ELLIPSE, orientation=orientation))
        error = abs((measured - ORIENTATIONS[orientation] + math.pi / 2) % math.pi - math.pi / 2)
        assert error < math.radians(4), orientation
    # A quarter turn counter-clockwise moves the heart's point from the bottom to the right.
    rows, cols = np.nonzero(sprite(HEART, orientation=10, pos_x=15))
    assert cols.mean() < (cols.min() + cols.max()) / 2 - 0.5


def test_images_are_binary_float_and_deterministic():
    classes = np.random.default_rng(1).integers(0, DSPRITES_FACTOR_SIZES, size=(500, 5))
    threads = torch.get_num_threads()
    images = render_dsprites(classes)
    assert torch.get_num_threads() == threads  # rendering runs on one thread, then gives the others back
    assert images.shape == (500, 1, 64, 64) and images.dtype == torch.float32
    assert set(images.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(images, render_dsprites(torch.from_numpy(classes)))
    assert torch.equal(images[123:124], render_dsprites(classes[123:124]))  # batch composition does not matter
    assert images.sum((1, 2, 3)).min() > 20  # nothing vanishes, even at scale 0.5
    assert render_dsprites(np.zeros((0, 5), dtype=np.int64)).shape == (0, 1, 64, 64)


def test_outline_subsampling_equals_subsampling_every_pixel():
    classes = np.random.default_rng(2).integers(0, DSPRITES_FACTOR_SIZES, size=(300, 5))
    assert torch.equal(render_dsprites(classes), _brute_force(classes))


def _brute_force(classes: np.ndarray) -> torch.Tensor:
    """4x4 sub-samples in every pixel of the 64x64 frame, through the module's own shape tests."""
    images = torch.empty(len(classes), 1, 64, 64)
    values = {name: torch.from_numpy(v).float() for name, v in dsprites_factor_values().items()}
    sub = (torch.arange(64 * 4) + 0.5) / 4 - 0.5
    for shape in (SQUARE, ELLIPSE, HEART):
        chosen = np.flatnonzero(classes[:, 0] == shape)
        sprites = torch.from_numpy(classes[chosen])
        centre = 16 + 32 * torch.stack([values["posX"][sprites[:, 3]], values["posY"][sprites[:, 4]]], 1)
        coef = dsprites_module._window_coefficients(sprites, centre, torch.zeros(len(chosen), 2))
        shape_bounds = torch.tensor([0] * (shape + 1) + [len(chosen)] * (3 - shape))
        hits = dsprites_module._inside(coef[:, None, None], sub[:, None], sub, shape_bounds)
        images[chosen, 0] = (hits.view(-1, 64, 4, 64, 4).sum((2, 4)) >= 8).float()
    return images


def test_dsprites_throughput(capsys):
    rate = dsprites_throughput(4096)
    with capsys.disabled():
        print(f"\ndSprites generator: {rate:,.0f} images/s in batches of 64")
    assert rate > 2000


# --- ImageDataset protocol ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digits", "dsprites"])
def test_getitems_equals_stacked_getitem(name):
    dataset = load_dataset(name, "test")
    indices = [5, 0, len(dataset) - 1, 5, 77]
    batch = dataset.__getitems__(indices)
    assert [label for _, label in batch] == [dataset[i][1] for i in indices]
    assert torch.equal(torch.stack([image for image, _ in batch]), torch.stack([dataset[i][0] for i in indices]))
    assert torch.equal(dataset[-1][0], dataset[len(dataset) - 1][0])
    with pytest.raises(IndexError):
        dataset[len(dataset)]


def test_dsprites_items_render_their_factors():
    dataset = load_dataset("dsprites", "test")
    image, label = dataset[42]
    assert label == dataset.factors[42, 0]
    assert torch.equal(image, render_dsprites(dataset.factors[42:43])[0])


def test_dataloader_batches_through_getitems(monkeypatch):
    dataset = load_dataset("dsprites", "test")
    calls = []
    original = type(dataset).__getitems__
    monkeypatch.setattr(type(dataset), "__getitems__", lambda self, i: calls.append(len(i)) or original(self, i))
    images, labels = next(iter(DataLoader(dataset, batch_size=16, shuffle=True)))
    assert images.shape == (16, 1, 64, 64) and labels.dtype == torch.long
    assert calls == [16]


def test_argument_checks():
    assert DATASETS == (
        "digits",
        "dsprites",
        "mnist",
        "mnist-full",
        "fashion_mnist-full",
        "kmnist-full",
        "celeba",
        "folder",
    )
    with pytest.raises(ValueError, match="name"):
        load_dataset("cifar10")
    with pytest.raises(ValueError, match="split"):
        load_dataset("digits", "valid")
    with pytest.raises(ValueError, match="img_size"):
        load_dataset("digits", img_size=30)
    with pytest.raises(ValueError, match="64"):
        load_dataset("dsprites", img_size=32)
    with pytest.raises(ValueError, match="in_channels"):
        load_dataset("mnist", in_channels=3)


# --- torchvision data sets, offline ---------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX file of uint8, the format of the MNIST files."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Tiny MNIST-format files where torchvision looks: root/<folder>/raw/{train,t10k}-*-idx*-ubyte."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = {}
    for prefix, count in (("train", 12), ("t10k", 5)):
        images, labels = rng.integers(0, 256, (count, 28, 28)), rng.integers(0, 10, count)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        data[prefix] = images, labels
    return data


@pytest.fixture
def no_network(monkeypatch):
    """Mock only the network: torchvision downloads through urllib.request.urlopen, which now fails."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize(
    "name, folder", [("mnist-full", "MNIST"), ("fashion_mnist-full", "FashionMNIST"), ("kmnist-full", "KMNIST")]
)
def test_mnist_like_files_present(tmp_path, no_network, name, folder):
    data = write_mnist(tmp_path, folder)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        dataset = load_dataset(name, split, root=str(tmp_path), download=True)  # present: nothing to fetch
        images, labels = data[prefix]
        assert len(dataset) == len(labels) and dataset.labels.tolist() == labels.tolist()
        expected = F.pad(torch.from_numpy(images).float()[:, None] / 255, (2, 2, 2, 2))  # 28x28 framed in 32x32
        batch = dataset.__getitems__(list(range(len(dataset))))
        assert torch.equal(torch.stack([image for image, _ in batch]), expected)
        assert (dataset.in_channels, dataset.img_size, len(dataset.class_names)) == (1, 32, 10)
    assert load_dataset(name, root=str(tmp_path), img_size=16)[0][0].shape == (1, 16, 16)


def test_mnist_root_from_environment(tmp_path, monkeypatch):
    write_mnist(tmp_path, "MNIST")
    monkeypatch.setenv("VAE_MODELS_DATA", str(tmp_path))
    assert len(load_dataset("mnist-full", "test", download=False)) == 5


def test_mnist_missing_without_download(tmp_path):
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("mnist-full", root=str(tmp_path), download=False)
    message = str(caught.value)
    for needed in ("mnist-full", str(tmp_path / "MNIST" / "raw"), "train-images-idx3-ubyte", "download=False"):
        assert needed in message


def test_mnist_missing_and_download_fails(tmp_path, no_network):
    with pytest.raises(DatasetUnavailableError, match="download=True: Error downloading") as caught:
        load_dataset("fashion_mnist-full", root=str(tmp_path), download=True)
    assert "network disabled in tests" in str(caught.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in str(caught.value)


def test_celeba_missing(tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError, match="img_align_celeba") as caught:
        load_dataset("celeba", root=str(tmp_path), download=False)
    assert str(tmp_path / "celeba") in str(caught.value)

    # Mock only the network: CelebA downloads from Google Drive through this function.
    def refuse(*args, **kwargs):
        raise RuntimeError("network disabled in tests")

    monkeypatch.setattr(torchvision.datasets.celeba, "download_file_from_google_drive", refuse)
    with pytest.raises(DatasetUnavailableError, match="network disabled in tests"):
        load_dataset("celeba", root=str(tmp_path), download=True)


# --- image folders --------------------------------------------------------------------------------------


def write_folder(root: Path, counts: dict[str, int]) -> None:
    """PNGs of random colours, 30 wide and 20 tall, in root/<class>/."""
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(root / name / f"{i}.png")


def test_folder_dataset(tmp_path):
    write_folder(tmp_path, {"cats": 7, "dogs": 6})
    train = load_dataset("folder", root=str(tmp_path), img_size=16)
    test = load_dataset("folder", "test", root=str(tmp_path), img_size=16)
    assert (len(train), len(test)) == (11, 2) and sorted(test.labels.tolist()) == [0, 1]
    assert train.class_names == ["cats", "dogs"] and train.in_channels == 3
    image, label = train[0]
    assert image.shape == (3, 16, 16) and image.min() >= 0 and image.max() <= 1 and label == 0
    gray = load_dataset("folder", root=str(tmp_path), in_channels=1)
    assert gray[3][0].shape == (1, 64, 64) and gray.in_channels == 1
    batch = gray.__getitems__([3, 1])
    assert torch.equal(torch.stack([batch[0][0], batch[1][0]]), torch.stack([gray[3][0], gray[1][0]]))


@pytest.mark.parametrize("layout", ["missing", "empty", "no class folders", "empty class"])
def test_folder_unavailable(tmp_path, layout):
    root = tmp_path / "images"
    if layout != "missing":
        root.mkdir()
    if layout == "no class folders":
        Image.new("RGB", (8, 8)).save(root / "loose.png")
    if layout == "empty class":
        write_folder(root, {"cats": 3})
        (root / "dogs").mkdir()
    with pytest.raises(DatasetUnavailableError, match="subfolder"):
        load_dataset("folder", root=str(root))


def test_folder_needs_root():
    with pytest.raises(DatasetUnavailableError, match="root="):
        load_dataset("folder")


def test_batch_gives_the_images_and_labels_of_getitems_as_two_tensors():
    dataset = load_dataset("digits", "test", download=False)
    images, labels = dataset.batch([3, 0, 7])
    pairs = dataset.__getitems__([3, 0, 7])
    assert images.shape == (3, *pairs[0][0].shape) and labels.dtype == torch.long
    assert torch.equal(images, torch.stack([image for image, _ in pairs]))
    assert labels.tolist() == [label for _, label in pairs]
    everything, all_labels = dataset.batch()
    assert len(everything) == len(dataset) and torch.equal(all_labels, dataset.labels)
    with pytest.raises(IndexError, match="out of range"):
        dataset.batch([len(dataset)])
