"""The convolutional encoder and decoder shared by every model.

Each encoder block halves the image with a stride-2 3x3 convolution; the decoder
mirrors it with stride-2 transposed convolutions, the last of which emits the image
logits directly (as in Burgess et al. 2018 and Chen et al. 2018). Optional fully
connected layers (`fc_dims`) sit between the convolutions and the code, mirrored in
the decoder, as in Burgess et al.'s [256, 256]: without them the decoder maps z
linearly onto a 4x4 feature map, so no single latent can move a sprite across the
image, and position ends up spread over every latent. `broadcast_decoder` is the
alternative: the code, tiled over a grid beside coordinate channels, instead of the
mirrored fully connected layers and the first upsampling. The seeds add a
full-resolution hidden layer and a 3x3 convolution after it, which is left out here:
at full resolution it is the most expensive layer of the network and the transposed
convolution's logits need no smoothing. There is deliberately no batch
normalisation: it couples the images of a batch, which would bias β-TCVAE's
minibatch estimator, make train and eval behave differently, and break the
equality of single-process and distributed training.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
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
    unflatten = nn.Unflatten(1, (hidden_dims[-1], feature_size, feature_size))
    return nn.Sequential(unflatten, *upsampling(hidden_dims[::-1], out_channels))


def broadcast_decoder(
    code_width: int, hidden_dims: Sequence[int], out_channels: int, feature_size: int
) -> nn.Sequential:
    """Code [B, code_width] -> logits [B, out_channels, S, S], through a spatial broadcast.

    The deconvolutional decoder's first upsampling is replaced: the code is tiled over
    the grid that upsampling would have produced (twice `feature_size`), next to x and y
    coordinate channels, and two 3x3 convolutions read it (Watters et al. 2019). The
    rest of the upsampling is the same, so it needs at least two hidden widths.
    """
    widths = hidden_dims[-2::-1]
    return nn.Sequential(SpatialBroadcast(code_width, 2 * feature_size, widths[0]), *upsampling(widths, out_channels))


class SpatialBroadcast(nn.Module):
    """Code [B, C] -> features [B, width, G, G]: the code at every cell, then two 3x3 convolutions.

    Coordinates run over [-1, 1]. A latent can then place the sprite by comparing itself
    with a coordinate channel, rather than having the decoder build a map for every
    position (the README's design notes give what it did for a β-TCVAE's MIG on dSprites).
    """

    def __init__(self, code_width: int, grid_size: int, width: int) -> None:
        super().__init__()
        axis = torch.linspace(-1.0, 1.0, grid_size)
        coordinates = torch.stack(torch.meshgrid(axis, axis, indexing="xy")).unsqueeze(0)
        self.register_buffer("coordinates", coordinates, persistent=False)
        self.convolutions = nn.Sequential(
            nn.Conv2d(code_width + 2, width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(0.2),
        )

    def forward(self, code: Tensor) -> Tensor:
        batch, grid = code.shape[0], self.coordinates.shape[-1]
        tiled = code[:, :, None, None].expand(-1, -1, grid, grid)
        coordinates = self.coordinates.to(code.dtype).expand(batch, -1, -1, -1)
        return self.convolutions(torch.cat([tiled, coordinates], dim=1))


def upsampling(widths: Sequence[int], out_channels: int) -> list[nn.Module]:
    """Stride-2 transposed convolutions through `widths`, the last one emitting logits."""
    layers: list[nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        layers += [_upsample(width_in, width_out), nn.LeakyReLU(0.2)]
    layers.append(_upsample(widths[-1], out_channels))
    return layers


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
