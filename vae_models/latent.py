"""Latent-space analysis: 2-D and 3-D maps of the codes, and traversal codes.

`python -m train.evaluate` stores the maps in the checkpoint's latent cache
(`checkpoint.save_latent_cache`), so the latent map opens without recomputing anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import Tensor


def pca_projection(codes: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray, PCA]:
    """Coordinates [N, dims], explained-variance ratios [dims], and the fitted PCA for new points."""
    dims = min(dims, codes.shape[1])
    pca = PCA(n_components=dims, random_state=0).fit(codes)
    return pca.transform(codes), pca.explained_variance_ratio_, pca


TSNE_EXAGGERATION = (250, 12.0, 0.5)  # 250 iterations of early exaggeration 12 at momentum 0.5,
TSNE_ITERATIONS, TSNE_MOMENTUM = 500, 0.8  # then 500 more at momentum 0.8
TSNE_CHUNK = 50  # iterations between two progress reports


# Two threads, unless the process may use only one core (a run trained from the page is pinned to
# one): two threads on one core slow openTSNE down many times over.
_TSNE_THREADS = min(2, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else 2


def _perplexity(points: np.ndarray) -> float:
    return float(min(30, max(2, (len(points) - 1) // 3)))


def tsne_projection(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE by openTSNE with its default settings: the map a checkpoint's latent cache holds."""
    from openTSNE import TSNE

    points = codes.astype(np.float64)
    return np.asarray(
        TSNE(perplexity=_perplexity(points), n_jobs=_TSNE_THREADS, random_state=seed, verbose=False).fit(points)
    )


def tsne_projection_in_steps(
    codes: np.ndarray,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    iterations: int = TSNE_ITERATIONS,
) -> np.ndarray:
    """A 2-D t-SNE run in chunks of 50 iterations, so that `progress` hears the share done (0 to 1)
    as it goes (the page's Recompute); `iterations` after the exaggeration phase: fewer is faster and
    coarser. openTSNE's own callbacks compute the KL divergence each time, which made a run several
    times slower. Each chunk restarts the optimiser's momentum, so the map is close to, not equal to,
    `tsne_projection`'s."""
    from openTSNE import TSNEEmbedding, affinity, initialization

    points = codes.astype(np.float64)
    perplexity = _perplexity(points)
    affinities = affinity.PerplexityBasedNN(points, perplexity=perplexity, n_jobs=_TSNE_THREADS, random_state=seed)
    start = initialization.pca(points, random_state=seed)
    learning_rate = max(len(points) / TSNE_EXAGGERATION[1], 50)  # openTSNE's "auto"
    embedding = TSNEEmbedding(start, affinities, n_jobs=_TSNE_THREADS, random_state=seed, learning_rate=learning_rate)
    phases = (TSNE_EXAGGERATION, (iterations, None, TSNE_MOMENTUM))
    total, done = sum(phase[0] for phase in phases), 0
    for count, exaggeration, momentum in phases:
        for _ in range(count // TSNE_CHUNK):
            embedding = embedding.optimize(TSNE_CHUNK, exaggeration=exaggeration, momentum=momentum, inplace=True)
            done += TSNE_CHUNK
            if progress:
                progress(done / total)
    return np.asarray(embedding)


def subsample(count: int, limit: int, seed: int = 0) -> np.ndarray:
    """At most `limit` of `count` indices, drawn without replacement (seeded) and kept in order."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, limit, replace=False))


def traversal_codes(
    start: Tensor, dims: Sequence[int], steps: int = 7, span: float = 3.0, around_start: bool = False
) -> Tensor:
    """Codes for a traversal grid, [len(dims) * steps, latent_dim]: row r sweeps dims[r] over ±span
    (around its value in `start` when `around_start`, so the middle column is `start` itself).

    Every other coordinate stays at `start`, so each row shows what one latent does alone.
    """
    if start.dim() != 1:
        raise ValueError(f"start must be one latent vector, got shape {tuple(start.shape)}")
    values = torch.linspace(-span, span, steps, dtype=start.dtype)
    codes = start.repeat(len(dims), steps, 1)
    for row, dim in enumerate(dims):
        codes[row, :, dim] = values + (start[dim] if around_start else 0)
    return codes.flatten(0, 1)
