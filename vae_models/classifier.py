"""A small independent CNN classifier: the judge for class-conditioned samples, and the
feature space (its penultimate layer) for Fréchet distances.

It is trained on real training images only, never on a model's samples. Max pooling, not
average pooling, reads out the features: on dSprites a small sprite on a black field is most
of the image, and averaging drowned it (the README's design notes give the probe).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ImageClassifier(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(in_channels, 32),
            *_block(32, 64),
            *_block(64, 128),
            *_block(128, 128),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    @torch.inference_mode()
    def embed(self, x: Tensor, batch_size: int = 512) -> Tensor:
        return torch.cat([self.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    @torch.inference_mode()
    def predict(self, x: Tensor, batch_size: int = 512) -> Tensor:
        return torch.cat([self(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def _block(width_in: int, width_out: int) -> list[nn.Module]:
    return [nn.Conv2d(width_in, width_out, 3, stride=2, padding=1), nn.BatchNorm2d(width_out), nn.ReLU()]


TRAINING_IMAGE_PASSES = 160_000


def train_classifier(
    images: Tensor, labels: Tensor, num_classes: int, *, epochs: int | None = None, seed: int = 0
) -> ImageClassifier:
    """Adam on shuffled minibatches of the real training images; deterministic for a seed.

    By default it sees about 160,000 images, at most 30 epochs: enough passes for the small
    digits set and for dSprites alike (each card records the judge's test accuracy).
    """
    epochs = epochs or max(1, min(30, round(TRAINING_IMAGE_PASSES / len(images))))
    # One thread: the float sums then do not depend on the caller's thread count, so every
    # model evaluated on a dataset is judged by the very same classifier.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        classifier = _fit(images, labels, num_classes, epochs, seed)
    finally:
        torch.set_num_threads(threads)
    return classifier.eval()


def _fit(images: Tensor, labels: Tensor, num_classes: int, epochs: int, seed: int) -> ImageClassifier:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    classifier = ImageClassifier(images.shape[1], num_classes)
    optimiser = torch.optim.Adam(classifier.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=generator).split(128):
            loss = F.cross_entropy(classifier(_jitter(images[batch], generator)), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return classifier


def _jitter(images: Tensor, generator: torch.Generator, pixels: int = 2) -> Tensor:
    """Shift the batch by up to `pixels` in each direction, so the judge does not hinge on exact placement."""
    dx, dy = (torch.randint(-pixels, pixels + 1, (2,), generator=generator)).tolist()
    return torch.roll(images, shifts=(dy, dx), dims=(2, 3))
