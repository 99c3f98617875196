"""β-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

The KL term of the ELBO, averaged over the data, splits into three parts:

    E_x KL(q(z|x) || p(z)) = I(x; z)                       mutual information
                           + KL(q(z) || Π_j q(z_j))         total correlation
                           + Σ_j KL(q(z_j) || p(z_j))       dimension-wise KL

and the loss weights them by α, β and γ. q(z) and q(z_j) are mixtures over the
whole data set; they are estimated from the minibatch with importance weights
w_ij on q(z_i | x_j) (the paper's appendix C):

- "mss", minibatch-stratified sampling (the default): w_ii = 1/N for the sample's
  own posterior, (N-M)/(NM) for one stratum element, 1/M for the other M-1, where
  M = batch_size - 1. Each row sums to one.
- "mws", minibatch-weighted sampling: w_ij = 1/(N · batch_size).

log w_ij is added once per pair to the joint log q(z_i|x_j), and once per pair
and dimension to each marginal log q(z_id|x_j).

On a large data set the joint estimate saturates. dSprites has N = 737,280 images and
a batch holds 128, so the only posterior near z_i is its own and
log q(z_i) ≈ log q(z_i | x_i) - log N. The MI estimate is then the constant log N, and
the regulariser reduces to β·KL(q(z|x) || p(z)) - (β - γ)·(dimension-wise KL): a β-VAE
rewarded, by β - γ, for marginals that leave the prior. Estimating q(z) from posteriors
kept from earlier batches would fix the estimate, but it slows every step and did not
raise MIG (the README's design notes have the probe), so it is not done here. What did
raise it was the decoder (see `layers.broadcast_decoder`).

With `kl_estimate="closed_form"` the loss takes KL(q(z|x) || p(z)) in closed form, as the
vanilla VAE does, and the three estimates only for their excess weights:
KL + (α - 1)·MI + (β - 1)·TC + (γ - 1)·DW, as disentanglement_lib writes it. The sampled
sum MI + TC + DW is a one-sample estimate of the same KL, so the two losses agree in
expectation; the closed form has less variance. The default, "sampled", is the paper's.

The whole regulariser is warmed up linearly over `anneal_steps` training steps.
The total-correlation weight can also start late: it stays at 1 until step
`beta_ramp_start`, then rises linearly to β over `beta_ramp_steps` steps. With α = γ = 1
the loss is the plain ELBO until then, so the decoder can learn to draw the shapes before
the factorised prior pulls on the code (the README's design notes say what a strong β from
the start did on dSprites). The step counter is a buffer: per instance, and saved with the
weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .base import LabelsLike, full_precision
from .checks import require_choice, require_float, require_int
from .distributions import gaussian_kl, log_normal, log_standard_normal, reparameterize
from .vanilla_vae import VanillaVAE


class TCVAEOutput(NamedTuple):
    """What `forward` returns; it unpacks as [recons, input, mu, log_var, z] for `loss_function`.
    z is the posterior draw the reconstruction decoded: the minibatch estimator needs it."""

    recons: Tensor  # decoder logits, not images
    input: Tensor
    mu: Tensor
    log_var: Tensor
    z: Tensor


def log_importance_weights(batch_size: int, dataset_size: int, estimator: str = "mss") -> Tensor:
    """log w_ij, [batch_size, batch_size]: the weight of q(z_i | x_j) in the estimate of q(z_i)."""
    if estimator == "mws":
        return torch.full((batch_size, batch_size), -math.log(dataset_size * batch_size))
    m, n = batch_size - 1, dataset_size
    weights = torch.full((batch_size, batch_size), 1.0 / m)
    rows = torch.arange(batch_size)
    weights[rows, (rows + 1) % batch_size] = (n - m) / (n * m)
    weights[rows, rows] = 1.0 / n
    return weights.log()


def decompose_kl(z: Tensor, mu: Tensor, log_var: Tensor, log_weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Minibatch estimates of (mutual information, total correlation, dimension-wise KL), in nats."""
    log_qz_given_x = log_normal(z, mu, log_var).sum(1)
    log_pz = log_standard_normal(z).sum(1)
    # pairwise[i, j, d] = log q(z_id | x_j)
    pairwise = log_normal(z.unsqueeze(1), mu.unsqueeze(0), log_var.unsqueeze(0))
    log_qz = torch.logsumexp(log_weights + pairwise.sum(2), dim=1)
    log_prod_qzj = torch.logsumexp(log_weights.unsqueeze(2) + pairwise, dim=1).sum(1)
    mutual_information = (log_qz_given_x - log_qz).mean()
    total_correlation = (log_qz - log_prod_qzj).mean()
    dimension_wise_kl = (log_prod_qzj - log_pz).mean()
    return mutual_information, total_correlation, dimension_wise_kl


class BetaTCVAE(VanillaVAE):
    model_type = "betatc_vae"
    regulariser_weight = ("beta", "β, the weight of the total correlation")

    def __init__(
        self,
        in_channels: int = 1,
        latent_dim: int = 10,
        img_size: int = 64,
        hidden_dims: Sequence[int] | None = None,
        likelihood: str = "bernoulli",
        alpha: float = 1.0,
        beta: float = 6.0,
        gamma: float = 1.0,
        anneal_steps: int = 0,
        beta_ramp_start: int = 0,
        beta_ramp_steps: int = 0,
        estimator: str = "mss",
        kl_estimate: str = "sampled",
        fc_dims: Sequence[int] = (),
        decoder: str = "deconv",
    ) -> None:
        self.alpha = require_float("alpha", alpha, 0.0)
        self.beta = require_float("beta", beta, 0.0)
        self.gamma = require_float("gamma", gamma, 0.0)
        self.anneal_steps = require_int("anneal_steps", anneal_steps, 0, 10**9)
        self.beta_ramp_start = require_int("beta_ramp_start", beta_ramp_start, 0, 10**9)
        self.beta_ramp_steps = require_int("beta_ramp_steps", beta_ramp_steps, 0, 10**9)
        self.estimator = require_choice("estimator", estimator, ("mss", "mws"))
        self.kl_estimate = require_choice("kl_estimate", kl_estimate, ("sampled", "closed_form"))
        super().__init__(in_channels, latent_dim, img_size, hidden_dims, likelihood, fc_dims, decoder)
        self.register_buffer("anneal_step", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor, labels: LabelsLike | None = None, **kwargs: Any) -> TCVAEOutput:
        mu, log_var = self.encode(x, labels)
        z = reparameterize(mu, log_var)
        return TCVAEOutput(self.decode_logits(z, labels), x, mu, log_var, z)

    def anneal_factor(self) -> float:
        if self.anneal_steps == 0:
            return 1.0
        return min(1.0, self.anneal_step.item() / self.anneal_steps)

    def tc_weight(self) -> float:
        step = self.anneal_step.item()
        if step < self.beta_ramp_start:
            return 1.0
        if self.beta_ramp_steps == 0:
            return self.beta
        progress = min(1.0, (step - self.beta_ramp_start) / self.beta_ramp_steps)
        return 1.0 + (self.beta - 1.0) * progress

    def loss_function(
        self,
        recons: Tensor,
        x: Tensor,
        mu: Tensor,
        log_var: Tensor,
        z: Tensor,
        *,
        dataset_size: int | None = None,
        kld_weight: float = 1.0,
        **kwargs: Any,
    ) -> dict[str, Tensor]:
        if dataset_size is None:
            raise ValueError("BetaTCVAE.loss_function needs dataset_size=, the number of training images")
        batch_size = z.shape[0]
        require_int("batch size", batch_size, 2, dataset_size)
        z, mu, log_var = (full_precision(t) for t in (z, mu, log_var))
        log_weights = log_importance_weights(batch_size, dataset_size, self.estimator).to(z)
        mi, tc, dw_kl = decompose_kl(z, mu, log_var, log_weights)
        if self.training:
            self.anneal_step += 1
        regulariser = self.alpha * mi + self.tc_weight() * tc + self.gamma * dw_kl
        if self.kl_estimate == "closed_form":
            regulariser = regulariser - (mi + tc + dw_kl) + gaussian_kl(mu, log_var).mean()
        recon = self.reconstruction_loss(recons, x)
        return {
            "loss": recon + kld_weight * self.anneal_factor() * regulariser,
            "reconstruction": recon.detach(),
            "mutual_information": mi.detach(),
            "total_correlation": tc.detach(),
            "dimension_wise_kl": dw_kl.detach(),
        }
