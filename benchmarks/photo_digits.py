"""python -m benchmarks.photo_digits [--count 60] [--seed 0] [--judge-seed 0] [--checkpoints DIR]
                                    [--save DIR] [--json FILE]

Photographed-style digits with known labels, each uploaded to the real app's /reconstruct (on a
loopback port, through gradio_client, as a script or the page calls it) for vanilla_vae-digits and
for cvae-digits on "auto (best fit)", and judged: the share whose model view (the read 8x8 input,
as the page shows it, at the model's size) and whose reconstruction an independent classifier calls
the digit written, with its 95% Wilson interval. Also the class the CVAE read by its own posterior
(the line under the view), right on these photos and on the digits test set, and the median time
to read and reconstruct a 12-megapixel photo in-process.

The photos are seeded: pen strokes drawn from per-digit stroke templates with jitter, slant and a
pen from a fine liner to a marker, and printed digits in the machine's fonts (Pillow's own font
when none is found), pasted onto uneven off-white paper with noise, a slight rotation, blur and
JPEG, the digit 35-80% of the photo's height, anywhere on it. The judge is benchmarks.judge's
digits_judge (seed 0 unless --judge-seed): train_classifier on the digits training split and on
printed digits in typefaces these photos do not use, 16 passes of which 15 are augmented
(vae_models.data.augment); never used to train or pick a model.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from vae_models import explore
from vae_models.classifier import ImageClassifier
from vae_models.cvae import ConditionalVAE
from vae_models.data import load_dataset, read_into_domain
from vae_models.images import read_image, to_pil
from vae_models.loading import load_model

from .judge import digits_judge
from .server import AppServer
from .timing import time_calls

if TYPE_CHECKING:
    from gradio_client import Client

BARS = {"model view": 0.95, "reconstruction": 0.85}
MODELS = ("vanilla_vae-digits", "cvae-digits")
AUTO = "auto (best fit)"  # a conditional model's class, read by its own likelihood
CLASS_READ = re.compile(r"read as an? (\d), p = ")  # the page's line: "read as an 8, p = 0.93"
CALL_TIMEOUT_S = 60
PHOTO_SIZE = (800, 600)
BIG_PHOTO_SIZE = (4000, 3000)  # 12 megapixels
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationMono-Regular.ttf",
)
Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 24) -> Stroke:
    """Points along an ellipse from `start` to `end` degrees; y grows downwards, so 270° is the top."""
    angles = np.radians(np.linspace(start, end, points))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles), strict=True))


# Each digit as strokes in a unit box (x right, y down), the way it is commonly written.
TEMPLATES: dict[int, list[Stroke]] = {
    0: [_arc(0.5, 0.5, 0.45, 0.5, -90, 275, 40)],
    1: [[(0.2, 0.25), (0.6, 0.0), (0.6, 1.0)]],
    2: [[*_arc(0.5, 0.3, 0.42, 0.3, 190, 400), (0.05, 1.0), (0.95, 1.0)]],
    3: [[*_arc(0.5, 0.26, 0.4, 0.26, 200, 450), *_arc(0.5, 0.73, 0.45, 0.27, 270, 520)]],
    4: [[(0.65, 0.0), (0.05, 0.65), (0.95, 0.65)], [(0.7, 0.3), (0.7, 1.0)]],
    5: [[(0.85, 0.0), (0.2, 0.0), (0.15, 0.45)], _arc(0.48, 0.7, 0.4, 0.3, 235, 500)],
    6: [[*_arc(0.55, 0.55, 0.45, 0.55, 300, 180), *_arc(0.5, 0.72, 0.4, 0.28, 180, -180, 36)]],
    7: [[(0.05, 0.0), (0.95, 0.0), (0.35, 1.0)]],
    8: [_arc(0.5, 0.25, 0.33, 0.25, 0, 360, 36), _arc(0.5, 0.73, 0.42, 0.27, 0, 360, 36)],
    9: [[*_arc(0.45, 0.28, 0.38, 0.28, 0, 360, 36), (0.8, 0.3), (0.75, 1.0)]],
}


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    label: int
    kind: str  # "pen" or the font's file name


@dataclass(frozen=True)
class Hand:
    """One hand-drawn digit: its strokes in a box `width` × 1 high (x right, y down), and the pen's
    width as a share of the height."""

    strokes: list[np.ndarray]  # each [points, 2]
    width: float
    pen: float


def hand(digit: int, rng: np.random.Generator) -> Hand:
    """The digit's template jittered, slanted and squeezed, with a pen 1.5-12% of the height wide."""
    aspect, slant = rng.uniform(0.55, 0.85), rng.uniform(-0.25, 0.15)
    pen = rng.uniform(0.015, 0.12)
    wobble = rng.normal(0, 0.02, 4)  # a per-digit bend, on top of each point's tremor
    strokes = []
    for stroke in TEMPLATES[digit]:
        points = np.asarray(stroke) + rng.normal(0, 0.012, (len(stroke), 2))
        x, y = points[:, 0], points[:, 1]
        x = x + wobble[0] * np.sin(math.pi * y) + wobble[1] * y
        y = y + wobble[2] * np.sin(math.pi * x) + wobble[3] * x
        strokes.append(np.stack([aspect * x + slant * (0.5 - y) + abs(slant) / 2, y], 1))
    return Hand(strokes, aspect + abs(slant), pen)


def handwritten(digit: int, height: int, rng: np.random.Generator) -> Image.Image:
    """A mask (L, 255 = ink) of one hand-drawn digit `height` pixels tall, drawn with round ends."""
    drawn = hand(digit, rng)
    pen = max(1, round(height * drawn.pen))
    margin = pen + 2
    mask = Image.new("L", (round(height * drawn.width) + 2 * margin, height + 2 * margin))
    draw = ImageDraw.Draw(mask)
    for stroke in drawn.strokes:
        line = [(margin + height * x, margin + height * y) for x, y in stroke.tolist()]
        draw.line(line, fill=255, width=pen, joint="curve")
        for cx, cy in (line[0], line[-1]):
            draw.ellipse((cx - pen / 2, cy - pen / 2, cx + pen / 2, cy + pen / 2), fill=255)
    return mask


def available_fonts() -> list[str]:
    """The FONTS this machine has (Pillow searches the system's font folders), else Pillow's own."""
    found = []
    for name in FONTS:
        try:
            ImageFont.truetype(name, 12)
        except OSError:
            continue
        found.append(name)
    return found or ["pillow-default"]


def printed(digit: int, height: int, font_name: str) -> Image.Image:
    """A mask of one digit in `font_name`, cropped to its ink and `height` pixels tall."""
    size = height * 2
    default = font_name == "pillow-default"
    font = ImageFont.load_default(size=size) if default else ImageFont.truetype(font_name, size)
    canvas = Image.new("L", (size * 2, size * 2))
    ImageDraw.Draw(canvas).text((size // 2, size // 4), str(digit), fill=255, font=font)
    glyph = canvas.crop(canvas.getbbox())
    return glyph.resize((max(1, round(glyph.width * height / glyph.height)), height), Image.Resampling.LANCZOS)


def photograph(ink: Image.Image, size: tuple[int, int], rng: np.random.Generator) -> bytes:
    """The ink mask turned ±10°, scaled to 35-80% of the photo's height, put anywhere on_paper."""
    width, height = size
    ink = ink.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BICUBIC, expand=True)
    scale = rng.uniform(0.35, 0.8) * height / ink.height
    ink = ink.resize((max(1, round(ink.width * scale)), max(1, round(ink.height * scale))), Image.Resampling.LANCZOS)
    placed = Image.new("L", size)
    placed.paste(ink, (int(rng.integers(0, width - ink.width + 1)), int(rng.integers(0, height - ink.height + 1))))
    return on_paper(placed, rng)


def on_paper(ink: Image.Image, rng: np.random.Generator) -> bytes:
    """An ink mask (L, 255 = ink) as ink on uneven off-white paper, photographed: a light gradient
    and a vignette, noise and a little blur, as a JPEG of the mask's size."""
    width, height = ink.size
    alpha = np.asarray(ink, dtype=np.float32)[..., None] / 255 * rng.uniform(0.8, 1.0)
    paper = rng.uniform(215, 248) - np.array([0.0, 3.0, 12.0]) * rng.uniform(0, 1)  # white to cream
    ink_colour = rng.choice([[25, 25, 30], [30, 40, 110], [80, 80, 85]])
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (cols / width - 0.5) * math.cos(angle) + (rows / height - 0.5) * math.sin(angle)
    radius2 = ((cols - rng.uniform(0, width)) / width) ** 2 + ((rows - rng.uniform(0, height)) / height) ** 2
    light = (1 - rng.uniform(0, 0.35) * (ramp + 0.5)) * (1 - rng.uniform(0, 0.3) * radius2)
    pixels = (paper * (1 - alpha) + ink_colour * alpha) * light[..., None]
    pixels += rng.normal(0, rng.uniform(2, 6), pixels.shape)
    picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2) * max(ink.size) / 800))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=int(rng.integers(80, 93)))
    return buffer.getvalue()


def make_photos(count: int, seed: int, size: tuple[int, int] = PHOTO_SIZE) -> list[Photo]:
    """`count` photos, the digits in turn 0..9; two in three are pen-written, the rest printed."""
    rng = np.random.default_rng(seed)
    fonts = available_fonts()
    photos = []
    for index in range(count):
        digit, drawn_height = index % 10, max(64, size[1] // 2)
        if rng.uniform() < 2 / 3:
            ink, kind = handwritten(digit, drawn_height, rng), "pen"
        else:
            kind = fonts[int(rng.integers(len(fonts)))]
            ink = printed(digit, drawn_height, kind)
        photos.append(Photo(photograph(ink, size, rng), digit, kind))
    return photos


def at_model_size(picture: Image.Image) -> torch.Tensor:
    """A picture the page shows, back at the digits models' 32×32 ([1, 32, 32] in [0, 1]): the page
    enlarges by pixel repetition, so block means give the pixels back."""
    if picture.width != picture.height or picture.width % 32:
        raise ValueError(f"a picture of {picture.size} is no 32×32 image enlarged by pixel repetition")
    small = picture.convert("L").resize((32, 32), Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255)[None]


def class_read(note: str) -> int | None:
    """The digit a conditional model read, from the line under the view; None where it says none."""
    found = CLASS_READ.search(note)
    return None if found is None else int(found.group(1))


@dataclass(frozen=True)
class Answers:
    """What /reconstruct answered for each photo, at the model's size."""

    views: torch.Tensor  # [N, 1, 32, 32]: "Input as the model sees it"
    reconstructions: torch.Tensor
    classes: list[int | None]  # a conditional model's class read on "auto"


def opened_at_model_size(path: str) -> torch.Tensor:
    """A picture file the app answered, at the model's size."""
    with Image.open(path) as picture:
        return at_model_size(picture)


def upload_all(client: Client, model: str, photos: list[Photo], folder: Path, reads_class: bool) -> Answers:
    """Each photo uploaded to /reconstruct for `model`, as read from the file (the reading is on).
    A model that `reads_class` must name the class it read on the line under the view."""
    from gradio_client import handle_file

    views, reconstructions, classes = [], [], []
    for index, photo in enumerate(photos):
        path = folder / f"photo-{index:03d}.jpg"
        path.write_bytes(photo.jpeg)
        job = client.submit(model, handle_file(str(path)), AUTO, False, api_name="/reconstruct")
        view, reconstruction, note = job.result(timeout=CALL_TIMEOUT_S)
        views.append(opened_at_model_size(view))
        reconstructions.append(opened_at_model_size(reconstruction))
        classes.append(class_read(note))
        if reads_class and classes[-1] is None:
            raise RuntimeError(f"{model} named no class for photo {index}: {note!r}")
    return Answers(torch.stack(views), torch.stack(reconstructions), classes)


def ask_the_app(photos: list[Photo], models: dict[str, torch.nn.Module], checkpoints: Path) -> dict[str, Answers]:
    """The photos uploaded to the real app, started on a loopback port, for each of `models`."""
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as tmp, AppServer(checkpoints=checkpoints, workdir=Path(tmp)) as app:
        client = Client(app.url, verbose=False, download_files=tmp)
        folder = Path(tmp)
        return {name: upload_all(client, name, photos, folder, m.is_conditional) for name, m in models.items()}


def judged(judge: ImageClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of `images` the judge calls by their label (in double precision: 19 of 20 is 0.95,
    which in single precision falls short of a 95% bar)."""
    return float((judge.predict(images) == labels).double().mean())


def misjudged(judge: ImageClassifier, views: torch.Tensor, photos: list[Photo]) -> list[str]:
    """The model views the judge calls another digit, to look at: "6 → 5 (pen)"."""
    calls = judge.predict(views).tolist()
    return [f"{p.label} → {call} ({p.kind})" for p, call in zip(photos, calls, strict=True) if call != p.label]


def reconstruct(model: torch.nn.Module, views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The reconstructions as the page makes them, a conditional model under the class its posterior reads."""
    if isinstance(model, ConditionalVAE):
        classes = model.class_posterior(views).argmax(1)
        return explore.reconstruct(model, views, classes), classes
    return explore.reconstruct(model, views), None


def read_and_reconstruct(image: Image.Image, model: torch.nn.Module) -> torch.Tensor:
    """What the page does with an upload to a digits model: read it into the domain, then reconstruct."""
    return reconstruct(model, read_into_domain(image, "digits", 1, 32)[0])[0]


def time_big_photo(models: dict[str, torch.nn.Module], seed: int, runs: int = 15) -> dict[str, float]:
    """Median seconds to decode a 12-megapixel JPEG, to read it, and to read and reconstruct it per model."""
    rng = np.random.default_rng(seed)
    jpeg = photograph(handwritten(7, BIG_PHOTO_SIZE[1] // 2, rng), BIG_PHOTO_SIZE, rng)
    image, _ = read_image(jpeg)
    actions = {
        "decode a 12-megapixel JPEG (read_image)": lambda: read_image(jpeg),
        "read a 12-megapixel photo": lambda: read_into_domain(image, "digits", 1, 32),
    }
    for name, model in models.items():
        actions[f"read and reconstruct a 12-megapixel photo, {name}"] = functools.partial(
            read_and_reconstruct, image, model
        )
    return {f"{label} (median)": time_calls(action, runs).median for label, action in actions.items()}


def contact_sheet(answers: dict[str, Answers], photos: list[Photo]) -> Image.Image:
    """Per photo a row: the photo, the first model's view, then each model's reconstruction."""
    first = next(iter(answers.values()))
    sheet = None
    for index, photo in enumerate(photos):
        cells = [first.views[index], *(a.reconstructions[index] for a in answers.values())]
        row = to_pil(torch.stack(cells), nrow=len(cells), scale=2).convert("L")
        sheet = sheet or Image.new("L", (64 + row.width, row.height * len(photos)), 128)
        with Image.open(io.BytesIO(photo.jpeg)) as picture:
            sheet.paste(picture.convert("L").resize((64, 48)), (0, row.height * index + 10))
        sheet.paste(row, (64, row.height * index))
    return sheet


def judged_answers(model: str, answers: Answers, photos: list[Photo], judge: ImageClassifier) -> dict[str, object]:
    """How often the judge calls `model`'s views and reconstructions the digit written, the views it
    misread, and, for a conditional model, how often the class it read was the digit written."""
    labels = torch.tensor([photo.label for photo in photos])
    figures: dict[str, object] = {
        f"{model}: model view judged the digit written": judged(judge, answers.views, labels),
        f"{model}: model views misjudged (written → judged, pen or font)": misjudged(judge, answers.views, photos),
        f"{model}: reconstruction judged the digit written": judged(judge, answers.reconstructions, labels),
    }
    if all(c is not None for c in answers.classes):
        right = [c == photo.label for c, photo in zip(answers.classes, photos, strict=True)]
        figures[f"{model}: class read by its posterior, right on the photos"] = float(np.mean(right))
    return figures


def test_set_class_accuracy(model: ConditionalVAE) -> float:
    """The share of the digits test set whose class the model's posterior reads right."""
    images, labels = load_dataset("digits", "test", download=False).batch()
    return float((model.class_posterior(images).argmax(1) == labels).double().mean())


def measure(count: int, seed: int, checkpoints: Path, save: Path | None, judge_seed: int = 0) -> dict[str, object]:
    """Every figure of the benchmark for `count` photos of `seed`; with `save`, the photos and a contact sheet."""
    photos = make_photos(count, seed)
    models = {name: load_model(checkpoints / name, device="cpu") for name in MODELS}
    answers = ask_the_app(photos, models, checkpoints)
    judge = digits_judge(judge_seed)
    figures: dict[str, object] = {
        "judge seed": judge_seed,
        "photos": count,
        "pen-written": sum(photo.kind == "pen" for photo in photos),
        "fonts": sorted({photo.kind for photo in photos} - {"pen"}),
    }
    for model, answered in answers.items():
        figures.update(judged_answers(model, answered, photos, judge))
    figures["cvae-digits: class read by its posterior, right on the digits test set"] = test_set_class_accuracy(
        models["cvae-digits"]
    )
    figures["seconds"] = time_big_photo(models, seed)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        contact_sheet(answers, photos).save(save / "photo_digits.png")
        for index, photo in enumerate(photos):
            (save / f"{index:03d}-{photo.label}.jpg").write_bytes(photo.jpeg)
    return figures


def wilson_interval(right: int, count: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a share `right` / `count` (Wilson 1927)."""
    share, spread = right / count, z * z / count
    centre = (share + spread / 2) / (1 + spread)
    half = z * math.sqrt(share * (1 - share) / count + spread / (4 * count)) / (1 + spread)
    return centre - half, centre + half


def report(figures: dict[str, object]) -> str:
    """`measure`'s figures as a markdown table, each bar's verdict and interval beside its share."""
    lines = ["| figure | value | bar |", "| --- | --- | --- |"]
    for name, value in figures.items():
        if isinstance(value, dict):
            lines += [f"| {key} | {seconds * 1000:.1f} ms | |" for key, seconds in value.items()]
            continue
        bar = next((goal for key, goal in BARS.items() if name.endswith(f"{key} judged the digit written")), None)
        shown = f"{value:.1%}" if isinstance(value, float) and value <= 1 else str(value)
        if bar is not None:
            low, high = wilson_interval(round(value * figures["photos"]), figures["photos"])
            shown += f" ({round(value * figures['photos'])} of {figures['photos']}; 95% interval {low:.1%}–{high:.1%})"
        verdict = "" if bar is None else f"{'✅' if value >= bar else '❌'} ≥ {bar:.0%}"
        lines.append(f"| {name} | {shown} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.photo_digits", description=__doc__)
    parser.add_argument("--count", type=int, default=60, help="how many photos (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="the photos' seed (default 0)")
    parser.add_argument("--judge-seed", type=int, default=0, help="the judge's seed (default 0)")
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--save", type=Path, metavar="DIR", help="also write the photos and a contact sheet")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures = measure(args.count, args.seed, args.checkpoints, args.save, args.judge_seed)
    print(f"torch threads: {torch.get_num_threads()}")
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
