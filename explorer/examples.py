"""The page's example images: test images, one per class (dSprites: each shape at three scales),
written once at start-up as PNG files at the data's own size, each with a caption naming its class.

At their own size (32×32 digits, 64×64 dSprites) they go into a model unchanged, so clicking one
brings no conversion notes; the page shows them enlarged with sharp pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae_models.catalog import Catalog
from vae_models.data import DatasetUnavailableError, load_dataset
from vae_models.images import to_pil

DSPRITES_SCALES = {0: "small", 2: "mid", 5: "large"}  # of six scale steps ("medium" was cut short)
DSPRITES_CENTRE = 15.5  # posX and posY run over 32 steps: the sprites nearest the middle are shown


@dataclass(frozen=True)
class Example:
    path: str
    caption: str  # the class it shows ("7", "heart · large")


def write_examples(catalog: Catalog, folder: Path) -> dict[str, list[Example]]:
    """Per dataset of the catalog's models, its example images; datasets that cannot be loaded
    offline (a Hub model trained on MNIST, say) get none."""
    examples: dict[str, list[Example]] = {}
    for dataset in sorted({info.dataset for info in catalog.infos.values()}):
        try:
            test = load_dataset(dataset, "test", download=False)
        except (DatasetUnavailableError, ValueError):
            continue
        names = next(info.class_names for info in catalog.infos.values() if info.dataset == dataset)
        picks = _sprite_picks(test.factors.numpy(), names) if test.factors is not None else _class_picks(test, names)
        examples[dataset] = [_write(test[index][0], folder / f"{dataset}-test{index}.png", cap) for index, cap in picks]
    return examples


def _class_picks(test, names: list[str]) -> list[tuple[int, str]]:
    """The first test image of every class, in class order."""
    labels = np.asarray(test.labels)
    return [(int(np.flatnonzero(labels == k)[0]), _name(names, int(k))) for k in np.unique(labels)]


def _sprite_picks(factors: np.ndarray, names: list[str]) -> list[tuple[int, str]]:
    """Each shape at three scales: the test image of that shape and scale nearest the centre."""
    picks = []
    for shape in np.unique(factors[:, 0]):
        for scale, size in DSPRITES_SCALES.items():
            found = np.flatnonzero((factors[:, 0] == shape) & (factors[:, 1] == scale))
            if len(found):
                off_centre = np.abs(factors[found, 3:5] - DSPRITES_CENTRE).sum(1)
                picks.append((int(found[off_centre.argmin()]), f"{_name(names, int(shape))} · {size}"))
    return picks


def _name(names: list[str], index: int) -> str:
    return names[index] if index < len(names) else str(index)


def _write(image, path: Path, caption: str) -> Example:
    to_pil(image).save(path)
    return Example(str(path), caption)
