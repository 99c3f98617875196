"""Data sets as ImageDatasets of images in [0, 1], the dSprites generator, and outside images read into each.

from vae_models.data import load_dataset, read_into_domain
train = load_dataset("dsprites")  # rendered on demand, no download
x, steps = read_into_domain(photo, "digits", 1, 32)  # an outside image, read as the data was made
"""

from .dataset import DatasetUnavailableError, ImageDataset
from .dsprites import (
    DSPRITES_FACTOR_NAMES,
    DSPRITES_FACTOR_SIZES,
    dsprites_classes_to_index,
    dsprites_factor_values,
    dsprites_index_to_classes,
    dsprites_throughput,
    render_dsprites,
)
from .loading import DATASETS, load_dataset
from .reading import read_into_domain

__all__ = [
    "DATASETS",
    "DSPRITES_FACTOR_NAMES",
    "DSPRITES_FACTOR_SIZES",
    "DatasetUnavailableError",
    "ImageDataset",
    "dsprites_classes_to_index",
    "dsprites_factor_values",
    "dsprites_index_to_classes",
    "dsprites_throughput",
    "load_dataset",
    "read_into_domain",
    "render_dsprites",
]
