"""The image grids of a model: reconstructions beside their inputs, prior samples, latent traversals.

The trainer writes the first two after every epoch; `python -m train.card` writes all
three for a model card. Labels go to every model: a conditional one draws or
reconstructs each image as its class, the others ignore them.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import save_image

from vae_models import BaseVAE
from vae_models.data import ImageDataset
from vae_models.latent import traversal_codes

RECONSTRUCTIONS_PER_ROW = 16  # eight images, each beside its reconstruction
TRAVERSAL_STEPS = 9


@torch.inference_mode()
def save_reconstructions(model: BaseVAE, dataset: ImageDataset, path: Path, count: int = 32) -> None:
    """Test images spread evenly over the set (so every shape and class shows), each beside its
    reconstruction."""
    indices = torch.linspace(0, len(dataset) - 1, min(count, len(dataset))).long()
    images, labels = dataset.batch(indices)
    x, labels = images.to(model.device), labels.to(model.device)
    pairs = torch.stack([x, model.generate(x, labels)], dim=1).flatten(0, 1)
    save_image(pairs.float(), path, nrow=RECONSTRUCTIONS_PER_ROW)


@torch.inference_mode()
def save_samples(model: BaseVAE, path: Path, count: int, num_classes: int, seed: int) -> None:
    """`count` draws from the prior, the same ones for a seed, in a square grid; a conditional model
    draws the `num_classes` classes in turn."""
    labels = torch.arange(count) % num_classes
    generator = torch.Generator().manual_seed(seed)
    samples = model.sample(count, model.device, labels=labels, generator=generator)
    save_image(samples.float(), path, nrow=int(math.sqrt(count)))


@torch.inference_mode()
def save_traversal(model: BaseVAE, dims: list[int], path: Path) -> None:
    """One row per latent in `dims`, swept over ±3 from the zero code (as class 0, for a conditional model)."""
    codes = traversal_codes(torch.zeros(model.latent_dim), dims, TRAVERSAL_STEPS).to(model.device)
    images = model.decode(codes, torch.zeros(len(codes), dtype=torch.long))
    save_image(images.float(), path, nrow=TRAVERSAL_STEPS, pad_value=0.5)
