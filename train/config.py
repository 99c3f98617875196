"""Training configs: a YAML file, then `key.sub=value` overrides from the command line.

A config has four sections: `model` (the model type and its constructor arguments),
`data` (the dataset), `train` (optimiser, schedule, precision, logging) and the
top-level `seed` and `output_dir`. Unknown keys are refused, so a typo in an
override never silently trains the wrong thing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "output_dir": None,
    "model": {"type": None},
    "data": {"name": None, "root": None, "download": True},
    "train": {
        "epochs": 10,
        "max_steps": None,
        "batch_size": 64,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "schedule": "cosine",
        "kld_weight": 1.0,
        "grad_clip": None,
        "precision": "auto",
        "channels_last": "auto",
        "compile": False,
        "log_every": 20,
        "checkpoint_every": 500,
        "grid_samples": 64,
    },
}
FREE_FORM_SECTIONS = ("model",)
FLOAT_KEYS = ("lr", "weight_decay", "kld_weight", "grad_clip")
COUNT_KEYS = ("epochs", "max_steps", "batch_size", "log_every", "checkpoint_every", "grid_samples")


class ConfigError(ValueError):
    """A config file or override is malformed; the message says which key."""


def load_config(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read config {path}: {err}") from err
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a YAML mapping")
    config = _merge(copy.deepcopy(DEFAULTS), loaded, prefix="")
    for override in overrides:
        _apply_override(config, override)
    for section, key in (("model", "type"), ("data", "name")):
        if config[section][key] is None:
            raise ConfigError(f"{path}: {section}.{key} is required")
    _check_numbers(config["train"])
    if config["output_dir"] is None:
        config["output_dir"] = str(Path("runs") / Path(path).stem)
    return config


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


def _check_numbers(train: dict[str, Any]) -> None:
    """YAML reads `1e6` (no dot) as a string; numbers are parsed here, with the key in any error."""
    for key in FLOAT_KEYS:
        if train[key] is not None:
            try:
                train[key] = float(train[key])
            except (TypeError, ValueError):
                raise ConfigError(f"train.{key} must be a number, got {train[key]!r}") from None
    for key in COUNT_KEYS:
        value = train[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"train.{key} must be a positive integer, got {value!r}")
