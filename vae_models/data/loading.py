"""load_dataset: a data set name -> an ImageDataset of images in [0, 1].

digits, dsprites and mnist need no download: scikit-learn ships the digits, dSprites is
generated, and mnist is 5,000 MNIST digits shipped in this package (vae_models.data.mnist).
mnist-full, fashion_mnist-full, kmnist-full (all 70,000 of MNIST, Fashion-MNIST, Kuzushiji-MNIST)
and celeba come through torchvision from `root` (default $VAE_MODELS_DATA, else
~/.cache/vae_models/data), downloaded there once when missing if download=True and read from there
after; "folder" is the user's own images, one subfolder per class. Files that cannot be found or
fetched raise DatasetUnavailableError, whose message names the files and where they go.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset
from torchvision import datasets, transforms

from ..base import IMAGE_SIZES
from ..checks import require_choice, require_int
from .dataset import DatasetUnavailableError, FileImageDataset, ImageDataset, TensorImageDataset
from .dsprites import DSPRITES_COUNT, IMAGE_SIZE, DSpritesDataset
from .mnist import MNIST_FRAME, shipped_mnist, to_frame

DATASETS = ("digits", "dsprites", "mnist", "mnist-full", "fashion_mnist-full", "kmnist-full", "celeba", "folder")
SPLITS = ("train", "test")
CELEBA_SPLITS = ("train", "valid", "test", "all")  # CelebA's own partition
DATA_ROOT_ENV = "VAE_MODELS_DATA"
TEST_FRACTION = 0.15  # digits and folder have no official test set
DSPRITES_TEST_SIZE = 10_000
MNIST_TEST_SIZE = 1_000  # of the shipped 5,000: 100 of each digit
_MNIST_LIKE = {
    "mnist-full": datasets.MNIST,
    "fashion_mnist-full": datasets.FashionMNIST,
    "kmnist-full": datasets.KMNIST,
}
_DEFAULT_SIZES = {"digits": 32, "dsprites": 64, "mnist": MNIST_FRAME, "celeba": 64, "folder": 64}
_DEFAULT_SIZES |= dict.fromkeys(_MNIST_LIKE, MNIST_FRAME)
_CHANNELS = {"digits": 1, "dsprites": 1, "mnist": 1, "celeba": 3} | dict.fromkeys(_MNIST_LIKE, 1)
DIGIT_NAMES = [str(digit) for digit in range(10)]


def load_dataset(
    name: str,
    split: str = "train",
    *,
    root: str | None = None,
    download: bool = True,
    img_size: int | None = None,
    in_channels: int | None = None,
    seed: int = 0,
) -> ImageDataset:
    """Load one split of a data set; images are square, img_size pixels a side.

    dsprites "train" is all 737,280 factor combinations and "test" a seeded 10,000
    of them: disentanglement metrics sample the full factor space, as
    disentanglement_lib does, so the test split only keeps evaluation short.
    digits and folder are split 85/15 by `seed`, stratified by class; mnist (the shipped
    5,000) 4,000/1,000, stratified, by `seed`. The MNIST-like sets serve their 28x28 field
    padded to 32x32 (vae_models.data.mnist.to_frame). root and download concern the files of
    the *-full sets, celeba and folder; in_channels (1 or 3, default 3) applies to "folder",
    the others have a fixed count.
    """
    require_choice("name", name, DATASETS)
    require_choice("split", split, CELEBA_SPLITS if name == "celeba" else SPLITS)
    require_int("seed", seed, 0, 2**32 - 1)
    size = _DEFAULT_SIZES[name] if img_size is None else require_choice("img_size", img_size, IMAGE_SIZES)
    if name == "dsprites" and size != IMAGE_SIZE:
        raise ValueError(f"dsprites images are {IMAGE_SIZE}x{IMAGE_SIZE}; img_size must be {IMAGE_SIZE} or None")
    channels = _channels(name, in_channels)
    if name == "digits":
        return _digits(split, size, seed)
    if name == "dsprites":
        return _dsprites(split, seed)
    if name == "mnist":
        return _mnist(split, size, seed)
    if name == "folder":
        return _folder(root, split, size, channels, seed)
    folder = Path(root or os.environ.get(DATA_ROOT_ENV) or "~/.cache/vae_models/data").expanduser()
    if name == "celeba":
        return _celeba(folder, split, size, download)
    return _mnist_like(name, folder, split, size, download)


def _channels(name: str, in_channels: int | None) -> int:
    if name == "folder":
        return 3 if in_channels is None else require_choice("in_channels", in_channels, (1, 3))
    if in_channels not in (None, _CHANNELS[name]):
        raise ValueError(
            f"{name} images have {_CHANNELS[name]} channel(s); in_channels={in_channels!r} applies only to 'folder'"
        )
    return _CHANNELS[name]


def _holdout(labels: np.ndarray, split: str, seed: int) -> np.ndarray:
    """Sorted indices of `split` in a seeded 85/15 split, stratified unless a class is too small for it."""
    positions = np.arange(len(labels))
    try:
        train, test = train_test_split(positions, test_size=TEST_FRACTION, random_state=seed, stratify=labels)
    except ValueError:  # some class cannot appear on both sides
        train, test = train_test_split(positions, test_size=TEST_FRACTION, random_state=seed)
    return np.sort(train if split == "train" else test)


def _digits(split: str, size: int, seed: int) -> ImageDataset:
    digits = load_digits()
    keep = _holdout(digits.target, split, seed)
    return TensorImageDataset(
        torch.from_numpy(digits.images[keep]).to(torch.uint8)[:, None],  # integers 0..16
        max_value=16,
        name="digits",
        labels=torch.from_numpy(digits.target[keep]),
        class_names=DIGIT_NAMES,
        in_channels=1,
        img_size=size,
    )


def mnist_split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted train and test indices of the shipped MNIST digits: MNIST_TEST_SIZE held out, as many
    of each digit, drawn by `seed`."""
    positions = np.arange(len(labels))
    train, test = train_test_split(positions, test_size=MNIST_TEST_SIZE, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


def _mnist(split: str, size: int, seed: int) -> ImageDataset:
    images, labels = shipped_mnist()
    keep = mnist_split(labels, seed)[SPLITS.index(split)]
    return TensorImageDataset(
        torch.from_numpy(to_frame(images[keep]))[:, None],
        max_value=255,
        name="mnist",
        labels=torch.from_numpy(labels[keep]),
        class_names=DIGIT_NAMES,
        in_channels=1,
        img_size=size,
    )


def _dsprites(split: str, seed: int) -> ImageDataset:
    if split == "train":
        return DSpritesDataset(np.arange(DSPRITES_COUNT))
    rng = np.random.default_rng(seed)
    return DSpritesDataset(np.sort(rng.choice(DSPRITES_COUNT, DSPRITES_TEST_SIZE, replace=False)))


def _mnist_like(name: str, root: Path, split: str, size: int, download: bool) -> ImageDataset:
    cls = _MNIST_LIKE[name]
    raw = root / cls.__name__ / "raw"
    files = ", ".join(Path(file).stem for file, _ in cls.resources)
    how = f"Put {files} (gunzipped) in {raw}"
    if name == "mnist-full":
        how = f"For MNIST offline, use the dataset 'mnist' (5,000 MNIST digits shipped with the package). {how}"
    source = _fetch(name, root, download, how, lambda: cls(str(root), train=split == "train", download=download))
    return TensorImageDataset(
        torch.from_numpy(to_frame(source.data.numpy()))[:, None],
        max_value=255,
        name=name,
        labels=source.targets,
        class_names=DIGIT_NAMES if name == "mnist-full" else source.classes,
        in_channels=1,
        img_size=size,
    )


def _celeba(root: Path, split: str, size: int, download: bool) -> ImageDataset:
    files = ", ".join(file for _, _, file in datasets.CelebA.file_list if not file.endswith(".zip"))
    how = (
        "Downloading CelebA needs the gdown package and often hits Google Drive's quota, so put "
        f"the unzipped img_align_celeba/ folder and {files} (torchvision checks their MD5) "
        f"in {root / datasets.CelebA.base_folder}"
    )
    transform = transforms.Compose([transforms.CenterCrop(148), transforms.Resize(size), transforms.ToTensor()])
    source = _fetch(
        "celeba",
        root,
        download,
        how,
        lambda: datasets.CelebA(str(root), split=split, target_type=[], transform=transform, download=download),
    )
    count = len(source)
    return FileImageDataset(
        source,
        torch.arange(count),
        name="celeba",
        labels=torch.zeros(count, dtype=torch.long),
        class_names=["face"],
        in_channels=3,
        img_size=size,
    )


def _folder(root: str | None, split: str, size: int, channels: int, seed: int) -> ImageDataset:
    layout = "one subfolder of images per class, e.g. ROOT/cats/001.png and ROOT/dogs/001.png"
    if root is None:
        raise DatasetUnavailableError(f"folder: pass root=, a folder with {layout}")
    folder = Path(root).expanduser()
    to_mode = [transforms.Grayscale(1)] if channels == 1 else []  # ImageFolder opens every image as RGB
    resize = [transforms.Resize(size), transforms.CenterCrop(size)]  # shorter side to size, keeping the aspect
    transform = transforms.Compose([*to_mode, *resize, transforms.ToTensor()])
    try:
        source = datasets.ImageFolder(str(folder), transform=transform)
    except OSError as err:  # no such folder, no class subfolders, or a class without images
        raise DatasetUnavailableError(f"folder: no usable images under {folder} ({err}); it needs {layout}") from err
    if len(source) < 2:
        raise DatasetUnavailableError(f"folder: {folder} holds a single image; the train/test split needs 2 or more")
    labels = np.asarray(source.targets)
    keep = torch.from_numpy(_holdout(labels, split, seed))
    return FileImageDataset(
        source,
        keep,
        name="folder",
        labels=torch.from_numpy(labels)[keep],
        class_names=source.classes,
        in_channels=channels,
        img_size=size,
    )


def _fetch(name: str, root: Path, download: bool, how: str, make: Callable[[], Dataset]) -> Dataset:
    """make() a torchvision data set; a missing or unfetchable file becomes DatasetUnavailableError."""
    try:
        return make()
    except (RuntimeError, OSError) as err:  # torchvision's "Dataset not found", failed downloads
        detail = " ".join(str(err).split())
        raise DatasetUnavailableError(
            f"{name}: the files are missing or unreadable under {root} (download={download}: {detail}). "
            f"{how}, or point root= or "
            f"${DATA_ROOT_ENV} at a folder that has them, or run once with network access and download=True."
        ) from err
