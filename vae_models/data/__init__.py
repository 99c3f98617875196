"""Data sets as ImageDatasets of images in [0, 1], the dSprites generator, outside images read into each, and
uploads unpacked into a folder data set.

from vae_models.data import load_dataset, read_into_domain, unpack_images
train = load_dataset("dsprites")  # rendered on demand, no download
x, steps = read_into_domain(photo, "digits", 1, 32)  # an outside image, read as the data was made
upload = unpack_images(["pets.zip"], "data/pets")  # a visitor's upload, as a "folder" data set
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
from .uploads import UnpackedImages, UploadError, UploadLimits, unpack_images

__all__ = [
    "DATASETS",
    "DSPRITES_FACTOR_NAMES",
    "DSPRITES_FACTOR_SIZES",
    "DatasetUnavailableError",
    "ImageDataset",
    "UnpackedImages",
    "UploadError",
    "UploadLimits",
    "dsprites_classes_to_index",
    "dsprites_factor_values",
    "dsprites_index_to_classes",
    "dsprites_throughput",
    "load_dataset",
    "read_into_domain",
    "render_dsprites",
    "unpack_images",
]
