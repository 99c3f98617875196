"""Four variational auto-encoders with Hub-ready checkpoints.

from vae_models import load_model
model = load_model("checkpoints/vanilla_vae-digits")
"""

__version__ = "0.1.0"

from .base import BaseVAE
from .betatc_vae import BetaTCVAE
from .checkpoint import ModelLoadError
from .cvae import ConditionalVAE
from .loading import MODEL_TYPES, load_model, model_folder, resolve_device
from .vanilla_vae import VanillaVAE
from .wae_mmd import WAE_MMD

__all__ = [
    "MODEL_TYPES",
    "WAE_MMD",
    "BaseVAE",
    "BetaTCVAE",
    "ConditionalVAE",
    "ModelLoadError",
    "VanillaVAE",
    "__version__",
    "load_model",
    "model_folder",
    "resolve_device",
]
