"""Latent-space analysis: 2-D and 3-D maps of the codes, and traversal codes.

`python -m train.evaluate` stores the maps in the checkpoint's latent cache
(`checkpoint.save_latent_cache`), so the latent map opens without recomputing anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import Tensor


def pca_projection(codes: np.ndarray, dims: int = 2) -> tuple[np.ndarray, np.ndarray, PCA]:
    """Coordinates [N, dims], explained-variance ratios [dims], and the fitted PCA for new points."""
    dims = min(dims, codes.shape[1])
    pca = PCA(n_components=dims, random_state=0).fit(codes)
    return pca.transform(codes), pca.explained_variance_ratio_, pca


def tsne_projection(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE by openTSNE (FFT-accelerated; it can also place new points on the map)."""
    from openTSNE import TSNE

    perplexity = float(min(30, max(2, (len(codes) - 1) // 3)))
    embedding = TSNE(perplexity=perplexity, n_jobs=2, random_state=seed, verbose=False).fit(codes.astype(np.float64))
    return np.asarray(embedding)


def traversal_codes(start: Tensor, dims: Sequence[int], steps: int = 7, span: float = 3.0) -> Tensor:
    """Codes for a traversal grid, [len(dims) * steps, latent_dim]: row r sweeps dims[r] over ±span.

    Every other coordinate stays at `start`, so each row shows what one latent does alone.
    """
    if start.dim() != 1:
        raise ValueError(f"start must be one latent vector, got shape {tuple(start.shape)}")
    values = torch.linspace(-span, span, steps, dtype=start.dtype)
    codes = start.repeat(len(dims), steps, 1)
    for row, dim in enumerate(dims):
        codes[row, :, dim] = values
    return codes.flatten(0, 1)
