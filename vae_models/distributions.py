"""The probability the models share: diagonal Gaussians, their KL to the prior, and MMD.

Every model and every metric takes these from here, so a formula is written once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)
# The IMQ kernel is summed over these multiples of its scale C, as the WAE authors' code does.
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

Kernel = Callable[[Tensor, Tensor], Tensor]


def reparameterize(mu: Tensor, log_var: Tensor) -> Tensor:
    """A draw from N(mu, exp(log_var)) that gradients flow through (Kingma & Welling's trick)."""
    return mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)


def log_normal(z: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
    """Elementwise log N(z; mu, exp(log_var))."""
    return -0.5 * (LOG_2PI + log_var + (z - mu).pow(2) * torch.exp(-log_var))


def log_standard_normal(z: Tensor) -> Tensor:
    """Elementwise log N(z; 0, 1): the prior's density."""
    return log_normal(z, torch.zeros_like(z), torch.zeros_like(z))


def gaussian_kl_per_dim(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mu, exp(log_var)) || N(0, 1)) for each latent dimension, [B, latent_dim].

    expm1(v) - v is >= 0 for every v and exact near 0, so the KL never goes negative.
    """
    return 0.5 * (mu.pow(2) + torch.expm1(log_var) - log_var)


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) per image, summed over latent dimensions."""
    return gaussian_kl_per_dim(mu, log_var).sum(dim=1)


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """‖a_i − b_j‖² for every pair: [n, d] x [m, d] -> [n, m]."""
    return (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)


def imq_kernel(a: Tensor, b: Tensor, scale: float) -> Tensor:
    """Σ_s s·C / (s·C + ‖a−b‖²) over IMQ_SCALES, with C = `scale`."""
    sq_dist = squared_distances(a, b)
    return sum(s * scale / (s * scale + sq_dist) for s in IMQ_SCALES)


def rbf_kernel(a: Tensor, b: Tensor, scale: float) -> Tensor:
    """exp(−‖a−b‖² / C), with C = `scale`."""
    return torch.exp(-squared_distances(a, b) / scale)


def mmd_unbiased(x: Tensor, y: Tensor, kernel: Kernel) -> Tensor:
    """The unbiased U-statistic of MMD² between two samples of the same size n.

    The within-sample kernel sums skip the diagonal and are divided by n(n−1); the cross
    term averages all n² pairs. Being unbiased, it is negative about half the time when
    the two distributions are equal.
    """
    n = x.shape[0]
    if n < 2:
        raise ValueError("MMD needs a batch of at least 2 codes")
    off_diagonal = 1.0 - torch.eye(n, device=x.device, dtype=x.dtype)
    within = ((kernel(x, x) + kernel(y, y)) * off_diagonal).sum() / (n * (n - 1))
    return within - 2.0 * kernel(x, y).mean()
