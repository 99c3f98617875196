"""The independent digits judge of the benchmarks: a classifier that calls which digit an image is,
trained here and never used to train or pick a model.

It learns from the digits training split and from printed digits: the 30 writers of the split
print no 1 with a base and no round-looped 6, and a judge of the split alone called those views 2
and 5, while a third of the photo benchmark is printed. The printed digits are the digits 0-9 in
the faces of Debian's fonts-urw-base35 that are designs of their own: Century Schoolbook (C059),
Palatino (P052), Bookman, Avant Garde (URW Gothic) and Zapf Chancery (Z003), each cut. Its Nimbus
faces are left out: they clone Helvetica, Times and Courier, which the photo benchmark's Liberation
fonts clone too. Each digit was read into the digits domain as an upload is (so the judge knows
print as the reading draws it, as it knows the training split in the domain the split defines),
once, and kept in printed_digits.safetensors with the faces' names and the commit it was read at,
so the judge neither needs the fonts nor moves when the reading changes: `python -m
benchmarks.judge` makes that file again.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from safetensors import safe_open
from safetensors.torch import save_file

from vae_models.classifier import ImageClassifier, train_classifier
from vae_models.data import load_dataset, read_into_domain
from vae_models.data.augment import augment, step_seed

JUDGE_PASSES = 16  # passes over the training images, all but the first freshly augmented
PRINTED_DIGITS = Path(__file__).with_name("printed_digits.safetensors")
FONT_DIR = Path("/usr/share/fonts/opentype/urw-base35")
JUDGE_FACES = ("C059", "P052", "URWBookman", "URWGothic", "Z003")
GLYPH_PT, PAGE_PX, PEN_AT = 96, 200, (50, 30)  # a glyph well inside its page on every face


def judge_fonts(font_dir: Path = FONT_DIR) -> list[Path]:
    """The JUDGE_FACES' font files, or an error that says how to install them."""
    fonts = sorted(p for p in font_dir.glob("*.otf") if p.name.startswith(JUDGE_FACES))
    if not fonts:
        raise FileNotFoundError(
            f"the digits judge's printed digits are made from the URW base 35 fonts, not found in {font_dir}: "
            "install them with `apt-get install fonts-urw-base35`"
        )
    return fonts


def read_printed_digits(fonts: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each digit in each font, dark on a white page, read into the digits domain: views
    [10 × len(fonts), 1, 32, 32] and their labels."""
    views, labels = [], []
    for path in fonts:
        font = ImageFont.truetype(str(path), GLYPH_PT)
        for digit in range(10):
            page = Image.new("RGB", (PAGE_PX, PAGE_PX), "white")
            ImageDraw.Draw(page).text(PEN_AT, str(digit), fill="black", font=font)
            views.append(read_into_domain(page, "digits", 1, 32)[0])
            labels.append(digit)
    return torch.cat(views), torch.tensor(labels)


def save_printed_digits(fonts: list[Path], path: Path = PRINTED_DIGITS) -> None:
    """The printed digits of `fonts`, read now, kept at `path` with the fonts' names and the commit."""
    views, labels = read_printed_digits(fonts)
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False)
    metadata = {"fonts": json.dumps([f.name for f in fonts]), "read at": commit.stdout.strip() or "unknown"}
    save_file({"views": views, "labels": labels}, path, metadata=metadata)


def printed_digits(path: Path = PRINTED_DIGITS) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The kept printed digits: views [N, 1, 32, 32], labels [N], and the font files they came from."""
    with safe_open(path, "pt") as kept:
        return kept.get_tensor("views"), kept.get_tensor("labels"), json.loads(kept.metadata()["fonts"])


@functools.cache  # deterministic, and seconds to train: one per process (the tests share it)
def digits_judge(seed: int = 0) -> ImageClassifier:
    """The judge: train_classifier on the training split and the printed digits, seen once as they
    are and JUDGE_PASSES - 1 times augmented with the handwriting changes the digits models train
    with, so that it knows more hands than the split's 30 writers."""
    images, labels = load_dataset("digits", "train", download=False).batch()
    printed, printed_labels, _ = printed_digits()
    images, labels = torch.cat([images, printed]), torch.cat([labels, printed_labels])
    passes = [images]
    passes += [augment(images, torch.Generator().manual_seed(step_seed(seed, k))) for k in range(1, JUDGE_PASSES)]
    return train_classifier(torch.cat(passes), labels.repeat(JUDGE_PASSES), 10, epochs=1, seed=seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.judge", description=__doc__)
    parser.add_argument("--fonts", type=Path, default=FONT_DIR, help=f"the URW base 35 folder (default {FONT_DIR})")
    save_printed_digits(judge_fonts(parser.parse_args(argv).fonts))
    print(f"wrote {PRINTED_DIGITS}")


if __name__ == "__main__":
    main()
