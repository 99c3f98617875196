"""Vanilla VAE (Kingma & Welling 2013, "Auto-Encoding Variational Bayes").

q(z|x) = N(mu(x), diag(exp(log_var(x)))), p(z) = N(0, I), and the loss is the
negative ELBO: -E_q[log p(x|z)] + kld_weight * KL(q(z|x) || p(z)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from .base import BaseVAE, reparameterize
from .layers import GaussianPosterior


class VanillaVAE(BaseVAE):
    model_type = "vanilla_vae"

    def __init__(
        self,
        in_channels: int = 1,
        latent_dim: int = 10,
        img_size: int = 32,
        hidden_dims: Sequence[int] | None = None,
        likelihood: str = "bernoulli",
        fc_dims: Sequence[int] = (),
        decoder: str = "deconv",
    ) -> None:
        super().__init__(in_channels, latent_dim, img_size, hidden_dims, likelihood, fc_dims, decoder)
        self.posterior = GaussianPosterior(self.feature_dim, latent_dim)

    def encode(self, x: Tensor) -> list[Tensor]:
        """Images -> [mu, log_var] of q(z|x)."""
        self.check_images(x)
        return list(self.posterior(self.encoder(x)))

    def embed(self, x: Tensor) -> Tensor:
        return self.encode(x)[0]

    def forward(self, x: Tensor, **kwargs: Any) -> list[Tensor]:
        """Returns [recons, input, mu, log_var]; recons are logits, not images."""
        mu, log_var = self.encode(x)
        return [self.decode_logits(reparameterize(mu, log_var)), x, mu, log_var]

    def loss_function(
        self, recons: Tensor, x: Tensor, mu: Tensor, log_var: Tensor, *, kld_weight: float = 1.0, **kwargs: Any
    ) -> dict:
        return self.gaussian_elbo(recons, x, mu, log_var, kld_weight)
