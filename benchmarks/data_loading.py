"""The dSprites generator's speed, and data loading as a share of a training step."""

from __future__ import annotations

import torch

from vae_models import BetaTCVAE
from vae_models.data import load_dataset

from .timing import Timing, time_calls
from .training import fast_path, make_step

SHIPPED_BATCH = 256


def dsprites_batch_and_step(runs: int) -> tuple[Timing, Timing]:
    """Fetching a shuffled batch of 256 (rendering included) against one training step of the
    shipped dSprites β-TCVAE on it, as `python -m train` runs them."""
    dataset = load_dataset("dsprites", "train")
    generator = torch.Generator().manual_seed(0)

    def fetch() -> list:
        return dataset.__getitems__(torch.randint(len(dataset), (SHIPPED_BATCH,), generator=generator).tolist())

    fetch_time = time_calls(fetch, runs)
    torch.manual_seed(0)
    model = BetaTCVAE(in_channels=1, latent_dim=10, img_size=64, hidden_dims=[32, 32, 64, 64])
    images, labels = torch.utils.data.default_collate(fetch())
    step = make_step(model, torch.device("cpu"), *fast_path(torch.device("cpu"), model, images, labels))
    return fetch_time, time_calls(lambda: step(images, labels), runs)
