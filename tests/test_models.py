"""The four models: shapes, ranges, constructor checks, and the reference code's known bugs."""

import re
import time
import tracemalloc

import pytest
import torch

from vae_models import WAE_MMD, BaseVAE, BetaTCVAE, ConditionalVAE, VanillaVAE
from vae_models.base import MAX_PARAMETERS

MODEL_CLASSES = [VanillaVAE, WAE_MMD, BetaTCVAE, ConditionalVAE]


def tiny(cls, **overrides):
    config = {"in_channels": 1, "latent_dim": 3, "img_size": 16, "hidden_dims": [4, 8]}
    return cls(**{**config, **overrides})


def labels_for(model, batch_size):
    return {"labels": torch.arange(batch_size) % model.num_classes} if isinstance(model, ConditionalVAE) else {}


def forward_and_loss(model, x):
    outputs = model(x, **labels_for(model, x.shape[0]))
    return outputs, model.loss_function(*outputs, dataset_size=1000)


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_every_model_is_a_base_vae_with_hub_mixin(cls):
    from huggingface_hub import PyTorchModelHubMixin

    model = tiny(cls)
    assert isinstance(model, BaseVAE) and isinstance(model, PyTorchModelHubMixin)
    assert model.model_type in {"vanilla_vae", "wae_mmd", "betatc_vae", "cvae"}


@pytest.mark.parametrize("cls", MODEL_CLASSES)
@pytest.mark.parametrize(
    ("img_size", "hidden_dims", "channels"),
    [(16, [4], 1), (16, [4, 6, 8, 10], 3), (32, [5, 7, 9], 1), (64, [4, 4, 4, 4, 4, 4], 3), (128, [4, 8], 1)],
)
def test_any_power_of_two_size_and_any_hidden_dims(cls, img_size, hidden_dims, channels):
    # The reference hard-codes view(-1, 512, 2, 2), which breaks every other size or depth.
    model = tiny(cls, img_size=img_size, hidden_dims=hidden_dims, in_channels=channels).eval()
    x = torch.rand(2, channels, img_size, img_size)
    outputs, losses = forward_and_loss(model, x)
    assert outputs[0].shape == x.shape
    assert outputs[1] is x
    extra = labels_for(model, 2)
    assert model.embed(x, **extra).shape == (2, 3)
    assert model.generate(x, **extra).shape == x.shape
    assert torch.isfinite(losses["loss"])


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_fully_connected_layers_sit_between_the_convolutions_and_the_code(cls):
    model = tiny(cls, fc_dims=[12, 6]).eval()
    x = torch.rand(2, 1, 16, 16)
    outputs, losses = forward_and_loss(model, x)
    assert outputs[0].shape == x.shape and torch.isfinite(losses["loss"])
    assert model.feature_dim == 6 and model._hub_mixin_config["fc_dims"] == [12, 6]
    conv_features = 8 * 4 * 4
    encoder_linears = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in encoder_linears] == [(conv_features, 12), (12, 6)]
    decoder_linears = [m for m in model.decoder_fc if isinstance(m, torch.nn.Linear)]
    code_width = 3 + getattr(model, "num_classes", 0)
    assert [(m.in_features, m.out_features) for m in decoder_linears] == [(code_width, 6), (6, 12)]
    assert model.decoder_input.in_features == 12 and model.decoder_input.out_features == conv_features
    exact = sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))
    assert model_weight_estimate(model) == exact


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_the_broadcast_decoder_tiles_the_code_beside_coordinate_channels(cls):
    model = tiny(cls, fc_dims=[12], decoder="broadcast").eval()
    x = torch.rand(2, 1, 16, 16)
    outputs, losses = forward_and_loss(model, x)
    assert outputs[0].shape == x.shape and torch.isfinite(losses["loss"])
    # The fully connected layers stay in the encoder; the decoder reads the code directly.
    assert not hasattr(model, "decoder_fc") and not hasattr(model, "decoder_input")
    broadcast = model.decoder[0]
    code_width = 3 + getattr(model, "num_classes", 0)
    assert broadcast.convolutions[0].in_channels == code_width + 2
    # One upsampling fewer than the deconvolutional decoder: the grid is 16 / 2 = 8 wide.
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder) == 1
    x_channel, y_channel = broadcast.coordinates[0]
    assert torch.equal(x_channel[0], torch.linspace(-1, 1, 8)) and torch.equal(x_channel[:, 0], torch.full((8,), -1.0))
    assert torch.equal(y_channel[:, 0], torch.linspace(-1, 1, 8)) and torch.equal(y_channel[0], torch.full((8,), -1.0))
    # The coordinates are rebuilt from the config, never read from a checkpoint.
    assert not any("coordinates" in key for key in model.state_dict())
    exact = sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight"))
    assert model_weight_estimate(model) == exact


def test_the_broadcast_decoder_reads_the_coordinates():
    # A tiled code alone is the same in every cell, and 3x3 convolutions keep it so away
    # from the padded border. With the coordinates the interior varies from cell to cell.
    broadcast = tiny(VanillaVAE, decoder="broadcast").decoder[0]
    with torch.no_grad():
        interior = broadcast(torch.randn(2, 3))[:, :, 2:-2, 2:-2]
        broadcast.coordinates = torch.zeros_like(broadcast.coordinates)
        without_coordinates = broadcast(torch.randn(2, 3))[:, :, 2:-2, 2:-2]
    assert interior.std(dim=(2, 3)).min() > 1e-4
    assert without_coordinates.std(dim=(2, 3)).max() < 1e-6


def model_weight_estimate(model):
    from vae_models.base import estimate_parameter_count

    return estimate_parameter_count(model, getattr(model, "num_classes", 0), 1 if isinstance(model, WAE_MMD) else 2)


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_without_fc_dims_the_decoder_maps_the_code_straight_onto_the_feature_map(cls):
    model = tiny(cls)
    assert model.fc_dims == [] and len(model.decoder_fc) == 0
    assert not any(isinstance(m, torch.nn.Linear) for m in model.encoder)
    assert model_weight_estimate(model) == sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_forward_output_lists_follow_the_seeds_convention(cls):
    model = tiny(cls)
    x = torch.rand(4, 1, 16, 16)
    outputs, losses = forward_and_loss(model, x)
    expected_lengths = {VanillaVAE: 4, ConditionalVAE: 4, WAE_MMD: 3, BetaTCVAE: 5}
    expected_terms = {
        VanillaVAE: {"loss", "reconstruction", "kl"},
        ConditionalVAE: {"loss", "reconstruction", "kl"},
        WAE_MMD: {"loss", "reconstruction", "mmd"},
        BetaTCVAE: {"loss", "reconstruction", "dimension_wise_kl", "total_correlation", "mutual_information"},
    }
    assert len(outputs) == expected_lengths[cls]
    assert set(losses) == expected_terms[cls]
    assert all(code.shape == (4, 3) for code in outputs[2:])


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_images_out_are_in_unit_interval_even_for_extreme_codes(cls):
    # The reference ends in Tanh, giving [-1, 1] images against [0, 1] inputs.
    model = tiny(cls).eval()
    z = torch.randn(8, 3) * 100
    images = model.decode(z, **labels_for(model, 8))
    assert images.min() >= 0 and images.max() <= 1
    samples = model.sample(8, "cpu", **labels_for(model, 8))
    assert samples.shape == (8, 1, 16, 16) and samples.min() >= 0 and samples.max() <= 1


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_caller_hidden_dims_list_is_never_changed(cls):
    hidden_dims = [4, 8, 16]
    tiny(cls, hidden_dims=hidden_dims)
    assert hidden_dims == [4, 8, 16]


def test_default_hidden_dims_are_the_seeds_and_recorded_in_config():
    model = VanillaVAE(img_size=64)
    assert model.hidden_dims == [32, 64, 128, 256, 512]
    assert model._hub_mixin_config["hidden_dims"] == [32, 64, 128, 256, 512]
    assert VanillaVAE(img_size=16).hidden_dims == [32, 64, 128]


def test_sample_is_seeded_and_temperature_scales_the_codes():
    model = tiny(VanillaVAE).eval()
    first = model.sample(4, "cpu", generator=torch.Generator().manual_seed(3))
    again = model.sample(4, "cpu", generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    z = model.prior_codes(20_000, temperature=0.5, generator=torch.Generator().manual_seed(0))
    assert z.std().item() == pytest.approx(0.5, rel=0.02)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": "10"}, "latent_dim must be an integer"),
        ({"latent_dim": True}, "latent_dim must be an integer"),
        ({"img_size": 48}, "img_size"),
        ({"img_size": 256}, "img_size"),
        ({"in_channels": 0}, "in_channels"),
        ({"hidden_dims": [4, 4, 4, 4, 4]}, "len(hidden_dims)"),
        ({"hidden_dims": []}, "len(hidden_dims)"),
        ({"hidden_dims": "32"}, "hidden_dims must be a list"),
        ({"hidden_dims": [4, -1]}, "hidden_dims[1]"),
        ({"fc_dims": 256}, "fc_dims must be a list"),
        ({"fc_dims": [16, 0]}, "fc_dims[1]"),
        ({"fc_dims": [8] * 5}, "len(fc_dims)"),
        ({"likelihood": "laplace"}, "likelihood"),
        ({"decoder": "upconv"}, "decoder must be one of"),
        ({"decoder": "broadcast", "hidden_dims": [8]}, "the broadcast decoder needs at least two hidden_dims"),
    ],
)
def test_bad_constructor_arguments_name_the_argument(overrides, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        tiny(VanillaVAE, **overrides)


@pytest.mark.parametrize(
    ("cls", "overrides", "message"),
    [
        (WAE_MMD, {"kernel_type": "poly"}, "kernel_type"),
        (WAE_MMD, {"latent_var": 0.0}, "latent_var"),
        (WAE_MMD, {"reg_weight": float("nan")}, "reg_weight"),
        (BetaTCVAE, {"estimator": "exact"}, "estimator"),
        (BetaTCVAE, {"beta": -1.0}, "beta"),
        (BetaTCVAE, {"anneal_steps": 1.5}, "anneal_steps"),
        (BetaTCVAE, {"beta_ramp_start": -1}, "beta_ramp_start"),
        (BetaTCVAE, {"beta_ramp_steps": "2880"}, "beta_ramp_steps"),
        (ConditionalVAE, {"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_model_specific_arguments(cls, overrides, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tiny(cls, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"latent_dim": 10**9},
        {"latent_dim": 1024, "img_size": 128, "hidden_dims": [1024]},
    ],
)
def test_oversized_configs_are_refused_before_any_allocation(overrides):
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ValueError):
        tiny(VanillaVAE, **overrides)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("cls", "overrides"),
    [
        (VanillaVAE, {"img_size": 64, "hidden_dims": None, "latent_dim": 128}),
        (WAE_MMD, {"img_size": 32, "hidden_dims": [32, 64, 128], "latent_dim": 16}),
        (ConditionalVAE, {"img_size": 32, "hidden_dims": [16, 32], "latent_dim": 8}),
    ],
)
def test_parameter_estimate_behind_the_size_guard_is_close_to_the_truth(cls, overrides, monkeypatch):
    import vae_models.base as base

    estimates = []
    real_estimate = base.estimate_parameter_count
    monkeypatch.setattr(
        base, "estimate_parameter_count", lambda *a: estimates.append(real_estimate(*a)) or estimates[-1]
    )
    model = tiny(cls, **overrides)
    actual = sum(p.numel() for p in model.parameters())
    assert estimates[0] == pytest.approx(actual, rel=0.1)
    assert actual < MAX_PARAMETERS


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_wrong_image_shape_gets_a_clear_error(cls):
    model = tiny(cls)
    with pytest.raises(ValueError, match=r"expects float images \[B, 1, 16, 16\]"):
        model.embed(torch.rand(2, 3, 16, 16), **labels_for(model, 2))


def test_images_outside_unit_interval_are_refused_by_the_loss():
    model = tiny(VanillaVAE)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.loss_function(*model(x))


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_a_few_adam_steps_fit_a_fixed_batch(cls):
    torch.manual_seed(0)
    model = tiny(cls, likelihood="bernoulli")
    x = (torch.rand(8, 1, 16, 16) > 0.5).float()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        _, losses = forward_and_loss(model, x)
        optimiser.zero_grad()
        losses["loss"].backward()
        optimiser.step()
        first = first if first is not None else losses["reconstruction"].item()
    assert losses["reconstruction"].item() < first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_every_model_runs_on_cuda(cls):
    model = tiny(cls).cuda()
    x = torch.rand(4, 1, 16, 16, device="cuda")
    outputs, losses = forward_and_loss(model, x)
    losses["loss"].backward()
    assert outputs[0].is_cuda
    assert model.sample(2, "cuda", **labels_for(model, 2)).is_cuda


# --- conditional VAE labels ---------------------------------------------------------


@pytest.fixture
def cvae():
    torch.manual_seed(0)
    return tiny(ConditionalVAE, num_classes=4).eval()


@pytest.mark.parametrize(
    "labels",
    [2, [2, 2, 2], torch.tensor([2, 2, 2]), torch.tensor(2), torch.eye(4)[[2, 2, 2]]],
    ids=["int", "list", "tensor", "scalar-tensor", "one-hot"],
)
def test_cvae_accepts_indices_and_one_hot_alike(cvae, labels):
    # The reference only takes multi-hot vectors.
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(1))
    expected = cvae.decode(z, torch.eye(4)[[2, 2, 2]])
    assert torch.allclose(cvae.decode(z, labels), expected)


def test_cvae_sample_takes_one_label_or_one_per_sample(cvae):
    one = cvae.sample(3, "cpu", labels=1, generator=torch.Generator().manual_seed(0))
    each = cvae.sample(3, "cpu", labels=[1, 1, 1], generator=torch.Generator().manual_seed(0))
    other = cvae.sample(3, "cpu", labels=[0, 1, 3], generator=torch.Generator().manual_seed(0))
    assert torch.equal(one, each)
    assert not torch.allclose(one[0], other[0]) and torch.allclose(one[1], other[1])


def test_cvae_label_changes_the_decoded_image(cvae):
    z = torch.zeros(1, 3)
    assert not torch.allclose(cvae.decode(z, 0), cvae.decode(z, 3))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "needs labels="),
        (4, r"class indices in \[0, 3\]"),
        (-1, r"class indices in \[0, 3\]"),
        ([1, 2], "2 labels for 3 images"),
        (torch.tensor([0.0, 1.0, 2.0]), "float"),
        (torch.tensor([[1.0, 1.0, 0.0, 0.0]] * 3), "sum to 1"),
        (torch.ones(3, 5) / 5, "shape"),
        ("cat", "class indices"),
        (True, "class indices"),
    ],
)
def test_cvae_bad_labels_raise_value_error_saying_what_is_expected(cvae, labels, message):
    with pytest.raises(ValueError, match=message):
        cvae.embed(torch.rand(3, 1, 16, 16), labels)


# --- the model API: named outputs and labels on every method -------------------------------

OUTPUT_FIELDS = {
    VanillaVAE: ("recons", "input", "mu", "log_var"),
    ConditionalVAE: ("recons", "input", "mu", "log_var"),
    WAE_MMD: ("recons", "input", "z"),
    BetaTCVAE: ("recons", "input", "mu", "log_var", "z"),
}


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_forward_outputs_are_named_and_unpack_like_the_seeds_lists(cls):
    model = tiny(cls).eval()
    x = torch.rand(4, 1, 16, 16)
    outputs, _ = forward_and_loss(model, x)
    assert outputs._fields == OUTPUT_FIELDS[cls]
    assert outputs.recons is outputs[0] and outputs.input is x
    by_name = [getattr(outputs, name) for name in OUTPUT_FIELDS[cls]]
    assert all(a is b for a, b in zip(by_name, list(outputs), strict=True))
    # The seeds' style: loss_function(*outputs) takes them positionally.
    torch.manual_seed(0)
    positional = model.loss_function(*outputs, dataset_size=1000)["loss"]
    torch.manual_seed(0)
    named = model.loss_function(*by_name, dataset_size=1000)["loss"]
    assert torch.equal(positional, named)


@pytest.mark.parametrize("cls", [VanillaVAE, WAE_MMD, BetaTCVAE])
def test_unconditional_models_take_labels_and_ignore_them(cls):
    model = tiny(cls).eval()
    x, z, labels = torch.rand(3, 1, 16, 16), torch.randn(3, 3), torch.tensor([0, 5, 9])
    assert model.num_classes == 0 and not model.is_conditional
    assert torch.equal(model.embed(x, labels), model.embed(x))
    assert torch.equal(model.decode(z, labels), model.decode(z))
    assert torch.equal(model.generate(x, labels), model.generate(x))
    seeded = model.sample(2, labels=7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(seeded, model.sample(2, generator=torch.Generator().manual_seed(1)))
    torch.manual_seed(2)
    with_labels = model(x, labels)
    torch.manual_seed(2)
    assert torch.equal(with_labels.recons, model(x).recons)


def test_the_conditional_vae_says_it_needs_labels_on_every_method(cvae):
    x, z = torch.rand(2, 1, 16, 16), torch.randn(2, 3)
    assert cvae.is_conditional and cvae.num_classes == 4
    calls = [
        lambda: cvae(x),
        lambda: cvae.encode(x),
        lambda: cvae.embed(x),
        lambda: cvae.decode(z),
        lambda: cvae.decode_logits(z),
        lambda: cvae.generate(x),
        lambda: cvae.sample(2),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="the conditional VAE needs labels="):
            call()


def test_one_soft_label_vector_applies_to_the_whole_batch(cvae):
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(5))
    blend = torch.tensor([0.25, 0.0, 0.75, 0.0])
    assert torch.allclose(cvae.decode(z, blend), cvae.decode(z, blend.expand(3, 4)))
    with pytest.raises(ValueError, match="sum to 1"):
        cvae.decode(z, torch.tensor([0.5, 0.0, 0.0, 0.0]))


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_model_facts_callers_read_instead_of_the_class(cls):
    model = tiny(cls)
    assert model.has_kl is (cls is not WAE_MMD)
    assert model.device == torch.device("cpu") and model.dtype == torch.float32
    assert model.to(torch.float64).dtype == torch.float64
    expected = {"in_channels": 3, "img_size": 64} | ({"num_classes": 7} if cls is ConditionalVAE else {})
    assert cls.dataset_kwargs(3, 64, 7) == expected
