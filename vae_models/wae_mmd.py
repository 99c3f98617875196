"""WAE-MMD (Tolstikhin et al. 2018, "Wasserstein Auto-Encoders").

A deterministic encoder z = f(x); instead of a per-image KL, the aggregate
posterior is pulled towards the prior N(0, I) by reg_weight · MMD²(q(z), p(z)).

MMD² is the unbiased U-statistic: the within-sample kernel sums skip the
diagonal and are divided by n(n-1); the cross term averages all n² pairs.
Kernels use C = 2 · latent_dim · latent_var, the expected squared distance
between two prior draws. IMQ C/(C + ‖x−y‖²) is summed over the scales the
authors' code uses; RBF is exp(−‖x−y‖²/C).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .base import BaseVAE, LabelsLike, full_precision
from .checks import require_choice, require_float
from .distributions import imq_kernel, mmd_unbiased, rbf_kernel


class WAEOutput(NamedTuple):
    """What `forward` returns; it unpacks as [recons, input, z] for `loss_function`."""

    recons: Tensor  # decoder logits, not images
    input: Tensor
    z: Tensor


class WAE_MMD(BaseVAE):
    model_type = "wae_mmd"
    has_kl = False
    regulariser_weight = ("reg_weight", "λ, the weight of the MMD to the prior")

    def __init__(
        self,
        in_channels: int = 1,
        latent_dim: int = 10,
        img_size: int = 32,
        hidden_dims: Sequence[int] | None = None,
        likelihood: str = "bernoulli",
        reg_weight: float = 100.0,
        kernel_type: str = "imq",
        latent_var: float = 1.0,
        fc_dims: Sequence[int] = (),
        decoder: str = "deconv",
    ) -> None:
        self.reg_weight = require_float("reg_weight", reg_weight, 0.0)
        self.kernel_type = require_choice("kernel_type", kernel_type, ("imq", "rbf"))
        self.latent_var = require_float("latent_var", latent_var, 0.0, allow_low=False)
        super().__init__(in_channels, latent_dim, img_size, hidden_dims, likelihood, fc_dims, decoder, code_heads=1)
        self.fc_z = nn.Linear(self.feature_dim, latent_dim)

    def encode(self, x: Tensor, labels: LabelsLike | None = None) -> list[Tensor]:
        """Images -> [z]."""
        return [self.fc_z(self.features(x, labels))]

    def forward(self, x: Tensor, labels: LabelsLike | None = None, **kwargs: Any) -> WAEOutput:
        z = self.encode(x, labels)[0]
        return WAEOutput(self.decode_logits(z, labels), x, z)

    def loss_function(self, recons: Tensor, x: Tensor, z: Tensor, **kwargs: Any) -> dict[str, Tensor]:
        recon = self.reconstruction_loss(recons, x)
        mmd = self.compute_mmd(full_precision(z))
        return {"loss": recon + mmd, "reconstruction": recon.detach(), "mmd": mmd.detach()}

    def kernel(self, a: Tensor, b: Tensor) -> Tensor:
        """k(a_i, b_j) for every pair: [n, d] x [m, d] -> [n, m]."""
        scale = 2.0 * self.latent_dim * self.latent_var
        return rbf_kernel(a, b, scale) if self.kernel_type == "rbf" else imq_kernel(a, b, scale)

    def compute_mmd(self, z: Tensor, prior_z: Tensor | None = None) -> Tensor:
        """reg_weight · unbiased MMD² between codes z and draws from the prior."""
        if prior_z is None:
            prior_z = torch.randn_like(z)
        return self.reg_weight * mmd_unbiased(z, prior_z, self.kernel)
