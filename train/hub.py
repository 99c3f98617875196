"""Upload a finished run to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from .checkpointing import STATE_NAME

# Resume state and per-epoch grids stay local; the Hub gets what load_model and the card need.
UPLOAD_IGNORE = [STATE_NAME, "samples_epoch*.png", "recons_epoch*.png", ".*"]


def push_folder(folder: Path, repo_id: str, token: str | None = None) -> str:
    api = HfApi(token=token)
    api.create_repo(repo_id, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), ignore_patterns=UPLOAD_IGNORE)
    return str(commit.commit_url if hasattr(commit, "commit_url") else commit)
