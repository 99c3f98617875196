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
from typing import Any

import torch
from torch import Tensor, nn

from .base import BaseVAE, full_precision
from .checks import require_choice, require_float

IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class WAE_MMD(BaseVAE):
    model_type = "wae_mmd"

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

    def encode(self, x: Tensor) -> list[Tensor]:
        """Images -> [z]."""
        self.check_images(x)
        return [self.fc_z(self.encoder(x))]

    def embed(self, x: Tensor) -> Tensor:
        return self.encode(x)[0]

    def forward(self, x: Tensor, **kwargs: Any) -> list[Tensor]:
        """Returns [recons, input, z]; recons are logits, not images."""
        z = self.encode(x)[0]
        return [self.decode_logits(z), x, z]

    def loss_function(self, recons: Tensor, x: Tensor, z: Tensor, **kwargs: Any) -> dict:
        recon = self.reconstruction_loss(recons, x)
        mmd = self.compute_mmd(full_precision(z))
        return {"loss": recon + mmd, "Reconstruction_Loss": recon.detach(), "MMD": mmd.detach()}

    def kernel(self, a: Tensor, b: Tensor) -> Tensor:
        """k(a_i, b_j) for every pair: [n, d] x [m, d] -> [n, m]."""
        sq_dist = (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)
        c = 2.0 * self.latent_dim * self.latent_var
        if self.kernel_type == "rbf":
            return torch.exp(-sq_dist / c)
        return sum(s * c / (s * c + sq_dist) for s in IMQ_SCALES)

    def compute_mmd(self, z: Tensor, prior_z: Tensor | None = None) -> Tensor:
        """reg_weight · unbiased MMD² between codes z and draws from the prior."""
        n = z.shape[0]
        if n < 2:
            raise ValueError("MMD needs a batch of at least 2 codes")
        if prior_z is None:
            prior_z = torch.randn_like(z)
        off_diagonal = 1.0 - torch.eye(n, device=z.device, dtype=z.dtype)
        within = ((self.kernel(z, z) + self.kernel(prior_z, prior_z)) * off_diagonal).sum() / (n * (n - 1))
        cross = self.kernel(z, prior_z).mean()
        return self.reg_weight * (within - 2.0 * cross)
