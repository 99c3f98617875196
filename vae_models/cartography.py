"""From a map of the latent space back to codes: the inverse of a projection, the manifold grid,
directions learnt from labels and factors, and four-corner palettes.

Pure functions of numpy arrays and torch tensors; decoding the codes is `explore.decode`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import Tensor

from .explore import slerp

NEAREST_POINTS = 10  # test points whose codes stand in for a t-SNE location


@dataclass(frozen=True)
class MapInverse:
    """A 2-D map and what stands behind it, to turn a location on it back into a code: exactly
    through the fitted PCA, or approximately from the nearest test codes (a non-linear map)."""

    coords: np.ndarray  # [N, 2], the map's points
    codes: np.ndarray  # [N, D], their codes
    pca: PCA | None  # the projection of a PCA map; None for t-SNE

    def code_at(
        self, point: tuple[float, float], base: np.ndarray
    ) -> tuple[np.ndarray, tuple[float, float], list[str]]:
        """The code at `point`, the point it stands for (clamped to the map), and notes: the clamp, and
        how the code was found. Off the PCA plane the code takes `base`'s components."""
        inside, clamped = clamp_to_map(point, self.coords)
        if self.pca is None:
            how = (
                "an approximation on this non-linear map: the distance-weighted code of the "
                f"{NEAREST_POINTS} nearest test points"
            )
            code = nearest_codes_inverse(self.coords, self.codes, inside)
            return code, inside, [note for note in (clamped, how) if note]
        return pca_inverse(self.pca, inside, base), inside, [clamped] if clamped else []


def clamp_to_map(
    point: tuple[float, float], coords: np.ndarray, margin: float = 0.1
) -> tuple[tuple[float, float], str]:
    """The point moved inside the map's extent (plus `margin` of its size), and a note if it moved."""
    low, high = coords.min(0), coords.max(0)
    pad = (high - low) * margin
    inside = np.clip(np.asarray(point, dtype=float), low - pad, high + pad)
    note = "" if np.allclose(inside, point) else "the click lay outside the data's range, so it was moved to its edge"
    return (float(inside[0]), float(inside[1])), note


def pca_inverse(pca: PCA, point: tuple[float, float], base: np.ndarray) -> np.ndarray:
    """The code whose PCA coordinates are `point`, nearest to `base` in every other direction.

    The components outside the plane come from `base` (the data mean, or the current start code):
    base + Σ_k (point_k − (base − mean)·c_k) c_k, which projects exactly onto `point`.
    """
    offsets = np.asarray(point, dtype=float) - (base - pca.mean_) @ pca.components_[:2].T
    return base + offsets @ pca.components_[:2]


def nearest_codes_inverse(coords: np.ndarray, codes: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    """An approximate code for a location on a non-linear map (t-SNE): the inverse-distance-weighted
    mean of the codes of its nearest test points (the exact code where the point hits one)."""
    distances = np.linalg.norm(coords - np.asarray(point, dtype=float), axis=1)
    nearest = np.argsort(distances)[:NEAREST_POINTS]
    if distances[nearest[0]] < 1e-9:
        return codes[nearest[0]].copy()
    weights = 1.0 / distances[nearest]
    return (weights[:, None] * codes[nearest]).sum(0) / weights.sum()


def manifold_codes(pca: PCA, base: np.ndarray, extent: tuple[float, float, float, float], steps: int) -> np.ndarray:
    """Codes on a steps × steps grid over the plane's (x_min, x_max, y_min, y_max), rows from the top
    (largest y) down, as Kingma & Welling's Fig. 4 draws the learnt manifold."""
    xs = np.linspace(extent[0], extent[1], steps)
    ys = np.linspace(extent[3], extent[2], steps)
    return np.stack([pca_inverse(pca, (x, y), base) for y in ys for x in xs])


# --- directions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Direction:
    """A move in code space that changes one attribute, and how linearly the codes encode it."""

    name: str
    vector: np.ndarray  # the change of code for one step of strength
    r_squared: float | None  # of the factor's linear fit on held-out codes; None for a class difference


def class_direction(codes: np.ndarray, labels: np.ndarray, source: int, target: int, name: str) -> Direction:
    """From the mean code of class `source` to that of `target` ("this 3 written as an 8")."""
    for label in (source, target):
        if not (labels == label).any():
            raise ValueError(f"no codes of class {label}, so its mean code is unknown")
    vector = codes[labels == target].mean(0) - codes[labels == source].mean(0)
    return Direction(name, vector, None)


def factor_direction(codes: np.ndarray, values: np.ndarray, name: str, held_out: float = 0.25) -> Direction:
    """The shortest code change that moves the factor's linear prediction by one standard deviation
    of that prediction, from a least-squares fit of the factor on the codes.

    With value ≈ w·z + b, the smallest Δz with w·Δz = s is s · w / ‖w‖². With s the spread of the
    prediction w·z (≈ the factor's own sd when it is encoded linearly, R² ≈ 1) the step is one sd of
    the codes along w, however weakly the factor is encoded: a factor with R² near 0 gives a small
    or aimless step, never one far off the prior. R² is measured on a random `held_out` share of
    the points (seeded), which the fit does not see.
    """
    order = np.random.default_rng(0).permutation(len(codes))
    fit, test = order[: int(len(codes) * (1 - held_out))], order[int(len(codes) * (1 - held_out)) :]
    design = np.column_stack([codes, np.ones(len(codes))])
    solution, *_ = np.linalg.lstsq(design[fit], values[fit], rcond=None)
    weights = solution[:-1]
    residual = values[test] - design[test] @ solution
    total = ((values[test] - values[test].mean()) ** 2).sum()
    r_squared = float(1 - (residual**2).sum() / total) if total > 0 else 0.0
    norm = float(weights @ weights)
    vector = (codes @ weights).std() * weights / norm if norm > 0 else np.zeros_like(weights)
    return Direction(name, vector, r_squared)


def factor_directions(codes: np.ndarray, factors: np.ndarray, moves: dict[int, str]) -> dict[str, Direction]:
    """One direction per ordered factor (column index -> the move's name, e.g. 3 -> "move right")."""
    return {name: factor_direction(codes, factors[:, k].astype(float), name) for k, name in moves.items()}


def direction_sweep(code: Tensor, direction: Direction, strength: float, steps: int) -> Tensor:
    """`steps` codes from `code` to `code` + strength · direction: a row to look at, or an animation."""
    return apply_direction(code, direction, torch.linspace(0.0, strength, steps, dtype=code.dtype))


def apply_direction(code: Tensor, direction: Direction, strengths: Tensor) -> Tensor:
    """One code per strength: code + strength · direction."""
    return code[None, :] + strengths[:, None] * torch.as_tensor(direction.vector, dtype=code.dtype)[None, :]


# --- palettes ------------------------------------------------------------------------------------


def palette_codes(corners: Tensor, steps: int, mode: str = "linear") -> Tensor:
    """An steps × steps grid blending four corner codes [top-left, top-right, bottom-left, bottom-right]:
    bilinear, or spherical (slerp along the top and bottom edges, then down each column)."""
    top_left, top_right, bottom_left, bottom_right = corners
    t = torch.linspace(0, 1, steps, dtype=corners.dtype)
    if mode == "spherical":
        top, bottom = slerp(top_left, top_right, t), slerp(bottom_left, bottom_right, t)
        return torch.stack([slerp(top[j], bottom[j], t) for j in range(steps)], dim=1).flatten(0, 1)
    if mode != "linear":
        raise ValueError(f"palette mode must be 'linear' or 'spherical', got {mode!r}")
    top, bottom = torch.lerp(top_left, top_right, t[:, None]), torch.lerp(bottom_left, bottom_right, t[:, None])
    return torch.lerp(top[None, :, :], bottom[None, :, :], t[:, None, None]).flatten(0, 1)
