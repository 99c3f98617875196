"""The models an explorer offers: local checkpoint folders and Hub repos, loaded lazily.

A `Catalog` knows each model's metadata (config, metrics, training config) from its
JSON files at once, and loads weights and the latent cache the first time they are
asked for, then keeps them. Loaded models are only read (inference), so requests
may share them; loading itself is serialised by a lock.

Hub repos are fetched in worker threads with a deadline: a Hub that is slow or
unreachable costs start-up at most `hub_timeout` seconds and becomes a warning.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import hf_hub_download

from .base import BaseVAE
from .checkpoint import (
    CONFIG_NAME,
    METADATA_FILES,
    METRICS_NAME,
    TRAINING_CONFIG_NAME,
    WEIGHTS_NAME,
    ModelLoadError,
    load_latent_cache,
    read_json_object,
)
from .loading import load_model, model_folder
from .metrics import ACTIVE_UNIT_THRESHOLD, dominant_factors, kl_order

DEFAULT_CLASS_COUNT = 10  # what a model with no recorded classes is labelled with: the digits


@dataclass
class ModelInfo:
    """What is known about a model without loading its weights, and the facts derived from it once."""

    name: str
    folder: Path
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    training_config: dict[str, Any] = field(default_factory=dict)

    @property
    def model_type(self) -> str:
        return self.config.get("model_type", "?")

    @property
    def latent_dim(self) -> int:
        return int(self.config.get("latent_dim", 0))

    @property
    def dataset(self) -> str:
        return self.metrics.get("dataset") or self.training_config.get("data", {}).get("name") or "unknown"

    @property
    def is_conditional(self) -> bool:
        """Whether the model is conditioned on class labels (its config names a class count)."""
        return int(self.config.get("num_classes", 0)) > 0

    @functools.cached_property
    def class_names(self) -> list[str]:
        if "class_names" in self.metrics:
            return list(self.metrics["class_names"])
        return [str(k) for k in range(int(self.config.get("num_classes", DEFAULT_CLASS_COUNT)))]

    @property
    def factor_names(self) -> list[str]:
        """The generative factors the test set is labelled with (dSprites); empty for other data."""
        return list(self.metrics.get("factor_names", []))

    @property
    def colour_choices(self) -> list[str]:
        """What the latent map can colour its points by."""
        return ["label", *self.factor_names]

    @property
    def information_per_latent(self) -> tuple[list[float], str] | None:
        """Each latent's information and its name: the KL per latent, or the code variance for
        the WAE, which has no KL; None for a model that has not been evaluated."""
        if self.metrics.get("kl_per_dim"):
            return list(self.metrics["kl_per_dim"]), "KL (nats)"
        if self.metrics.get("code_variance_per_dim"):
            return list(self.metrics["code_variance_per_dim"]), "code variance (the WAE has no KL)"
        return None

    @functools.cached_property
    def latent_order(self) -> list[int]:
        """Latent dimensions by information, most first (the slider order)."""
        information = self.information_per_latent
        return kl_order(information[0]) if information else list(range(self.latent_dim))

    @functools.cached_property
    def inactive(self) -> list[bool]:
        """Per latent, whether its code barely moves over the data (Burda et al.'s inactive unit)."""
        variances = self.metrics.get("code_variance_per_dim") or [float("inf")] * self.latent_dim
        return [v <= ACTIVE_UNIT_THRESHOLD for v in variances]

    @property
    def active_latent_order(self) -> list[int]:
        """The active latents, most informative first; the most informative one if none is active."""
        return [d for d in self.latent_order if not self.inactive[d]] or self.latent_order[:1]

    @functools.cached_property
    def dominant_factors(self) -> list[tuple[int, float, int | None, float]] | None:
        """Per latent, the factor it informs most and the runner-up, with their shares
        (`metrics.dominant_factors`); None without factor labels."""
        return dominant_factors(*self.mutual_information) if self.mutual_information else None

    @property
    def scoreboard(self) -> dict[str, dict[str, Any]] | None:
        """The disentanglement metrics' mean, sd and per-seed values (`disentanglement.scoreboard`),
        for a model evaluated on data with generative factors; None otherwise."""
        return self.metrics.get("disentanglement")

    @functools.cached_property
    def mutual_information(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The latent × factor mutual information [latents, factors] and each factor's entropy, in nats."""
        if "mutual_information" not in self.metrics or "factor_entropy" not in self.metrics:
            return None
        return np.array(self.metrics["mutual_information"]), np.array(self.metrics["factor_entropy"])

    def latent_caption(self, dim: int) -> str:
        """What the page labels a latent with (sliders, traversal rows): its information (KL, or the
        code variance for the WAE, which has no KL) and the factors it moves: the top two when the
        runner-up holds at least half the top one's share (`factors_moved`: "shape & orientation")."""
        variance = self.metrics.get("code_variance_per_dim")
        text = f"z{dim}" + (self._kl_text(dim) or (f" · var {variance[dim]:.2f}" if variance else ""))
        moved = " & ".join(self.factors_moved(dim))
        return text + (" · inactive" if self.inactive[dim] else f" · moves {moved}" if moved else "")

    def _kl_text(self, dim: int) -> str:
        return f" · KL {self.metrics['kl_per_dim'][dim]:.2f}" if self.metrics.get("kl_per_dim") else ""

    def factors_moved(self, dim: int) -> list[str]:
        """The factor a latent informs most, and the runner-up too when it holds at least half as much
        (a latent that mixes two: β-TCVAE's z4 moves shape 0.33 and orientation 0.23). Both steps
        measure information as a share of each factor's entropy, as `dominant_factors` ranks them."""
        if not self.dominant_factors:
            return []
        top, top_share, runner_up, runner_up_share = self.dominant_factors[dim]
        mixed = runner_up is not None and runner_up_share >= 0.5 * top_share
        return [self.factor_names[top]] + ([self.factor_names[runner_up]] if mixed else [])

    @property
    def scoreboard_provenance(self) -> dict[str, Any] | None:
        """How the scoreboard was computed (`disentanglement.provenance`), or None."""
        return self.metrics.get("disentanglement_provenance")

    @property
    def information_name(self) -> str:
        """What orders the sliders: "KL", or "code variance" for a model without a KL (the WAE)."""
        return "KL" if self.metrics.get("kl_per_dim") or not self.metrics else "code variance"

    def summary(self) -> str:
        """One line for a model picker: name, type, data, latent size and the key metric."""
        parts = [self.name, self.model_type, self.dataset, f"{self.latent_dim}-d latent"]
        for key, label in (("mig", "MIG"), ("conditional_accuracy", "cond. acc."), ("iwae_nll_nats", "NLL")):
            if key in self.metrics:
                parts.append(f"{label} {self.metrics[key]:.3g}")
                break
        return " · ".join(parts)


def read_info(folder: str | Path, name: str) -> ModelInfo:
    """Metadata of a checkpoint folder; raises ModelLoadError if it is not one."""
    folder = Path(folder)
    for required in (CONFIG_NAME, WEIGHTS_NAME):
        if not (folder / required).is_file():
            raise ModelLoadError(f"{name}: {required} is missing")
    return ModelInfo(
        name=name,
        folder=folder,
        config=read_json_object(folder / CONFIG_NAME, name),
        metrics=read_json_object(folder / METRICS_NAME, name, required=False),
        training_config=read_json_object(folder / TRAINING_CONFIG_NAME, name, required=False),
    )


def discover(checkpoints: str | Path) -> tuple[list[ModelInfo], list[str]]:
    """Every checkpoint folder directly under `checkpoints`, and a warning per broken one."""
    root = Path(checkpoints)
    if not root.is_dir():
        return [], [f"no checkpoint folder at {root}"]
    infos, warnings = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            infos.append(read_info(folder, folder.name))
        except ModelLoadError as err:
            warnings.append(f"skipped {folder}: {err}")
    return infos, warnings


def fetch_hub_model(repo_id: str) -> ModelInfo:
    """Download a Hub checkpoint (weights, config and, when present, its metrics and latent cache)."""
    folder = Path(model_folder(repo_id))
    for name in METADATA_FILES:
        try:
            hf_hub_download(repo_id, name, revision=folder.name)
        except Exception:  # optional files: absent, or the Hub went away; the model still works
            continue
    return read_info(folder, repo_id)


def fetch_hub_models(repo_ids: list[str], timeout: float) -> tuple[list[ModelInfo], list[str]]:
    """Fetch repos in parallel; whatever is not done within `timeout` seconds becomes a warning.

    Daemon threads, not an executor: a download stuck on a dead connection must not hold
    the process open at exit.
    """
    results: dict[str, ModelInfo | Exception] = {}

    def fetch(repo_id: str) -> None:
        try:
            results[repo_id] = fetch_hub_model(repo_id)
        except Exception as err:  # reported as a warning below; one bad repo must not stop the app
            results[repo_id] = err

    threads = [threading.Thread(target=fetch, args=(r,), daemon=True, name=f"hub:{r}") for r in repo_ids]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    finished = dict(results)
    infos, warnings = [], []
    for repo_id in repo_ids:
        outcome = finished.get(repo_id)
        if outcome is None:
            warnings.append(f"Hub model {repo_id} could not be reached within {timeout:g} s; it is not offered")
        elif isinstance(outcome, Exception):
            warnings.append(f"Hub model {repo_id} is not offered: {outcome}")
        else:
            infos.append(outcome)
    return infos, warnings


class Catalog:
    """Models by name, with weights and latent caches loaded on first use and kept."""

    def __init__(self, infos: list[ModelInfo], device: str = "auto", warnings: list[str] | None = None) -> None:
        self.infos = {info.name: info for info in infos}
        self.device = device
        self.warnings = list(warnings or [])
        self._models: dict[str, BaseVAE] = {}
        self._latents: dict[str, dict[str, np.ndarray] | None] = {}
        self._private: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls, checkpoints: str | Path, hub_repos: list[str] = (), device: str = "auto", hub_timeout: float = 5.0
    ) -> Catalog:
        local, local_warnings = discover(checkpoints)
        remote, hub_warnings = fetch_hub_models(list(hub_repos), hub_timeout)
        return cls(local + remote, device, local_warnings + hub_warnings)

    @property
    def names(self) -> list[str]:
        """Every model's name but the private ones."""
        return [name for name in self.infos if name not in self._private]

    def add(self, info: ModelInfo, *, private: bool = True) -> None:
        """A model that joins while the app runs (one trained in the page). A private one is left out
        of `names` and of other models' `same_data`: only whoever knows its name sees it."""
        with self._lock:
            self.infos[info.name] = info
            if private:
                self._private.add(info.name)

    def remove(self, name: str) -> None:
        """Forget a model and whatever of it was loaded."""
        with self._lock:
            for held in (self.infos, self._models, self._latents):
                held.pop(name, None)
            self._private.discard(name)

    def info(self, name: str) -> ModelInfo:
        if name not in self.infos:
            raise KeyError(f"no model named {name!r}; the models are {self.names}")
        return self.infos[name]

    def model(self, name: str) -> BaseVAE:
        info = self.info(name)
        with self._lock:
            if name not in self._models:
                self._models[name] = load_model(info.folder, device=self.device)
            return self._models[name]

    def latents(self, name: str) -> dict[str, np.ndarray] | None:
        """The cached encoded test set and its projections, or None if the checkpoint has none."""
        info = self.info(name)
        with self._lock:
            if name not in self._latents:
                self._latents[name] = load_latent_cache(info.folder)
            return self._latents[name]

    def same_data(self, name: str) -> list[str]:
        """The models trained on the same dataset as `name` (itself first), for side-by-side views."""
        dataset = self.info(name).dataset
        return [name] + [n for n in self.names if n != name and self.infos[n].dataset == dataset]
