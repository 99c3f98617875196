"""What the tabs share, in one object: the catalog of models, the example images, and what was
worked out once per model (map inverses, directions, the canvas's recent readings)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from vae_models import BaseVAE
from vae_models.catalog import Catalog, ModelInfo

from .examples import Example

DEFAULT_DATASET = "digits"  # the page opens on this dataset's best model (lowest sample FD)
PREVIEW_SLOTS = 2  # the canvas's previews bypass the queue; more at once than the Space's 2 cores only thrash

T = TypeVar("T")


class RecentResults:
    """The last `kept` results by key (a tuple whose first item is a model's name), least recently
    used first out. The canvas keeps its readings here: a stroke's preview and its queued event
    share one reading."""

    def __init__(self, kept: int = 16) -> None:
        self.kept = kept
        self._results: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = make()
        with self._lock:
            self._results[key] = result
            while len(self._results) > self.kept:
                self._results.popitem(last=False)
        return result

    def forget(self, name: str) -> None:
        """Drop the results of the model called `name` (a deleted run, whose name may be used again)."""
        with self._lock:
            for key in [key for key in self._results if key[0] == name]:
                del self._results[key]


class Explorer:
    """The page's shared state over a catalog of models. Each tab's callbacks resolve a model by
    name here and keep what is costly to work out (`memo`), so it is done once per model."""

    def __init__(self, catalog: Catalog, examples: dict[str, list[Example]] | None = None) -> None:
        self.catalog = catalog
        self.examples = examples or {}
        self._memo: dict[tuple, Any] = {}  # (model name, what, ...) -> a map inverse, directions...
        self.readings = RecentResults()
        self.preview_slots = threading.BoundedSemaphore(PREVIEW_SLOTS)

    def resolve(self, name: str) -> tuple[BaseVAE, ModelInfo]:
        """The model called `name`, loaded, and what is known about it."""
        info = self.catalog.info(name)
        return self.catalog.model(name), info

    def memo(self, key: tuple, make: Callable[[], T]) -> T:
        """What `make` works out for `key` (whose first item is the model's name), made once."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def remember(self, key: tuple, value: Any) -> None:
        self._memo[key] = value

    def recall(self, key: tuple) -> Any:
        """What was remembered for `key`, or None."""
        return self._memo.get(key)

    def forget(self, name: str) -> None:
        """Drop a model from the catalog and from what was worked out for it (a deleted run)."""
        self.catalog.remove(name)
        self.readings.forget(name)
        for key in [key for key in self._memo if key[0] == name]:
            del self._memo[key]

    def default_model(self) -> str | None:
        """The model the page opens on: the digits model whose samples are nearest the test images
        (lowest sample FD, the one figure every kind of model has); else the first model."""
        digits = [info for info in self.catalog.infos.values() if info.dataset == DEFAULT_DATASET]
        scored = [info for info in digits if "sample_frechet_distance" in info.metrics]
        if scored:
            return min(scored, key=lambda info: info.metrics["sample_frechet_distance"]).name
        return self.catalog.names[0] if self.catalog.names else None

    # --- examples -------------------------------------------------------------------------------

    def example_gallery(self, name: str) -> list[tuple[str, str]]:
        """The thumbnails of the model's dataset, each captioned with its class."""
        return [(e.path, e.caption) for e in self.examples.get(self.catalog.info(name).dataset, [])]

    def example_path(self, name: str, index: int) -> str:
        examples = self.examples.get(self.catalog.info(name).dataset, [])
        if not 0 <= index < len(examples):
            raise ValueError(f"no example {index} for {name}")
        return examples[index].path

    # --- classes as end points ---------------------------------------------------------------------

    def class_end(self, model: BaseVAE, info: ModelInfo, choice: str | None) -> tuple[torch.Tensor, int | None]:
        """A class as an end point: the zero code for the conditional VAE (its label says which class),
        else the class's mean test code."""
        if choice not in info.class_names:
            raise ValueError(f"pick a class from {info.class_names}")
        index = info.class_names.index(choice)
        if model.is_conditional:
            return torch.zeros(info.latent_dim), index
        latents = self.catalog.latents(info.name)
        if latents is None:
            raise ValueError(
                f"{info.name} has no latent cache, so class centres are unknown; interpolate images instead"
            )
        return torch.from_numpy(latents["codes"][latents["labels"] == index].mean(0)), None
