"""A visitor's upload -> a folder data set that `load_dataset("folder", root=...)` reads.

The Train tab of a public page takes either one zip or a handful of image files. Everything
in them is untrusted: a zip may lie in its headers, unpack to gigabytes, or name paths outside
its folder, and an image may be a decompression bomb or in a mode ImageFolder mishandles. So
nothing is extracted by name: each image is read into memory within a byte budget, decoded by
`read_image`, brought to 8-bit L or RGB at most MAX_SIDE pixels a side, and written as
dest/<class>/<index>.png, where <class> is a sanitised folder name. Refusals raise
UploadError with a message meant for the visitor; smaller problems become notes.

Choices: an upload with more than `max_images` images is refused (not cut), so that no class
is silently dropped; images at a labelled zip's top level, outside the class folders, are
skipped and counted; an RGB image whose pixels are all grey counts as greyscale.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..checks import require_float, require_int
from ..images import ImageInputError, read_image

MB = 2**20
MAX_SIDE = 256  # longer side of a written image; training uses 128 at most
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
UNLABELLED = "images"  # the one class of an unlabelled upload
UNPACK_FACTOR = 10  # a zip may unpack to this many times the upload limit (BMP, TIFF)
RATIO_FLOOR_BYTES = MB  # a smaller member may compress well (a blank BMP) without being a bomb
DIRECTORY_BYTES_PER_FILE = 1024  # generous: a central-directory entry is 46 bytes plus its name
SKIP_NOT_IMAGE = "not an image"
SKIP_UNREADABLE = "unreadable"
SKIP_OUTSIDE = "outside the class folders"
_SYSTEM_FILES = ("__macosx", "thumbs.db", "desktop.ini")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]")
_ORIENTATION_TAG = 0x0112


class UploadError(ValueError):
    """The upload cannot be used; the message names the problem in plain words for the visitor."""


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may cost the host; a Space sets them strict, a laptop generous."""

    max_upload_bytes: int = 50 * MB
    max_files: int = 5000
    max_unpacked_bytes: int = UNPACK_FACTOR * 50 * MB
    max_ratio: float = 100.0
    min_images: int = 10
    max_images: int = 5000

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_files", "max_unpacked_bytes", "max_images"):
            require_int(name, getattr(self, name), 1, 2**62)
        require_float("max_ratio", self.max_ratio, 1.0)
        require_int("min_images", self.min_images, 1, self.max_images)


@dataclass
class UnpackedImages:
    """The written data set, and what the page should tell the visitor about it."""

    root: Path
    class_names: list[str]
    count: int
    in_channels: int
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def unpack_images(paths: Sequence[str | Path], dest: str | Path, limits: UploadLimits | None = None) -> UnpackedImages:
    """Turn one zip, or one or more image files, into dest/<class>/<index>.png.

    A zip's top-level folders (under one wrapping folder, if any) are its classes; images at its
    top level, or loose files, make one class. dest must be new or empty; on any error it is left
    as it was. limits defaults to UploadLimits().
    """
    limits = UploadLimits() if limits is None else limits
    files = [Path(path) for path in paths]
    _check_upload(files, limits)
    root = Path(dest)
    created = _prepare(root)
    try:
        if files[0].suffix.lower() == ".zip":
            with _open_zip(files[0], limits) as archive:
                return _write_dataset(_zip_items(archive, limits), root, limits, "the zip")
        return _write_dataset(_file_items(files), root, limits, "the upload")
    except BaseException:
        _discard(root, created)
        raise


# --- limits and the upload as a whole ------------------------------------------------------


def _check_upload(files: list[Path], limits: UploadLimits) -> None:
    if not files:
        raise UploadError("nothing was uploaded")
    zips = [path.name for path in files if path.suffix.lower() == ".zip"]
    if zips and len(files) > 1:
        raise UploadError(
            f"upload one zip on its own, or image files without a zip "
            f"(got {len(files)} files, among them {_shown(zips[0])})"
        )
    if len(files) > limits.max_files:
        raise UploadError(f"{len(files)} files were uploaded; the limit is {limits.max_files}")
    size = sum(_file_size(path) for path in files)
    if size > limits.max_upload_bytes:
        raise UploadError(f"the upload is {_mb(size)}; the limit is {_mb(limits.max_upload_bytes)}")


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as err:
        raise UploadError(f"cannot read the upload {_shown(path.name)}: {err.strerror or err}") from err


def _prepare(root: Path) -> bool:
    """Make sure dest is a new or empty folder; True when this call made it."""
    if not root.exists():
        root.mkdir(parents=True)
        return True
    if not root.is_dir() or any(root.iterdir()):
        raise ValueError(f"dest must be a new or empty folder: {root}")
    return False


def _discard(root: Path, created: bool) -> None:
    for child in root.iterdir():
        shutil.rmtree(child)
    if created:
        root.rmdir()


# --- what an upload holds ------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One file of the upload: its path inside the upload, split into parts, and how to read it."""

    parts: tuple[str, ...]
    read: Callable[[], bytes]

    @property
    def name(self) -> str:
        return "/".join(self.parts)


def _file_items(files: list[Path]) -> list[_Item]:
    return [_Item((path.name,), partial(_read_file, path)) for path in files]


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise ImageInputError(f"cannot read the file: {err.strerror or err}") from err


def _open_zip(path: Path, limits: UploadLimits) -> zipfile.ZipFile:
    """Open a zip once its end record says the directory is of a sane size: parsing a directory of
    a million empty entries (a few MB of upload) takes seconds and hundreds of MB."""
    try:
        with path.open("rb") as handle:
            end = zipfile._EndRecData(handle)  # the parser zipfile itself uses
    except (zipfile.BadZipFile, OSError) as err:
        raise _not_a_zip(path) from err
    if end is None:
        raise _not_a_zip(path)
    if end[zipfile._ECD_ENTRIES_TOTAL] > limits.max_files:
        raise _too_many_entries(end[zipfile._ECD_ENTRIES_TOTAL], limits)
    if end[zipfile._ECD_SIZE] > DIRECTORY_BYTES_PER_FILE * limits.max_files:
        raise UploadError(f"the zip's list of files is {_mb(end[zipfile._ECD_SIZE])}: too long for the file limit")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise _not_a_zip(path) from err


def _not_a_zip(path: Path) -> UploadError:
    return UploadError(f"{_shown(path.name)} is not a readable zip file (damaged, cut short, or another format)")


def _too_many_entries(count: int, limits: UploadLimits) -> UploadError:
    return UploadError(f"the zip holds {count} entries; the limit is {limits.max_files}")


def _zip_items(archive: zipfile.ZipFile, limits: UploadLimits) -> list[_Item]:
    """The zip's files, once every path stays inside the zip and the sizes it declares are sane."""
    entries = archive.infolist()
    if len(entries) > limits.max_files:  # the end record may have lied
        raise _too_many_entries(len(entries), limits)
    for info in entries:
        _check_member_path(info.filename)
    members = [info for info in entries if not info.is_dir()]
    if not members:
        raise UploadError("the zip is empty")
    _check_bomb(members, limits)
    budget = _Budget(limits.max_unpacked_bytes)
    return [_Item(_parts(info.filename), partial(budget.read, archive, info)) for info in members]


def _check_member_path(name: str) -> None:
    """Refuse a name that would leave its folder if extracted; names are never used as paths here,
    but such a zip was made to attack an unzipper and nothing in it is worth trusting."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in _SEPARATORS.split(name):
        raise UploadError(
            f"the zip holds a file whose path leaves the zip's folder ({_shown(name)}), so it was refused"
        )


def _parts(name: str) -> tuple[str, ...]:
    return tuple(part for part in _SEPARATORS.split(name) if part not in ("", "."))


def _check_bomb(members: list[zipfile.ZipInfo], limits: UploadLimits) -> None:
    declared = sum(info.file_size for info in members)
    if declared > limits.max_unpacked_bytes:
        raise UploadError(
            f"the zip would unpack to {_mb(declared)}; the limit is {_mb(limits.max_unpacked_bytes)} "
            "(a zip bomb?), so it was refused"
        )
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            raise UploadError(
                f"{_shown(info.filename)} would unpack to {ratio:.0f} times its stored size "
                f"(the limit is {limits.max_ratio:g}): the zip looks like a zip bomb, so it was refused"
            )


class _Budget:
    """Bytes the zip may still yield. Headers can lie, so what is actually read is capped and
    counted too: a member is never read past its declared size or the bytes left."""

    def __init__(self, left: int) -> None:
        self.left = left

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        if info.flag_bits & 0x1:
            raise ImageInputError("the file is encrypted")
        cap = min(info.file_size, self.left)
        try:
            with archive.open(info) as member:
                data = member.read(cap + 1)
        except Exception as err:  # zlib.error, BadZipFile (CRC), EOFError, NotImplementedError (method)...
            raise ImageInputError(f"damaged in the zip ({err})") from err
        if len(data) > cap:
            raise UploadError(f"{_shown(info.filename)} unpacks to more than the zip declares: a zip bomb?")
        self.left -= len(data)
        return data


# --- from files to a data set --------------------------------------------------------------


@dataclass
class _Tally:
    """What was written and skipped so far."""

    written: Counter = field(default_factory=Counter)  # class folder -> images
    skipped: Counter = field(default_factory=Counter)  # reason -> files
    examples: dict[str, str] = field(default_factory=dict)  # reason -> the first file skipped for it
    conversions: Counter = field(default_factory=Counter)  # note -> images
    sizes: set[tuple[int, int]] = field(default_factory=set)
    colour: bool = False

    def skip(self, reason: str, example: str, count: int = 1) -> None:
        self.skipped[reason] += count
        self.examples.setdefault(reason, example)

    def skip_notes(self) -> list[str]:
        return [
            f"skipped {_plural(count, 'file')}: {reason} (e.g. {self.examples[reason]})"
            for reason, count in self.skipped.items()
        ]


def _write_dataset(items: list[_Item], root: Path, limits: UploadLimits, source: str) -> UnpackedImages:
    """Sort the upload's files into images and the rest, label the images, and write those that decode."""
    tally = _Tally()
    kept = [item for item in items if not _is_system_file(item.parts)]
    if not kept:
        raise UploadError(f"{source} is empty apart from system files (such as __MACOSX or .DS_Store)")
    images = []
    for item in kept:
        if item.parts[-1].lower().endswith(IMAGE_SUFFIXES):
            images.append(item)
        else:
            tally.skip(SKIP_NOT_IMAGE, _shown(item.name))
    if not images:
        raise UploadError(
            f"{source} holds {_plural(len(kept), 'file')} but none is an image (e.g. {_shown(kept[0].name)}); "
            f"images are {', '.join(IMAGE_SUFFIXES)} files"
        )
    if len(images) > limits.max_images:
        raise UploadError(f"{source} holds {len(images)} images; the limit is {limits.max_images}: upload fewer")
    pairs, labelled = _label(images, tally)
    for folder, item in pairs:
        _write_one(item, root / folder, tally)
    return _result(root, tally, labelled, limits)


def _is_system_file(parts: tuple[str, ...]) -> bool:
    """__MACOSX/, dotfiles and dot-folders, Thumbs.db: written by the OS, not chosen by the visitor."""
    return any(part.startswith(".") or part.lower() in _SYSTEM_FILES for part in parts)


def _label(images: list[_Item], tally: _Tally) -> tuple[list[tuple[str, _Item]], bool]:
    """(class folder, image) pairs in writing order, and whether they are labelled by folder.

    Folders every image shares (zipping a folder wraps it in one) are opened; the top-level
    folders below them are the classes. With no folders left, the upload is one class.
    """
    depth = 0
    while len({item.parts[depth] for item in images}) == 1 and all(len(item.parts) > depth + 1 for item in images):
        depth += 1
    inside = [item for item in images if len(item.parts) > depth + 1]
    if not inside:
        return sorted(((UNLABELLED, item) for item in images), key=lambda pair: pair[1].name), False
    for item in images:
        if len(item.parts) == depth + 1:
            tally.skip(SKIP_OUTSIDE, _shown(item.name))
    folders = _class_folders(item.parts[depth] for item in inside)
    pairs = sorted(((folders[item.parts[depth]], item) for item in inside), key=lambda pair: (pair[0], pair[1].name))
    return pairs, True


def _class_folders(names: Iterable[str]) -> dict[str, str]:
    """Folder names from the zip -> safe folder names: no separators, not '.' or '..', not empty,
    unique even on a case-insensitive file system."""
    folders: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(set(names)):
        safe = re.sub(r"[^\w\-. ]+", "_", unicodedata.normalize("NFC", name)).strip(" ._")[:64] or "class"
        folder, number = safe, 1
        while folder.casefold() in taken:
            number += 1
            folder = f"{safe}_{number}"
        taken.add(folder.casefold())
        folders[name] = folder
    return folders


def _write_one(item: _Item, folder: Path, tally: _Tally) -> None:
    try:
        image, notes = _as_8bit(item.read())
    except ImageInputError as err:
        tally.skip(SKIP_UNREADABLE, f"{_shown(item.name)}: {err}")
        return
    folder.mkdir(exist_ok=True)
    image.save(folder / f"{tally.written[folder.name]:05d}.png", format="PNG")
    tally.written[folder.name] += 1
    tally.conversions.update(notes)
    tally.sizes.add(image.size)
    tally.colour |= image.mode == "RGB"


def _as_8bit(data: bytes) -> tuple[Image.Image, list[str]]:
    """Decode (read_image guards against decompression bombs and flattens any mode to L, RGB or
    grey floats), turn upright, scale floats to 8 bits, shrink, and store grey RGB as L."""
    image, notes = read_image(data)
    if image.getexif().get(_ORIENTATION_TAG, 1) != 1:
        image = ImageOps.exif_transpose(image)
        notes.append("turned upright, as the camera's orientation tag says")
    if image.mode == "F":  # grey in [0, 1] from 16-bit or float images
        image = Image.fromarray(np.round(np.asarray(image, dtype=np.float32) * 255).astype(np.uint8))
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        notes.append(f"shrunk so the longer side is {MAX_SIDE} px")
    if image.mode == "RGB" and np.ptp(np.asarray(image), axis=2).max() == 0:
        image = image.convert("L")
    return image, notes


def _result(root: Path, tally: _Tally, labelled: bool, limits: UploadLimits) -> UnpackedImages:
    """The data set as written, or UploadError when too few images could be used."""
    count = sum(tally.written.values())
    if count < limits.min_images:
        needs = f"a dataset needs at least {limits.min_images} images; this upload has {_plural(count, 'usable image')}"
        raise UploadError("; ".join([needs, *tally.skip_notes()]))
    classes = sorted(tally.written)
    shown = ", ".join(classes[:10]) + (", …" if len(classes) > 10 else "")
    how = f"labelled by folder: {_plural(len(classes), 'class', 'classes')} ({shown})"
    notes = [how if labelled else "unlabelled: one class", *tally.skip_notes()]
    notes += [f"{note}: {_plural(n, 'image')}" for note, n in tally.conversions.items()]
    if len(tally.sizes) > 1 or any(width != height for width, height in tally.sizes):
        notes.append("images of mixed sizes or shapes are resized and centre-cropped to a square when loaded")
    return UnpackedImages(
        root=root,
        class_names=classes,
        count=count,
        in_channels=3 if tally.colour else 1,
        skipped=dict(tally.skipped),
        notes=notes,
    )


# --- wording --------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _shown(name: str) -> str:
    """A file name as the page may show it: printable and short."""
    printable = "".join(char if char.isprintable() else "?" for char in name)
    return printable if len(printable) <= 80 else printable[:77] + "…"
