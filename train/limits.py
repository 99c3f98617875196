"""What a host allows visitors' uploads to cost, set by environment variable (a Space sets them
strict, a laptop generous). The model package's `UploadLimits` holds the figures; reading them
from the environment is the web service's concern."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from vae_models.data.uploads import MB, UNPACK_FACTOR, UploadLimits

ENV_MAX_UPLOAD_MB = "VAE_EXPLORER_MAX_UPLOAD_MB"
ENV_MAX_UPLOAD_FILES = "VAE_EXPLORER_MAX_UPLOAD_FILES"
ENV_MAX_TRAIN_IMAGES = "VAE_EXPLORER_MAX_TRAIN_IMAGES"


def upload_limits_from_env(environ: Mapping[str, str] | None = None) -> UploadLimits:
    """Limits from VAE_EXPLORER_MAX_UPLOAD_MB, _MAX_UPLOAD_FILES and _MAX_TRAIN_IMAGES (unset or
    empty: the defaults); a zip may unpack to UNPACK_FACTOR times the upload limit. A malformed value
    is the host's mistake, not the visitor's, so it raises a plain ValueError naming the variable."""
    env = os.environ if environ is None else environ
    default = UploadLimits()
    upload = round(_env_number(env, ENV_MAX_UPLOAD_MB, default.max_upload_bytes / MB, float, 1) * MB)
    return UploadLimits(
        max_upload_bytes=upload,
        max_files=_env_number(env, ENV_MAX_UPLOAD_FILES, default.max_files, int, 1),
        max_unpacked_bytes=UNPACK_FACTOR * upload,
        max_images=_env_number(env, ENV_MAX_TRAIN_IMAGES, default.max_images, int, default.min_images),
    )


def _env_number(env: Mapping[str, str], name: str, default: float, kind: type, low: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= low):
        noun = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {noun} ≥ {low:g}, got {raw!r}")
    return value
