"""Conditional VAE (Sohn et al. 2015, "Learning Structured Output Representation
using Deep Conditional Generative Models").

Both networks see the class y: q(z|x, y) gets y as constant one-hot image planes
stacked on the input channels, p(x|z, y) gets it concatenated to z. The prior is
p(z) = N(0, I), so z carries the style and y the class. The rest (the Gaussian
posterior and the negative ELBO) is the vanilla VAE's.

Labels may be class indices (an int, a list, or an integer tensor [B]) or
vectors on the simplex (one-hot, or a mix of classes for interpolation), one per
image [B, num_classes] or one for all [num_classes]. A single label applies to
the whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import LabelsLike, full_precision
from .checks import require_int
from .distributions import log_normal, log_standard_normal
from .vanilla_vae import VanillaVAE

# Images x classes x importance samples decoded at once, at the most.
_POSTERIOR_CHUNK = 4096
# Importance samples per class when reading an image's class: 4, 8 and 16 read the digits test set and
# the photo benchmark's digits alike (RESULTS.md), and 4 keeps a drawing's preview within 100 ms.
CLASS_READING_SAMPLES = 4


class ConditionalVAE(VanillaVAE):
    model_type = "cvae"

    def __init__(
        self,
        in_channels: int = 1,
        latent_dim: int = 10,
        img_size: int = 32,
        hidden_dims: Sequence[int] | None = None,
        likelihood: str = "bernoulli",
        num_classes: int = 10,
        fc_dims: Sequence[int] = (),
        decoder: str = "deconv",
    ) -> None:
        self.num_classes = require_int("num_classes", num_classes, 2, 1000)
        super().__init__(in_channels, latent_dim, img_size, hidden_dims, likelihood, fc_dims, decoder)

    @classmethod
    def dataset_kwargs(cls, in_channels: int, img_size: int, class_count: int) -> dict[str, int]:
        return {**super().dataset_kwargs(in_channels, img_size, class_count), "num_classes": class_count}

    def one_hot(self, labels: LabelsLike | None, batch_size: int, device: torch.device) -> Tensor:
        """Any accepted label form -> float [batch_size, num_classes]."""
        return labels_to_one_hot(labels, batch_size, self.num_classes).to(device)

    def conditioned_images(self, x: Tensor, labels: LabelsLike | None) -> Tensor:
        y = self.one_hot(labels, x.shape[0], x.device).to(x.dtype)
        planes = y[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return torch.cat([x, planes], dim=1)

    def conditioned_codes(self, z: Tensor, labels: LabelsLike | None) -> Tensor:
        return torch.cat([z, self.one_hot(labels, z.shape[0], z.device).to(z.dtype)], dim=1)

    # --- reading the class: the model as a classifier, by its own likelihood ---------

    @torch.inference_mode()
    def class_log_likelihoods(
        self, x: Tensor, samples: int = CLASS_READING_SAMPLES, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """Images [B, C, H, W] -> [B, num_classes]: for every class y, the importance-weighted lower
        bound on log p(x | y) (Burda et al. 2016), log (1/K Σ_k p(x|z_k, y) p(z_k) / q(z_k|x, y)) with
        z_k ~ q(z|x, y) and K = `samples`. K = 1 is a one-draw ELBO; the bound tightens as K grows.

        Every class uses the same standard-normal draws, so the classes are compared on common
        random numbers, and with no `generator` the draws are seeded (0): the same image always gets
        the same answer. For the "gaussian" likelihood log p(x|z) lacks a constant, the same for
        every class. Batches are split so that at most _POSTERIOR_CHUNK images are decoded at once.
        """
        require_int("samples", samples, 1, _POSTERIOR_CHUNK)
        if not len(x):
            return torch.empty(0, self.num_classes)
        generator = generator or torch.Generator().manual_seed(0)
        per_chunk = max(1, _POSTERIOR_CHUNK // (self.num_classes * samples))
        bounds = [self._class_bounds(chunk, samples, generator) for chunk in x.split(per_chunk)]
        return torch.cat(bounds)

    def _class_bounds(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        batch, classes = x.shape[0], self.num_classes
        images = x.repeat_interleave(classes, dim=0)  # image-major: [B * num_classes, C, H, W]
        labels = torch.arange(classes, device=x.device).repeat(batch)
        mu, log_var = (full_precision(t) for t in self.encode(images, labels))
        noise = torch.randn(samples, batch, 1, self.latent_dim, generator=generator).to(x.device)
        z = mu + noise.expand(-1, -1, classes, -1).reshape(samples, -1, self.latent_dim) * (0.5 * log_var).exp()
        logits = self.decode_logits(z.flatten(0, 1).to(self.dtype), labels.repeat(samples))
        log_px = -self.reconstruction_nll(logits, images.repeat(samples, 1, 1, 1)).view(samples, -1)
        log_weights = log_px + (log_standard_normal(z) - log_normal(z, mu, log_var)).sum(-1)
        bound = torch.logsumexp(log_weights, dim=0) - math.log(samples)
        return bound.view(batch, classes).cpu()

    def class_posterior(
        self, x: Tensor, samples: int = CLASS_READING_SAMPLES, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """Images -> p(y | x) [B, num_classes] ∝ p(x | y) p(y), each row summing to 1: the bounds of
        `class_log_likelihoods` for p(x | y), and a uniform p(y), as the model stores no class prior
        (the training sets are near balanced)."""
        return torch.softmax(self.class_log_likelihoods(x, samples, generator=generator), dim=1)


def labels_to_one_hot(labels: LabelsLike | None, batch_size: int, num_classes: int) -> Tensor:
    expected = (
        f"labels must be class indices in [0, {num_classes - 1}] (an int, a list or an integer tensor of length "
        f"{batch_size}) or one-hot vectors of shape [{batch_size}, {num_classes}]"
    )
    if labels is None:
        raise ValueError(f"the conditional VAE needs labels=: {expected}")
    if isinstance(labels, bool):
        raise ValueError(f"{expected}; got {labels!r}")
    try:
        labels = torch.as_tensor(labels).cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{expected}; got {labels!r}") from err
    if labels.is_floating_point() and labels.shape == (num_classes,):
        labels = labels.expand(batch_size, num_classes)
    if labels.dim() == 2 and labels.is_floating_point():
        return _check_soft_labels(labels, batch_size, num_classes, expected)
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.dim() > 1:
        raise ValueError(f"{expected}; got a {labels.dtype} tensor of shape {tuple(labels.shape)}")
    if labels.dim() == 0:
        labels = labels.expand(batch_size)
    if labels.shape[0] != batch_size:
        raise ValueError(f"{expected}; got {labels.shape[0]} labels for {batch_size} images")
    if (labels < 0).any() or (labels >= num_classes).any():
        raise ValueError(f"{expected}; got {labels.tolist()}")
    return F.one_hot(labels.long(), num_classes).float()


def _check_soft_labels(labels: Tensor, batch_size: int, num_classes: int, expected: str) -> Tensor:
    if labels.shape != (batch_size, num_classes):
        raise ValueError(f"{expected}; got a tensor of shape {tuple(labels.shape)}")
    if (labels < 0).any() or not torch.allclose(labels.sum(1), torch.ones(batch_size), atol=1e-4):
        raise ValueError(f"{expected}; label vectors must be non-negative and sum to 1")
    return labels.float()
