"""The convolutional encoder and decoder shared by every model.

Each encoder block halves the image with a stride-2 3x3 convolution; the decoder
mirrors it with stride-2 transposed convolutions, the last of which emits the image
logits directly (as in Burgess et al. 2018 and Chen et al. 2018). Optional fully
connected layers (`fc_dims`) sit between the convolutions and the code, mirrored in
the decoder, as in Burgess et al.'s [256, 256]: without them the decoder maps z
linearly onto a 4x4 feature map, so no single latent can move a sprite across the
image, and position ends up spread over every latent. The seeds add a
full-resolution hidden layer and a 3x3 convolution after it; on 64x64 images that
layer cost two thirds of a training step on CPU. There is deliberately no batch
normalisation: it couples the images of a batch, which would bias β-TCVAE's
minibatch estimator, make train and eval behave differently, and break the
equality of single-process and distributed training.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn


def encoder_trunk(in_channels: int, hidden_dims: Sequence[int]) -> list[nn.Module]:
    """[B, in_channels, S, S] -> [B, hidden_dims[-1] * (S / 2**len(hidden_dims))**2]."""
    layers: list[nn.Module] = []
    for width in hidden_dims:
        layers += [nn.Conv2d(in_channels, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        in_channels = width
    return [*layers, nn.Flatten()]


def fully_connected(in_features: int, widths: Sequence[int]) -> list[nn.Module]:
    """Linear + LeakyReLU layers of the given widths."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), nn.LeakyReLU(0.2)]
        in_features = width
    return layers


def decoder_trunk(hidden_dims: Sequence[int], out_channels: int, feature_size: int) -> nn.Sequential:
    """[B, hidden_dims[-1] * feature_size**2] -> logits [B, out_channels, S, S]."""
    widths = list(reversed(hidden_dims))
    layers: list[nn.Module] = [nn.Unflatten(1, (widths[0], feature_size, feature_size))]
    for width_in, width_out in itertools.pairwise(widths):
        layers += [_upsample(width_in, width_out), nn.LeakyReLU(0.2)]
    layers.append(_upsample(widths[-1], out_channels))
    return nn.Sequential(*layers)


def _upsample(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)


class GaussianPosterior(nn.Module):
    """Encoder features -> (mu, log_var) of a diagonal Gaussian q(z|x)."""

    def __init__(self, in_features: int, latent_dim: int) -> None:
        super().__init__()
        self.fc_mu = nn.Linear(in_features, latent_dim)
        self.fc_var = nn.Linear(in_features, latent_dim)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        return self.fc_mu(features), self.fc_var(features)
