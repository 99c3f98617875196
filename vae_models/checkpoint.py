"""The checkpoint folder: its file names, and reading and writing what it holds besides the weights.

A checkpoint folder holds config.json and model.safetensors (what `load_model` reads),
and, for a trained and evaluated model, metrics.json, training_config.json and
latents.safetensors (the encoded test set and its projections, so the latent map
opens without recomputing anything). Only JSON and safetensors are read: never a pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from .metric_registry import METRICS, TEST_SET_METRICS

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
METRICS_NAME = "metrics.json"
TRAINING_CONFIG_NAME = "training_config.json"
LATENT_CACHE_NAME = "latents.safetensors"
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME)
METADATA_FILES = (METRICS_NAME, TRAINING_CONFIG_NAME, LATENT_CACHE_NAME)


class ModelLoadError(RuntimeError):
    """A checkpoint could not be loaded; the message names it and the reason."""


def read_json_object(path: str | Path, source: str, *, required: bool = True) -> dict[str, Any]:
    """A JSON object from a checkpoint file; {} for an optional file that is absent.

    Every failure is a ModelLoadError that names `source` (the folder or repo) and the file.
    """
    path = Path(path)
    if not required and not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:  # deep nesting recurses
        raise ModelLoadError(f"{source}: {path.name} is not readable JSON ({err})") from err
    if not isinstance(value, dict):
        raise ModelLoadError(f"{source}: {path.name} must hold a JSON object")
    return value


def write_json(path: str | Path, value: dict[str, Any]) -> None:
    """Indented, with a final newline, as every JSON file in a checkpoint is written."""
    Path(path).write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def read_metrics(folder: str | Path) -> dict[str, Any]:
    """A folder's metrics.json, or {} when it has not been evaluated."""
    return read_json_object(Path(folder) / METRICS_NAME, str(folder), required=False)


def read_training_config(folder: str | Path) -> dict[str, Any]:
    """The resolved config the run was trained with (what `python -m train` reruns)."""
    return read_json_object(Path(folder) / TRAINING_CONFIG_NAME, str(folder))


def save_latent_cache(folder: str | Path, **arrays: np.ndarray | torch.Tensor) -> Path:
    path = Path(folder) / LATENT_CACHE_NAME
    tensors = {name: torch.as_tensor(np.asarray(value)).contiguous() for name, value in arrays.items()}
    safetensors.torch.save_file(tensors, str(path))
    return path


def load_latent_cache(folder: str | Path) -> dict[str, np.ndarray] | None:
    path = Path(folder) / LATENT_CACHE_NAME
    if not path.exists():
        return None
    return {name: tensor.numpy() for name, tensor in safetensors.torch.load_file(str(path)).items()}


# Each metric of metrics.json a reader is shown: its key, a readable name with its unit.
def metrics_table(metrics: dict[str, Any]) -> str:
    """The metrics a reader is shown, as a Markdown table (the model card's and the page's)."""
    rows = ["| metric | value |", "| --- | --- |"]
    for key in TEST_SET_METRICS:
        if key in metrics:
            rows.append(f"| {METRICS[key].heading} | {metric_value(metrics[key], metrics.get('class_names'))} |")
    return "\n".join(rows) if len(rows) > 2 else "_No metrics.json in this checkpoint._"


def metric_value(value: Any, class_names: list[str] | None) -> str:
    """A metric as the tables show it: 4 significant digits, or one figure per class by name."""
    if isinstance(value, list):  # one figure per class
        return ", ".join(f"{name}: {v:.2f}" for name, v in zip(class_names or [], value, strict=True) if v is not None)
    return f"{value:.4g}" if isinstance(value, float) else str(value)
