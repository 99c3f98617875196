"""python -m benchmarks.photo_sprites [--count 30] [--seed 0] [--save DIR] [--json FILE]

Issue 21's bar for dSprites: a photographed or drawn square, ellipse and heart keep their position
within 2 px and their scale within one step (of the six, 0.5 to 1.0) when read into the dSprites
domain (vae_models.data.reading), and how far each shipped dSprites model's reconstruction keeps them.

The photos are seeded and their answers known: sprites rendered by render_dsprites at random scale,
orientation and position, then
- photographed: the 64x64 frame enlarged smoothly to fill a 640x640 photo (the frame is the photo),
  on the paper of benchmarks.photo_digits' on_paper (uneven light, noise, blur, JPEG), dark ink on
  light paper or, one photo in four, light ink on a dark board;
- drawn: the sprite's outline traced by a hand (the pen's centre line on the boundary, with a slow
  wobble, a tremor and an overshoot where the loop closes) as one stroke on the page's 256x256
  canvas with a brush of 8-16 px (the default is 14), drawn on white paper by the page's own code.

Each image read (the model view) and each reconstruction (thresholded at 0.5) is judged against the
rendered sprite: the position error is the larger of the row and column distances between the centres
of mass, in pixels of the 64x64 frame; the scale error is how many steps the scale read from the area
(true scale x sqrt(area seen / true area), rounded to the nearest step) lies from the true one; a
shape read larger than 1.0 counts as 1.0 (smaller than 0.5 as 0.5), so at the end scales a view can be
further off than its steps say.
The bar is met when, for every shape and way, at least 95% of the model views are within both.
"""

from __future__ import annotations

import argparse
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from explorer.canvas import CANVAS_SIDE, drawing_on_paper
from vae_models.data import read_into_domain, render_dsprites
from vae_models.data.dsprites import DSPRITES_FACTOR_SIZES, DSPRITES_SHAPES, IMAGE_SIZE, dsprites_factor_values
from vae_models.images import ImageInputError, label_rows, read_image, to_pil
from vae_models.loading import load_model

from .photo_digits import on_paper, reconstruct

WAYS = ("photographed", "drawn")
PHOTO_SIDE = 640  # a photographed frame: each pixel of the 64x64 frame is 10x10 of the photo
BRUSH_SIZES = (8, 16)  # the range of brush sizes drawn with, in canvas pixels
FRAME = IMAGE_SIZE  # the side of the dSprites frame
SCALES = dsprites_factor_values()["scale"]
POSITION_BAR = 2.0  # pixels of the 64x64 frame
SCALE_BAR = 1  # scale steps
SHARE_BAR = 0.95  # of the model views per shape and way, within both bars
WITHIN_POSITION, WITHIN_SCALE = f"within {POSITION_BAR:g} px", f"within {SCALE_BAR} step"  # the shares' names


@dataclass(frozen=True)
class SpritePhoto:
    """One photo or drawing of a sprite whose factors are known."""

    factors: tuple[int, ...]  # class indices of shape, scale, orientation, posX, posY
    way: str  # "photographed" or "drawn"
    detail: str  # "dark on light", "light on dark", or the brush size
    data: bytes  # the file as uploaded: a JPEG photo or a PNG of the canvas

    @property
    def shape(self) -> str:
        return DSPRITES_SHAPES[self.factors[0]]

    @property
    def scale(self) -> float:
        return float(SCALES[self.factors[1]])

    def __str__(self) -> str:
        return f"{self.shape} at scale {self.scale:.1f}, {self.way} ({self.detail})"


# --- the photos ----------------------------------------------------------------------------------


def random_factors(shape: int, rng: np.random.Generator) -> tuple[int, ...]:
    """The shape's class indices with a random scale, orientation and position."""
    return (shape, *(int(rng.integers(size)) for size in DSPRITES_FACTOR_SIZES[1:]))


def enlarged(sprite: np.ndarray, side: int) -> np.ndarray:
    """The binary 64x64 frame enlarged to side x side with smooth edges, as a printed or cut-out shape
    looks, not a staircase of big pixels: resized bilinearly, blurred over half a frame pixel and cut
    at one half. Pixel centres map to pixel centres, so the centre of mass stays where it was."""
    picture = Image.fromarray(sprite.astype(np.float32), mode="F").resize((side, side), Image.Resampling.BILINEAR)
    return ndimage.gaussian_filter(np.asarray(picture), 0.5 * side / FRAME) >= 0.5


def photographed(sprite: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """The sprite's frame as the whole of a 640x640 JPEG: the shape in ink on on_paper's paper.

    benchmarks.photo_digits' on_paper, given no ink, makes the paper under its uneven light, with
    noise, blur and JPEG; the ink then multiplies it by its reflectance, its edge softened like the
    photo's, so that it is lit by the same light. One photo in four is light ink on a dark board, the
    board reflecting 12-25% of the light.
    """
    paper = np.asarray(Image.open(io.BytesIO(on_paper(Image.new("L", (PHOTO_SIDE,) * 2), rng))))
    ink = enlarged(sprite, PHOTO_SIDE).astype(np.float32)
    alpha = ndimage.gaussian_filter(ink, rng.uniform(0.4, 1.2))[..., None]
    if rng.uniform() < 0.25:
        board, chalk, detail = rng.uniform(0.12, 0.25), rng.uniform(0.8, 0.95), "light on dark"
        reflectance = board + (chalk - board) * alpha
    else:
        reflectance, detail = 1 - rng.uniform(0.65, 0.9) * alpha, "dark on light"
    pixels = paper * reflectance + rng.normal(0, rng.uniform(1, 3), paper.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue(), detail


def boundary(mask: np.ndarray, points: int = 360) -> np.ndarray:
    """Points [points, 2] (x, y) on the edge of a filled shape, at equal angles around its centre of mass:
    along each ray, the farthest point inside. Every dSprites shape is star-shaped about that centre."""
    centre_y, centre_x = ndimage.center_of_mass(mask)
    angles = np.linspace(0, 2 * math.pi, points, endpoint=False)[:, None]
    radii = np.arange(0, max(mask.shape) / 2, 0.5)[None]
    xs, ys = centre_x + radii * np.cos(angles), centre_y + radii * np.sin(angles)
    inside = ndimage.map_coordinates(mask.astype(np.uint8), [ys, xs], order=0, cval=0) > 0
    reach = radii[0, radii.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1)]
    return np.stack([centre_x + reach * np.cos(angles[:, 0]), centre_y + reach * np.sin(angles[:, 0])], 1)


def hand_traced(edge: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """The path [m, 2] a hand takes tracing a closed edge [n, 2] on a side x side canvas: pushed out
    and in from the centre by a slow wobble (three harmonics of about 0.25% of the side each; none that
    would move the whole shape) and a tremor, from a random start once round and on past it by 2-8%
    of the loop, as a closing stroke overshoots."""
    centre = edge.mean(axis=0)
    turns = np.linspace(0, 2 * math.pi, len(edge), endpoint=False)
    wobble = sum(rng.normal(0, 0.0025 * side) * np.sin(k * turns + rng.uniform(0, 2 * math.pi)) for k in (2, 3, 4))
    tremor = ndimage.gaussian_filter1d(rng.normal(0, 0.003 * side, len(edge)), 2, mode="wrap")
    outward = (edge - centre) / np.maximum(np.linalg.norm(edge - centre, axis=1, keepdims=True), 1e-6)
    path = np.roll(edge + (wobble + tremor)[:, None] * outward, -int(rng.integers(len(edge))), axis=0)
    overshoot = int(len(edge) * rng.uniform(0.02, 0.08))
    return np.concatenate([path, path[: overshoot + 1]])


def traced(sprite: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """The sprite's outline drawn by hand on the page's canvas, as a PNG: the pen's centre on the
    shape's edge, not filled, drawn on paper by the page's own code (explorer.canvas.drawing_on_paper) as
    the strokes a visitor's canvas sends."""
    path = hand_traced(boundary(enlarged(sprite, CANVAS_SIDE * 4)) / 4, CANVAS_SIDE, rng)
    brush = int(rng.integers(BRUSH_SIZES[0], BRUSH_SIZES[1] + 1))
    paper = drawing_on_paper({"side": CANVAS_SIDE, "strokes": [{"width": brush, "points": path.tolist()}]})
    buffer = io.BytesIO()
    paper.save(buffer, "PNG")
    return buffer.getvalue(), f"brush {brush} px"


def make_photos(count: int, seed: int) -> list[SpritePhoto]:
    """`count` images per shape, the shapes in turn, photographed and drawn in turn."""
    rng = np.random.default_rng(seed)
    photos = []
    for index in range(count * len(DSPRITES_SHAPES)):
        factors = random_factors(index % len(DSPRITES_SHAPES), rng)
        way = WAYS[index // len(DSPRITES_SHAPES) % len(WAYS)]
        sprite = render_dsprites([factors])[0, 0].numpy()
        data, detail = photographed(sprite, rng) if way == "photographed" else traced(sprite, rng)
        photos.append(SpritePhoto(factors, way, detail, data))
    return photos


def read_all(photos: list[SpritePhoto]) -> tuple[torch.Tensor, dict[int, str]]:
    """Each photo decoded as an upload is and read into the dSprites domain: the views [N, 1, 64, 64],
    and the photos the reading refused, by index, with its message (their view is left empty)."""
    views, refused = torch.zeros(len(photos), 1, FRAME, FRAME), {}
    for index, photo in enumerate(photos):
        image, _ = read_image(photo.data)
        try:
            views[index] = read_into_domain(image, "dsprites", 1, FRAME)[0][0]
        except ImageInputError as err:
            refused[index] = str(err)
    return views, refused


# --- the measures --------------------------------------------------------------------------------


def centre_of_mass(picture: np.ndarray) -> np.ndarray:
    """(row, column) of a picture's centre of mass."""
    return np.asarray(ndimage.center_of_mass(picture))


def position_error(seen: np.ndarray, truth: np.ndarray) -> float:
    """The larger of the row and column distances between the centres of mass, in pixels; infinite
    when nothing is seen."""
    if not seen.any():
        return math.inf
    return float(np.abs(centre_of_mass(seen) - centre_of_mass(truth)).max())


def scale_step(true_step: int, seen: np.ndarray, truth: np.ndarray) -> int:
    """The scale step (0-5) the seen shape's area says: a side grows with the scale, so the scale is
    the true scale times the root of the area ratio, rounded to the nearest of the six."""
    scale = SCALES[true_step] * math.sqrt(seen.sum() / truth.sum())
    return int(np.argmin(np.abs(SCALES - scale)))


def scale_error(true_step: int, seen: np.ndarray, truth: np.ndarray) -> float:
    """How many steps the scale seen lies from the true one; infinite when nothing is seen."""
    return abs(scale_step(true_step, seen, truth) - true_step) if seen.any() else math.inf


def errors(images: torch.Tensor, truths: torch.Tensor, photos: list[SpritePhoto]) -> np.ndarray:
    """Per image [N, 1, 64, 64] its position and scale errors [N, 2] against the rendered sprites;
    images in [0, 1] (reconstructions are probabilities) count as shape where at least one half."""
    seen = (images[:, 0] >= 0.5).numpy()
    true = truths[:, 0].numpy() > 0
    return np.array(
        [
            (position_error(s, t), scale_error(photo.factors[1], s, t))
            for s, t, photo in zip(seen, true, photos, strict=True)
        ]
    )


def summary(judged: np.ndarray) -> dict[str, float]:
    """Shares within the bars and median errors of position and scale errors [N, 2]."""
    return {
        "photos": len(judged),
        WITHIN_POSITION: float((judged[:, 0] <= POSITION_BAR).mean()),
        WITHIN_SCALE: float((judged[:, 1] <= SCALE_BAR).mean()),
        "median px": float(np.median(judged[:, 0])),
        "median steps": float(np.median(judged[:, 1])),
    }


def meets_bar(row: dict[str, float]) -> bool:
    """Whether a shape and way's figures hold both bars for at least SHARE_BAR of its photos."""
    return row[WITHIN_POSITION] >= SHARE_BAR and row[WITHIN_SCALE] >= SHARE_BAR


def by_shape_and_way(who: str, judged: np.ndarray, photos: list[SpritePhoto]) -> list[dict[str, object]]:
    """The summary of each shape and way's photos, labelled."""
    rows = []
    for shape in DSPRITES_SHAPES:
        for way in WAYS:
            chosen = [photo.shape == shape and photo.way == way for photo in photos]
            rows.append({"who": who, "shape": shape, "way": way, **summary(judged[chosen])})
    return rows


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """The photos, what they should read as, what was read, and each model's reconstruction of it."""

    photos: list[SpritePhoto]
    truths: torch.Tensor  # [N, 1, 64, 64], the rendered sprites
    views: torch.Tensor  # [N, 1, 64, 64], the reading of each photo
    judged: np.ndarray  # [N, 2], the views' position and scale errors
    reconstructions: dict[str, torch.Tensor]  # by model name, [N, 1, 64, 64]


def dsprites_models(checkpoints: Path) -> dict[str, torch.nn.Module]:
    """Every dSprites checkpoint shipped, by name, on the CPU."""
    return {path.name: load_model(path, device="cpu") for path in sorted(checkpoints.glob("*-dsprites"))}


def measure(count: int, seed: int, checkpoints: Path, save: Path | None) -> dict[str, object]:
    photos = make_photos(count, seed)
    truths = render_dsprites([photo.factors for photo in photos])
    views, refused = read_all(photos)
    judged = errors(views, truths, photos)
    rows = by_shape_and_way("model view", judged, photos)
    reconstructions = {}
    with torch.no_grad():
        for name, model in dsprites_models(checkpoints).items():
            reconstructions[name] = reconstruct(model, views)[0]
            rows += by_shape_and_way(name, errors(reconstructions[name], truths, photos), photos)
    if save is not None:
        write_sheets(save, Measured(photos, truths, views, judged, reconstructions))
    return {
        "photos": len(photos),
        "light on dark": sum(photo.detail == "light on dark" for photo in photos),
        "rows": rows,
        "bar met": all(meets_bar(row) for row in rows if row["who"] == "model view"),
        "model views off a bar": [
            f"{photo}: {px:.1f} px, {steps:g} steps"
            for photo, (px, steps) in zip(photos, judged, strict=True)
            if px > POSITION_BAR or steps > SCALE_BAR
        ],
        "refused by the reading": [f"{photos[index]}: {why}" for index, why in refused.items()],
    }


def contact_sheet(measured: Measured, chosen: list[int]) -> Image.Image:
    """A row per chosen photo: the photo, the true sprite, the model view and each reconstruction,
    labelled with the sprite's scale and the view's errors."""
    cells = []
    for index in chosen:
        thumbnail = Image.open(io.BytesIO(measured.photos[index].data)).convert("L").resize((FRAME, FRAME))
        cells.append(torch.from_numpy(np.asarray(thumbnail, dtype=np.float32) / 255)[None])
        cells += [measured.truths[index], measured.views[index]]
        cells += [images[index] for images in measured.reconstructions.values()]
    grid = to_pil(torch.stack(cells), nrow=len(cells) // len(chosen), scale=2)
    labels = []
    for index in chosen:
        photo, (px, steps) = measured.photos[index], measured.judged[index]
        labels.append(f"{photo.scale:.1f}, {photo.detail}: {px:.1f} px, {steps:g} steps")
    columns = ["photo", "truth", "view", *(name.removesuffix("-dsprites") for name in measured.reconstructions)]
    return label_rows(grid, labels, columns)


def write_sheets(folder: Path, measured: Measured) -> None:
    """A contact sheet per shape and way ("heart-drawn.png"), and the photos themselves."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = measured.photos
    for shape in DSPRITES_SHAPES:
        for way in WAYS:
            chosen = [index for index, photo in enumerate(photos) if photo.shape == shape and photo.way == way]
            contact_sheet(measured, chosen).save(folder / f"{shape}-{way}.png")
    for index, photo in enumerate(photos):
        suffix = "jpg" if photo.way == "photographed" else "png"
        (folder / f"{index:03d}-{photo.shape}-{photo.way}.{suffix}").write_bytes(photo.data)


def report(figures: dict[str, object]) -> str:
    """The figures as a markdown table, each model-view row marked against the bars, and the verdict."""
    columns = ["who", "shape", "way", "photos", WITHIN_POSITION, WITHIN_SCALE, "median px", "median steps", "bar"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in figures["rows"]:
        verdict = ("✅" if meets_bar(row) else "❌") if row["who"] == "model view" else ""
        lines.append(
            f"| {row['who']} | {row['shape']} | {row['way']} | {row['photos']} | {row[WITHIN_POSITION]:.0%} "
            f"| {row[WITHIN_SCALE]:.0%} | {row['median px']:.2f} | {row['median steps']:g} | {verdict} |"
        )
    met = "✅ met" if figures["bar met"] else "❌ not met"
    lines.append(f"\n{figures['photos']} photos, {figures['light on dark']} of them light on dark.")
    lines.append(
        f"Bar: {met} (every shape and way: at least {SHARE_BAR:.0%} of the model views within "
        f"{POSITION_BAR:g} px and within {SCALE_BAR} scale step)"
    )
    lines += [f"- off a bar: {line}" for line in figures["model views off a bar"]]
    lines += [f"- refused: {line}" for line in figures["refused by the reading"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.photo_sprites", description=__doc__)
    parser.add_argument("--count", type=int, default=30, help="photos per shape (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--save", type=Path, metavar="DIR", help="also write the photos and contact sheets")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures = measure(args.count, args.seed, args.checkpoints, args.save)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
