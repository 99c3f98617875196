"""Resumable training state, in safetensors, written atomically.

Everything `--resume` needs (model, optimiser, scheduler, step, RNG state) lives in
one `training_state.safetensors`: tensors as tensors, the rest as JSON in the
file's metadata. One file means one atomic rename: a run killed mid-save keeps
the previous state whole. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

STATE_NAME = "training_state.safetensors"


def write_atomically(path: Path, write: Any) -> None:
    """Call write(tmp_path), then rename over `path`; on failure the old file stays."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_training_state(
    folder: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer, scheduler: Any, progress: dict
) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optimiser_state = optimiser.state_dict()
    for index, slots in optimiser_state["state"].items():
        for slot, value in slots.items():
            tensors[f"optimiser.{index}.{slot}"] = value.detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    metadata = {
        "progress": json.dumps(progress),
        "param_groups": json.dumps(optimiser_state["param_groups"]),
        "scheduler": json.dumps(scheduler.state_dict()),
        "rng.python": json.dumps(random.getstate()),
        "rng.numpy": json.dumps(_numpy_state()),
    }
    write_atomically(folder / STATE_NAME, lambda tmp: safetensors.torch.save_file(tensors, str(tmp), metadata))


def load_training_state(folder: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer, scheduler: Any) -> dict:
    """Restore everything saved by save_training_state; returns the progress dict."""
    path = folder / STATE_NAME
    with safetensors.safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimiser."):
            _, index, slot = key.split(".", 2)
            slots.setdefault(int(index), {})[slot] = value
    optimiser.load_state_dict({"state": slots, "param_groups": json.loads(metadata["param_groups"])})
    scheduler.load_state_dict(json.loads(metadata["scheduler"]))
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    random.setstate(_as_tuples(json.loads(metadata["rng.python"])))
    np.random.set_state(_numpy_from_json(json.loads(metadata["rng.numpy"])))
    return json.loads(metadata["progress"])


def read_progress(folder: Path) -> dict:
    """The progress saved with a run's last checkpoint (step, elapsed seconds, precision), without
    reading its tensors."""
    with safetensors.safe_open(str(folder / STATE_NAME), framework="pt") as f:
        return json.loads(f.metadata()["progress"])


def _numpy_state() -> list:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), pos, has_gauss, cached]


def _numpy_from_json(state: list) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached


def _as_tuples(value: Any) -> Any:
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value
