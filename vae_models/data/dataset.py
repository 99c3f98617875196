"""ImageDataset: images in [0, 1] with an integer label, loaded a batch at a time.

Subclasses implement `_images(indices)` for a whole batch; `batch(indices)` gives
images and labels as two tensors in one such call; `__getitems__`, which torch's
DataLoader calls when it exists, is the same batch as pairs, and `__getitem__` is
the batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset


class DatasetUnavailableError(RuntimeError):
    """A dataset's files are missing and could not be fetched; the message says how to supply them."""


class ImageDataset(Dataset):
    """(image FloatTensor [C, H, W] in [0, 1], label int) pairs, with the labels and factors up front.

    `labels` [N] is what a conditional model conditions on; `factors` [N, K] holds
    the class index of each generative factor where the data set has them
    (dSprites), for disentanglement metrics.
    """

    # A data set with generative factors says how many classes each has, which are ordered
    # quantities rather than categories, which one is the label, and renders any combination.
    factor_sizes: tuple[int, ...] = ()
    continuous_factors: tuple[bool, ...] = ()
    label_factor: int | None = None

    def __init__(
        self,
        name: str,
        labels: Tensor,
        class_names: Sequence[str],
        in_channels: int,
        img_size: int,
        factors: Tensor | None = None,
        factor_names: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.labels = labels.long()
        self.class_names = list(class_names)
        self.in_channels = in_channels
        self.img_size = img_size
        self.factors = factors
        self.factor_names = factor_names

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, int]]:
        images, labels = self.batch(indices)
        return list(zip(images.unbind(0), labels.tolist(), strict=True))

    def batch(self, indices: Sequence[int] | Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The images [B, C, H, W] and labels [B] at `indices` (every image when None), in one call."""
        index = torch.arange(len(self)) if indices is None else torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        n = len(self)
        if index.numel() and not (-n <= index.min() and index.max() < n):
            raise IndexError(f"{self.name}: index out of range for {n} images")
        index = index.remainder(n) if n else index
        return self._images(index), self.labels[index]

    def _images(self, index: Tensor) -> Tensor:
        """Indices [B] in range -> images [B, C, H, W], float in [0, 1]."""
        raise NotImplementedError

    def render_factors(self, factors: Any) -> Tensor:
        """Factor classes [N, K] -> images [N, C, H, W]; only for data sets with generative factors."""
        raise NotImplementedError(f"{self.name} has no generative factors to render")

    def __repr__(self) -> str:
        size = f"{self.in_channels}x{self.img_size}x{self.img_size}"
        return f"{type(self).__name__}({self.name!r}, {len(self)} images of {size})"


class TensorImageDataset(ImageDataset):
    """Images held in memory as integers [N, C, h, w] in [0, max_value], resized per batch.

    Keeping the originals (uint8, 28x28 for MNIST) costs a fifth of the memory of
    float 32x32 copies; one bilinear resize per batch is cheap.
    """

    def __init__(self, pixels: Tensor, max_value: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pixels = pixels
        self.max_value = max_value

    def _images(self, index: Tensor) -> Tensor:
        images = self.pixels[index].float() / self.max_value
        if images.shape[-1] != self.img_size:
            # antialias matters only when shrinking (MNIST to 16 px); growing is plain bilinear
            images = F.interpolate(images, size=self.img_size, mode="bilinear", align_corners=False, antialias=True)
            images = images.clamp_(0, 1)
        return images


class FileImageDataset(ImageDataset):
    """Images decoded from files by a torchvision data set whose transform ends in ToTensor."""

    def __init__(self, source: Dataset, positions: Tensor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.positions = positions

    def _images(self, index: Tensor) -> Tensor:
        images = [self.source[position][0] for position in self.positions[index].tolist()]
        if not images:
            return torch.empty(0, self.in_channels, self.img_size, self.img_size)
        return torch.stack(images)
