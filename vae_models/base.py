"""BaseVAE: what the four models share.

Every model is a convolutional encoder, a latent code and a mirrored decoder that
outputs logits. Images in and out are float tensors [B, C, H, W] in [0, 1];
`decode`, `sample` and `generate` return images, `forward` returns logits so the
loss can use the numerically stable BCE-with-logits.

Losses are in nats per image: sums over pixels and latent dimensions, averaged
over the batch, so that reconstruction + KL is the negative ELBO.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import safetensors.torch
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from torch import Tensor, nn

from .checkpoint import WEIGHTS_NAME
from .checks import require_choice, require_int
from .layers import broadcast_decoder, decoder_trunk, encoder_trunk, fully_connected

IMAGE_SIZES = (16, 32, 64, 128)
LIKELIHOODS = ("bernoulli", "gaussian")
DECODERS = ("deconv", "broadcast")
DEFAULT_HIDDEN_DIMS = (32, 64, 128, 256, 512)
MAX_PARAMETERS = 100_000_000

# Class labels: an index, one per image, or vectors on the simplex [B, num_classes].
LabelsLike = int | Sequence[int] | Tensor


def default_hidden_dims(img_size: int) -> list[int]:
    """The seeds' widths, cut so the smallest feature map is at least 2x2."""
    return list(DEFAULT_HIDDEN_DIMS[: int(math.log2(img_size)) - 1])


def full_precision(t: Tensor) -> Tensor:
    """Losses are summed over thousands of terms: never in bf16/fp16, but keep float64 if given."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


class BaseVAE(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="vae-latent-explorer",
    tags=["vae", "latent-space", "pytorch"],
):
    """Shared encoder trunk, decoder, prior sampling, likelihood and checkpoint I/O.

    Subclasses add the code head (`encode`), `forward` and `loss_function`; the head
    reads `feature_dim` features. Every method that reads images or codes takes
    `labels=`: a model with classes (`num_classes` > 0, the conditional VAE) needs
    them, every other model ignores them, so callers never ask which kind they hold.
    """

    model_type: ClassVar[str]
    # The class count of a model that is conditioned on labels; 0 for one that is not.
    num_classes: int = 0
    # Whether q(z|x) is a Gaussian with a KL to the prior: false for the WAE's deterministic encoder.
    has_kl: ClassVar[bool] = True
    # The weight of the regulariser a trainer sets: (config key, what it weighs). "kld_weight" is the
    # training section's β of the ELBO; any other key is the model's own argument.
    regulariser_weight: ClassVar[tuple[str, str]] = ("kld_weight", "β, the weight of the KL term")

    def __init__(
        self,
        in_channels: int,
        latent_dim: int,
        img_size: int,
        hidden_dims: Sequence[int] | None,
        likelihood: str,
        fc_dims: Sequence[int] = (),
        decoder: str = "deconv",
        *,
        code_heads: int = 2,
    ) -> None:
        super().__init__()
        self.in_channels = require_int("in_channels", in_channels, 1, 4)
        self.latent_dim = require_int("latent_dim", latent_dim, 1, 1024)
        self.img_size = require_choice("img_size", img_size, IMAGE_SIZES)
        self.likelihood = require_choice("likelihood", likelihood, LIKELIHOODS)
        self.hidden_dims = _check_hidden_dims(hidden_dims, img_size)
        self.fc_dims = _check_widths("fc_dims", fc_dims, 0, 4, max_width=4096)
        self.decoder_type = require_choice("decoder", decoder, DECODERS)
        if self.decoder_type == "broadcast" and len(self.hidden_dims) < 2:
            raise ValueError(f"the broadcast decoder needs at least two hidden_dims, got {self.hidden_dims}")
        self.feature_size = img_size // 2 ** len(self.hidden_dims)
        self.conv_feature_dim = self.hidden_dims[-1] * self.feature_size**2
        self.feature_dim = self.fc_dims[-1] if self.fc_dims else self.conv_feature_dim
        # A conditional model sees its labels as extra input channels and extra code features.
        condition_dim = self.num_classes
        _check_parameter_count(self, condition_dim, code_heads)
        # Record the resolved widths, so config.json is explicit rather than `null`.
        if isinstance(self._hub_mixin_config, dict):
            self._hub_mixin_config["hidden_dims"] = list(self.hidden_dims)
            self._hub_mixin_config["fc_dims"] = list(self.fc_dims)

        self.encoder = nn.Sequential(
            *encoder_trunk(in_channels + condition_dim, self.hidden_dims),
            *fully_connected(self.conv_feature_dim, self.fc_dims),
        )
        code_width = latent_dim + condition_dim
        if self.decoder_type == "broadcast":
            self.decoder = broadcast_decoder(code_width, self.hidden_dims, in_channels, self.feature_size)
        else:
            self.decoder_fc = nn.Sequential(*fully_connected(code_width, self.fc_dims[::-1]))
            self.decoder_input = nn.Linear(self.fc_dims[0] if self.fc_dims else code_width, self.conv_feature_dim)
            self.decoder = decoder_trunk(self.hidden_dims, in_channels, self.feature_size)

    @property
    def is_conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @classmethod
    def dataset_kwargs(cls, in_channels: int, img_size: int, class_count: int) -> dict[str, int]:
        """The constructor arguments a dataset decides: its channels and size (and, for a model
        conditioned on labels, its class count)."""
        return {"in_channels": in_channels, "img_size": img_size}

    # --- conditioning: the identity here; the conditional VAE adds its labels ------

    def conditioned_images(self, x: Tensor, labels: LabelsLike | None) -> Tensor:
        """What the encoder reads: the images, with whatever the labels add."""
        return x

    def conditioned_codes(self, z: Tensor, labels: LabelsLike | None) -> Tensor:
        """What the decoder reads: the codes, with whatever the labels add."""
        return z

    # --- encoding ------------------------------------------------------------------

    def features(self, x: Tensor, labels: LabelsLike | None = None) -> Tensor:
        """Images [B, C, H, W] -> the encoder's features [B, feature_dim], which the code head reads."""
        self.check_images(x)
        return self.encoder(self.conditioned_images(x, labels))

    def encode(self, x: Tensor, labels: LabelsLike | None = None) -> list[Tensor]:
        """Images -> the parameters of q(z|x), the deterministic code first."""
        raise NotImplementedError

    def embed(self, x: Tensor, labels: LabelsLike | None = None) -> Tensor:
        """Images -> deterministic codes [B, latent_dim]: the posterior means (z for the WAE)."""
        return self.encode(x, labels)[0]

    # --- decoding and sampling -------------------------------------------------

    def decode_logits(self, z: Tensor, labels: LabelsLike | None = None) -> Tensor:
        code = self.conditioned_codes(z, labels)
        if self.decoder_type == "broadcast":
            return self.decoder(code)
        return self.decoder(self.decoder_input(self.decoder_fc(code)))

    def decode(self, z: Tensor, labels: LabelsLike | None = None) -> Tensor:
        """Latent codes [B, latent_dim] -> images [B, C, H, W] in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z, labels))

    def prior_codes(
        self,
        num_samples: int,
        current_device: str | torch.device = "cpu",
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """z ~ N(0, temperature² I), drawn on the CPU so a seed gives the same codes on any device."""
        require_int("num_samples", num_samples, 1, 100_000)
        z = torch.randn(num_samples, self.latent_dim, generator=generator) * temperature
        return z.to(current_device)

    def sample(
        self,
        num_samples: int,
        current_device: str | torch.device = "cpu",
        *,
        labels: LabelsLike | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Decode draws from the prior (as class `labels`, for a conditional model); `temperature`
        is the std of z."""
        z = self.prior_codes(num_samples, current_device, temperature=temperature, generator=generator)
        return self.decode(z, labels)

    def generate(self, x: Tensor, labels: LabelsLike | None = None, **kwargs: Any) -> Tensor:
        """Deterministic reconstruction: decode the code `embed` gives."""
        return self.decode(self.embed(x, labels), labels)

    # --- likelihood --------------------------------------------------------------

    def check_images(self, x: Tensor) -> None:
        expected = (self.in_channels, self.img_size, self.img_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected or not x.is_floating_point():
            raise ValueError(
                f"{type(self).__name__} expects float images [B, {expected[0]}, {expected[1]}, {expected[2]}], "
                f"got {x.dtype} {tuple(x.shape)}"
            )

    def reconstruction_nll(self, logits: Tensor, x: Tensor) -> Tensor:
        """-log p(x|z) per image, in nats, for "bernoulli"; the sum of squared errors for "gaussian"
        (the Gaussian NLL with variance 1/2, less its constant)."""
        if x.min() < 0 or x.max() > 1:
            raise ValueError("images must lie in [0, 1]; got values outside it (were they normalised to [-1, 1]?)")
        if self.likelihood == "bernoulli":
            per_pixel = F.binary_cross_entropy_with_logits(full_precision(logits), full_precision(x), reduction="none")
        else:
            per_pixel = (torch.sigmoid(full_precision(logits)) - x).pow(2)
        return per_pixel.flatten(1).sum(1)

    def reconstruction_loss(self, logits: Tensor, x: Tensor) -> Tensor:
        """The batch mean of reconstruction_nll."""
        return self.reconstruction_nll(logits, x).mean()

    # --- checkpoints: config.json + model.safetensors, never a pickle -------------

    def save_pretrained(self, save_directory: str | Path, *, config: dict | None = None, **kwargs: Any) -> str | None:
        """Write config.json (naming the model type) and model.safetensors."""
        config = {**(config or self._hub_mixin_config or {}), "model_type": self.model_type}
        return super().save_pretrained(save_directory, config=config, **kwargs)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs: Any,
    ) -> BaseVAE:
        # Overridden so that only safetensors is read (the mixin falls back to a
        # pickle) and loading is always strict (the mixin defaults to lenient).
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            weights = os.path.join(model_id, WEIGHTS_NAME)
        else:
            weights = hf_hub_download(
                model_id,
                WEIGHTS_NAME,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=local_files_only,
                token=token,
            )
        safetensors.torch.load_model(model, weights, strict=True, device=str(map_location))
        return model.eval()


def _check_hidden_dims(hidden_dims: Sequence[int] | None, img_size: int) -> list[int]:
    if hidden_dims is None:
        return default_hidden_dims(img_size)
    return _check_widths("hidden_dims", hidden_dims, 1, int(math.log2(img_size)), max_width=1024)


def _check_widths(name: str, widths: Sequence[int], min_depth: int, max_depth: int, *, max_width: int) -> list[int]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"{name} must be a list of integers, got {widths!r}")
    require_int(f"len({name})", len(widths), min_depth, max_depth)
    return [require_int(f"{name}[{i}]", width, 1, max_width) for i, width in enumerate(widths)]


def estimate_parameter_count(model: BaseVAE, condition_dim: int, code_heads: int) -> int:
    """The number of weights, biases aside: convolutions, fully connected layers and code heads."""

    def pairs(widths: Sequence[int]) -> int:
        return sum(a * b for a, b in itertools.pairwise(widths))

    encoder_convs = 9 * pairs([model.in_channels + condition_dim, *model.hidden_dims])
    encoder_fc = pairs([model.conv_feature_dim, *model.fc_dims])
    code = model.feature_dim * code_heads * model.latent_dim
    code_width = model.latent_dim + condition_dim
    if model.decoder_type == "broadcast":
        widths = model.hidden_dims[-2::-1]
        decoder = 9 * pairs([code_width + 2, widths[0], *widths, model.in_channels])
    else:
        decoder_fc = pairs([code_width, *model.fc_dims[::-1], model.conv_feature_dim])
        decoder = decoder_fc + 9 * pairs([*model.hidden_dims[::-1], model.in_channels])
    return encoder_convs + encoder_fc + code + decoder


def _check_parameter_count(model: BaseVAE, condition_dim: int, code_heads: int) -> None:
    """Refuse configs whose weights would not fit, before allocating them."""
    estimate = estimate_parameter_count(model, condition_dim, code_heads)
    if estimate > MAX_PARAMETERS:
        raise ValueError(
            f"this architecture needs about {estimate / 1e6:.0f}M parameters, "
            f"over the {MAX_PARAMETERS / 1e6:.0f}M limit (latent_dim, hidden_dims or img_size too large)"
        )
