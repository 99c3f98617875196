"""Latent-space analysis: 2-D and 3-D maps of the codes, and the cache the app opens.

The cache (`latents.safetensors` in a checkpoint folder) holds the encoded test set,
its labels and dSprites factors, PCA (2-D and 3-D, with explained variance) and
t-SNE coordinates, so the latent map opens without recomputing anything. Traversal codes are here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from sklearn.decomposition import PCA
from torch import Tensor

LATENT_CACHE_NAME = "latents.safetensors"


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


def save_latent_cache(folder: str | Path, **arrays: np.ndarray | torch.Tensor) -> Path:
    path = Path(folder) / LATENT_CACHE_NAME
    tensors = {name: torch.as_tensor(np.asarray(value)).contiguous() for name, value in arrays.items()}
    safetensors.torch.save_file(tensors, str(path))
    return path


def load_latent_cache(folder: str | Path) -> dict[str, np.ndarray] | None:
    path = Path(folder) / LATENT_CACHE_NAME
    if not path.exists():
        return None
    return {name: tensor.numpy() for name, tensor in safetensors.torch.load_file(str(path)).items()}


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
