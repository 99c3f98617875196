"""load_model: a checkpoint folder or a Hub repo id -> a model in eval mode.

Only config.json and model.safetensors are ever read. Every failure becomes a
ModelLoadError that names the folder or repo and says what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError

from .base import BaseVAE
from .betatc_vae import BetaTCVAE
from .checkpoint import CONFIG_NAME, WEIGHTS_NAME, ModelLoadError, read_json_object
from .cvae import ConditionalVAE
from .vanilla_vae import VanillaVAE
from .wae_mmd import WAE_MMD

MODEL_TYPES: dict[str, type[BaseVAE]] = {
    cls.model_type: cls for cls in (VanillaVAE, WAE_MMD, BetaTCVAE, ConditionalVAE)
}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" is CUDA when there is a GPU, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}") from err
    if resolved.type == "cpu":
        return torch.device("cpu")  # safetensors refuses an indexed "cpu:0"
    # Any other backend (mps, meta, xpu...) would fail later, inside loading, as "corrupted weights".
    if resolved.type != "cuda":
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but PyTorch sees no CUDA GPU here")
    if resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} was asked for, but PyTorch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return resolved


def load_model(
    path_or_repo_id: str | Path, revision: str | None = None, device: str | torch.device = "auto"
) -> BaseVAE:
    """Load a model saved by `save_pretrained`, from a local folder or a Hub repo.

    Hub downloads go through huggingface_hub, so HF_HUB_OFFLINE, HF_ENDPOINT and the
    Hub cache are honoured. Loading is strict: every tensor must match the config.
    """
    source = str(path_or_repo_id)
    target = resolve_device(device)
    folder = model_folder(source, revision)
    config = read_json_object(os.path.join(folder, CONFIG_NAME), source)
    model_type = config.pop("model_type", None)
    if not isinstance(model_type, str) or model_type not in MODEL_TYPES:  # a list or dict is unhashable
        raise ModelLoadError(
            f"{source}: config.json has model_type {model_type!r}; known types are {sorted(MODEL_TYPES)}"
        )
    cls = MODEL_TYPES[model_type]
    unknown = sorted(set(config) - (set(cls._hub_mixin_init_parameters) - {"self"}))
    if unknown:
        raise ModelLoadError(f"{source}: config.json has keys that {cls.__name__} does not take: {unknown}")
    try:
        model = cls.from_pretrained(folder, map_location=str(target))
    except (TypeError, ValueError) as err:
        raise ModelLoadError(f"{source}: config.json is invalid: {err}") from err
    except SafetensorError as err:
        raise ModelLoadError(f"{source}: {WEIGHTS_NAME} is corrupted or not a safetensors file ({err})") from err
    except RuntimeError as err:
        raise ModelLoadError(f"{source}: {WEIGHTS_NAME} does not match config.json: {_first_line(err)}") from err
    return model


def model_folder(path_or_repo_id: str | Path, revision: str | None = None) -> str:
    """The local folder holding a checkpoint's config.json and model.safetensors.

    For a Hub repo id both files are downloaded (or found in the cache); the folder is
    the snapshot of the commit they came from.
    """
    source = str(path_or_repo_id)
    return _local_folder(source) if _looks_local(source) else _download(source, revision)


def _looks_local(source: str) -> bool:
    # A URL's "//" must not make it a path: it gets the "not a Hub repo id" message instead.
    path_like = source.startswith((".", "/", "~")) or os.sep + os.sep in source
    return os.path.isdir(source) or (path_like and "://" not in source)


def _local_folder(source: str) -> str:
    folder = os.path.expanduser(source)
    if not os.path.isdir(folder):
        raise ModelLoadError(f"{source}: no such checkpoint folder")
    _require_file(folder, WEIGHTS_NAME, source)
    _require_file(folder, CONFIG_NAME, source)
    return folder


def _require_file(folder: str, name: str, source: str) -> None:
    if os.path.isfile(os.path.join(folder, name)):
        return
    pickles = sorted(f for f in os.listdir(folder) if f.endswith(PICKLE_SUFFIXES))
    refusal = f"; it offers {pickles}, which are pickles and are never loaded" if pickles else ""
    raise ModelLoadError(f"{source}: {name} is missing (only config.json and model.safetensors are read){refusal}")


def _download(repo_id: str, revision: str | None) -> str:
    if "://" in repo_id or ".." in repo_id:  # checked first: validate_repo_id's message does not say why
        raise ModelLoadError(f"{repo_id!r} is not a Hub repo id: give 'owner/name' or a local folder")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise ModelLoadError(f"{repo_id!r} is neither a checkpoint folder nor a valid Hub repo id ({err})") from err
    folder = os.path.dirname(_hub_file(repo_id, CONFIG_NAME, revision))
    # The weights come from the commit the config came from (the snapshot folder's name):
    # asked by branch name, a push between the two downloads would split them across folders.
    _hub_file(repo_id, WEIGHTS_NAME, os.path.basename(folder))
    return folder


def _hub_file(repo_id: str, filename: str, revision: str | None) -> str:
    where = f"Hub repo {repo_id}" + (f" at revision {revision}" if revision else "")
    try:
        return hf_hub_download(repo_id, filename, revision=revision)
    except RepositoryNotFoundError as err:
        raise ModelLoadError(f"{where} was not found (or is private and no token was given)") from err
    except RevisionNotFoundError as err:
        raise ModelLoadError(f"{where}: no such revision") from err
    except LocalEntryNotFoundError as err:
        raise ModelLoadError(
            f"{where}: {filename} is not in the local Hub cache and the Hub cannot be reached "
            "(offline, or HF_HUB_OFFLINE=1); download it once while online, or pass a local folder"
        ) from err
    except EntryNotFoundError as err:
        raise ModelLoadError(
            f"{where} has no {filename} (only config.json and model.safetensors are read; pickled weights are refused)"
        ) from err
    except Exception as err:  # network and HTTP failures come in many types
        raise ModelLoadError(f"{where}: could not download {filename}: {_first_line(err)}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
