"""Vanilla VAE (Kingma & Welling 2013, "Auto-Encoding Variational Bayes").

q(z|x) = N(mu(x), diag(exp(log_var(x)))), p(z) = N(0, I), and the loss is the
negative ELBO: -E_q[log p(x|z)] + kld_weight * KL(q(z|x) || p(z)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from torch import Tensor

from .base import BaseVAE, LabelsLike, full_precision
from .distributions import gaussian_kl, reparameterize
from .layers import GaussianPosterior


class VAEOutput(NamedTuple):
    """What `forward` returns; it unpacks as [recons, input, mu, log_var] for `loss_function`."""

    recons: Tensor  # decoder logits, not images
    input: Tensor
    mu: Tensor
    log_var: Tensor


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

    def encode(self, x: Tensor, labels: LabelsLike | None = None) -> list[Tensor]:
        """Images -> [mu, log_var] of q(z|x)."""
        return list(self.posterior(self.features(x, labels)))

    def forward(self, x: Tensor, labels: LabelsLike | None = None, **kwargs: Any) -> VAEOutput:
        mu, log_var = self.encode(x, labels)
        return VAEOutput(self.decode_logits(reparameterize(mu, log_var), labels), x, mu, log_var)

    def loss_function(
        self, recons: Tensor, x: Tensor, mu: Tensor, log_var: Tensor, *, kld_weight: float = 1.0, **kwargs: Any
    ) -> dict[str, Tensor]:
        recon = self.reconstruction_loss(recons, x)
        kl = gaussian_kl(full_precision(mu), full_precision(log_var)).mean()
        return {"loss": recon + kld_weight * kl, "reconstruction": recon.detach(), "kl": kl.detach()}
