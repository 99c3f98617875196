"""A small independent CNN classifier: the judge for class-conditioned samples, and the
feature space (its penultimate layer) for Fréchet distances.

It is trained on real training images only, never on a model's samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ImageClassifier(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
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


def train_classifier(
    images: Tensor, labels: Tensor, num_classes: int, *, epochs: int = 15, seed: int = 0
) -> ImageClassifier:
    """Adam on shuffled minibatches of the real training images; deterministic for a seed."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    classifier = ImageClassifier(images.shape[1], num_classes)
    optimiser = torch.optim.Adam(classifier.parameters(), lr=2e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=generator).split(128):
            loss = F.cross_entropy(classifier(images[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return classifier.eval()
