"""Training configs: a YAML file, then `key.sub=value` overrides from the command line.

A config has four sections: `model` (the model type and its constructor arguments),
`data` (the dataset), `train` (optimiser, schedule, precision, logging) and the
top-level `seed` and `output_dir`. Unknown keys are refused, so a typo in an
override never silently trains the wrong thing.

`load_config` gives a `TrainingConfig`; its `to_dict()` is what a run saves as
training_config.json, key for key and in the same order, so that file can be
passed back to `python -m train` to remake the run.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vae_models.data import ImageDataset, load_dataset

FREE_FORM_SECTIONS = ("model",)
FLOAT_KEYS = ("lr", "weight_decay", "kld_weight", "grad_clip")
COUNT_KEYS = ("epochs", "max_steps", "batch_size", "log_every", "checkpoint_every", "grid_samples")


class ConfigError(ValueError):
    """A config file or override is malformed; the message says which key."""


@dataclass
class ModelSection:
    """The model type and its constructor's arguments, which differ per model and so are free-form."""

    type: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **copy.deepcopy(self.kwargs)}


@dataclass
class DataSection:
    name: str
    root: str | None = None
    download: bool = True
    img_size: int | None = None  # None: the dataset's own size
    in_channels: int | None = None  # for "folder" only: 1 or 3 (None: 3)
    augment: bool = False  # handwriting-like changes to each training batch (vae_models.data.augment)

    def load(self, split: str, *, download: bool | None = None) -> ImageDataset:
        """One split of the dataset this section names; `download` overrides the section's."""
        fetch = self.download if download is None else download
        return load_dataset(
            self.name, split, root=self.root, download=fetch, img_size=self.img_size, in_channels=self.in_channels
        )


@dataclass
class TrainSection:
    """Optimiser, schedule, precision and logging. The numbers are checked on construction."""

    epochs: int = 10
    max_steps: int | None = None  # when set, ends the run before `epochs` would
    batch_size: int = 64  # the global batch, split over the processes of a distributed run
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    kld_weight: float = 1.0
    grad_clip: float | None = None
    precision: str = "auto"
    channels_last: str | bool = "auto"
    compile: bool = False
    log_every: int = 20
    checkpoint_every: int = 500
    grid_samples: int = 64

    def __post_init__(self) -> None:
        """YAML reads `1e6` (no dot) as a string; numbers are parsed here, with the key in any error."""
        for key in FLOAT_KEYS:
            value = getattr(self, key)
            if value is not None:
                try:
                    setattr(self, key, float(value))
                except (TypeError, ValueError):
                    raise ConfigError(f"train.{key} must be a number, got {value!r}") from None
        for key in COUNT_KEYS:
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"train.{key} must be a positive integer, got {value!r}")


@dataclass(kw_only=True)
class TrainingConfig:
    """One run's whole config. Field order is training_config.json's key order."""

    seed: int = 0
    output_dir: str | None = None
    model: ModelSection
    data: DataSection
    train: TrainSection = field(default_factory=TrainSection)

    def to_dict(self) -> dict[str, Any]:
        """The config as training_config.json holds it: the model's arguments inline beside its type."""
        return {
            "seed": self.seed,
            "output_dir": self.output_dir,
            "model": self.model.to_dict(),
            "data": asdict(self.data),
            "train": asdict(self.train),
        }

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> TrainingConfig:
        """The inverse of `to_dict`, for a complete config (every section and key present)."""
        model = dict(config["model"])
        return cls(
            seed=config["seed"],
            output_dir=config["output_dir"],
            model=ModelSection(type=model.pop("type"), kwargs=model),
            data=DataSection(**config["data"]),
            train=TrainSection(**config["train"]),
        )


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainingConfig:
    config = _merge(_known_keys(), _read_yaml(path), prefix="")
    for override in overrides:
        _apply_override(config, override)
    for section, key in (("model", "type"), ("data", "name")):
        if config[section][key] is None:
            raise ConfigError(f"{path}: {section}.{key} is required")
    if config["output_dir"] is None:
        config["output_dir"] = str(Path("runs") / Path(path).stem)
    return TrainingConfig.from_dict(config)


def _known_keys() -> dict[str, Any]:
    """Every key a config may set, with its default (None where the YAML must give one), in order."""
    return TrainingConfig(model=ModelSection(type=None), data=DataSection(name=None)).to_dict()


def _read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from err
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a YAML mapping")
    return loaded


def _merge(base: dict, update: dict, prefix: str) -> dict:
    for key, value in update.items():
        name = f"{prefix}{key}"
        if key not in base and prefix.rstrip(".") not in FREE_FORM_SECTIONS:
            raise ConfigError(f"unknown config key {name!r}; known: {sorted(base)}")
        if isinstance(base.get(key), dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{name} must be a mapping")
            _merge(base[key], value, prefix=f"{name}.")
        else:
            base[key] = value
    return base


def _apply_override(config: dict, override: str) -> None:
    dotted, sep, raw = override.partition("=")
    if not sep or not dotted:
        raise ConfigError(f"override {override!r} must look like key.sub=value")
    *parents, leaf = dotted.split(".")
    nested: dict = {leaf: yaml.safe_load(raw)}
    for parent in reversed(parents):
        nested = {parent: nested}
    _merge(config, nested, prefix="")
