"""The latent map's pure parts: the test set's codes projected (cached or afresh), coloured and
hovered, an upload placed on it, and a location on it turned back into a code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from vae_models import BaseVAE, explore
from vae_models.cartography import MapInverse
from vae_models.catalog import ModelInfo
from vae_models.data import dsprites_factor_values, load_dataset
from vae_models.latent import pca_projection, subsample, tsne_projection_in_steps

from . import figures
from .common import encode_upload, notes_text, start_point

MAP_METHODS = ("PCA", "PCA 3-D", "t-SNE")
MAP_KEYS = {"PCA": "pca2", "PCA 3-D": "pca3", "t-SNE": "tsne"}  # each method's entry in the latent cache
PLANE_BASES = ("data mean", "Traverse start")  # where a PCA map's off-plane components come from
# A fresh t-SNE of all 10,000 dSprites test codes ran far past what a visitor waits for; the page's
# recompute takes a seeded subsample of 2,000 and half of openTSNE's 500 final iterations (README: its time).
TSNE_MAX_POINTS, TSNE_PAGE_ITERATIONS = 2_000, 250
ENCODE_BATCH = 256


def encode_test_set(model: BaseVAE, info: ModelInfo) -> dict[str, np.ndarray]:
    """The test set's codes, labels and (dSprites) factors: a latent cache without projections."""
    test = load_dataset(info.dataset, "test", download=False)
    images, labels = test.batch()
    batches = zip(images.split(ENCODE_BATCH), labels.split(ENCODE_BATCH), strict=True)
    codes = torch.cat([explore.encode(model, x, y) for x, y in batches])
    result = {"codes": codes.numpy(), "labels": labels.numpy()}
    return result | ({"factors": test.factors.numpy()} if test.factors is not None else {})


def projection(codes: np.ndarray, method: str, progress: Callable[[float], None] | None = None) -> dict:
    """`method`'s projection of the codes, under its latent-cache keys."""
    if method == "t-SNE":
        return {"tsne": tsne_projection_in_steps(codes, progress=progress, iterations=TSNE_PAGE_ITERATIONS)}
    dims = 3 if method == "PCA 3-D" else 2
    coords, explained, _ = pca_projection(codes, dims)
    return {f"pca{dims}": coords, f"pca{dims}_explained": explained}


def fresh_map(latents: dict, method: str, progress: Callable[[float], None]) -> tuple[dict, str]:
    """The codes projected afresh by `method`, and a sentence saying how. A t-SNE of more than
    TSNE_MAX_POINTS codes runs on a seeded random subsample of them, so it ends in seconds."""
    keep = subsample(len(latents["codes"]), TSNE_MAX_POINTS) if method == "t-SNE" else slice(None)
    per_point = {key: latents[key][keep] for key in ("codes", "labels", "factors") if key in latents}
    fresh = per_point | projection(per_point["codes"], method, progress)
    total, used = len(latents["codes"]), len(fresh["codes"])
    how = f"Recomputed {method} of {used:,} test codes"
    if method == "t-SNE":
        how += f" ({TSNE_PAGE_ITERATIONS} iterations after the exaggeration phase instead of openTSNE's 500"
        if used < total:
            how += f"; a random subsample of the {total:,}, seed 0"
        how += ", so it ends in seconds; the cached map, made by `train.evaluate`, has every code and full settings)"
    return fresh, how + "."


def map_figure(
    model: BaseVAE, info: ModelInfo, latents: dict, method: str, colour_by: str, path: str | None
) -> tuple[Any, str]:
    """The latent map of the cached (or recomputed) test codes, with the upload as a star, and its caption."""
    if method not in MAP_METHODS:
        raise ValueError(f"map method must be one of {MAP_METHODS}, got {method!r}")
    key = MAP_KEYS[method]
    coords, explained = latents[key], latents.get(f"{key}_explained")
    colour, categories = map_colours(info, latents, colour_by)
    highlight, notes = None, []
    if path:
        code, _, notes = encode_upload(model, info, path)
        highlight = place_code(latents, key, code.numpy())
    figure = figures.latent_map(
        coords,
        colour,
        colour_by,
        hover_texts(info.class_names, latents),
        categories=categories,
        explained=explained,
        highlight=highlight,
        title=f"{info.name}: {len(coords):,} test images, {method}",
    )
    caption = f"{method} of {len(coords):,} test codes."
    if explained is not None:
        caption += f" Explained variance: {', '.join(f'{v:.1%}' for v in explained)} (total {explained.sum():.1%})."
    return figure, "\n\n".join(filter(None, [caption, notes_text(notes)]))


def map_colours(info: ModelInfo, latents: dict, colour_by: str) -> tuple[np.ndarray, list[str] | None]:
    """Each point's colour value, and the category names when the colours are categories."""
    if colour_by == "label":
        return latents["labels"], info.class_names
    if colour_by not in info.factor_names or "factors" not in latents:
        raise ValueError(f"cannot colour by {colour_by!r}; choose from {info.colour_choices}")
    column = latents["factors"][:, info.factor_names.index(colour_by)]
    return (column, info.class_names) if colour_by == "shape" else (column.astype(float), None)


def hover_texts(class_names: list[str], latents: dict) -> list[str]:
    labels = latents["labels"]
    if "factors" not in latents:
        return [f"test #{i} · {class_names[int(k)]}" for i, k in enumerate(labels)]
    values = dsprites_factor_values()
    factors = latents["factors"]
    return [
        f"test #{i} · {class_names[int(f[0])]} · scale {values['scale'][f[1]]:.1f} · "
        f"orientation {np.degrees(values['orientation'][f[2]]):.0f}° · "
        f"posX {values['posX'][f[3]]:.2f} · posY {values['posY'][f[4]]:.2f}"
        for i, f in enumerate(factors)
    ]


def place_code(latents: dict, key: str, code: np.ndarray) -> np.ndarray:
    """A new code's position on the map: PCA transforms it exactly; on the t-SNE map it sits at the
    mean position of its 10 nearest test codes (openTSNE's own initialisation for new points)."""
    codes = latents["codes"]
    if key.startswith("pca"):
        return pca_projection(codes, int(key[-1]))[2].transform(code[None])[0]
    nearest = np.argsort(((codes - code) ** 2).sum(1))[:10]
    return latents[key][nearest].mean(0)


def map_inverse(latents: dict, method: str) -> MapInverse:
    """What turns a location on `method`'s map of these latents back into a code."""
    if method not in ("PCA", "t-SNE"):
        raise ValueError(f"a click decodes on the 2-D maps (PCA or t-SNE), not on {method!r}")
    key = MAP_KEYS[method]
    pca = pca_projection(latents["codes"], 2)[2] if key == "pca2" else None
    return MapInverse(latents[key], latents["codes"], pca)


def plane_base(inverse: MapInverse, base: str, start: list[float] | None, info: ModelInfo) -> np.ndarray:
    """The code whose off-plane components a PCA map's point takes: the data mean or the Traverse start."""
    if base not in PLANE_BASES:
        raise ValueError(f"the off-plane components come from one of {PLANE_BASES}, got {base!r}")
    if base == "Traverse start":
        return start_point(info, start).numpy().astype(np.float64)
    return inverse.pca.mean_ if inverse.pca is not None else inverse.codes.mean(0)
