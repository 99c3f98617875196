"""What the app does with a model (vae_models.explore), on the shipped checkpoints: decoding,
traversals, interpolation, the class × style grid, the best label and seeded prior samples."""

import numpy as np
import pytest
import torch
from support import CVAE, NAMES, VANILLA

from vae_models import ConditionalVAE, explore
from vae_models.data import load_dataset
from vae_models.latent import traversal_codes


@pytest.fixture(scope="module")
def cvae(catalog) -> ConditionalVAE:
    return catalog.model(CVAE)


@pytest.fixture(scope="module")
def vanilla(catalog):
    return catalog.model(VANILLA)


def codes_for(model, count: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randn(count, model.latent_dim, generator=torch.Generator().manual_seed(seed))


def test_decode_matches_the_models_decode(vanilla, cvae):
    codes = codes_for(vanilla)
    with torch.inference_mode():
        assert torch.allclose(explore.decode(vanilla, codes), vanilla.decode(codes), atol=1e-6)
        assert torch.allclose(explore.decode(cvae, codes, 3), cvae.decode(codes, torch.full((5,), 3)), atol=1e-6)
        assert torch.allclose(explore.decode(vanilla, codes[0]), vanilla.decode(codes[:1]), atol=1e-6)
    out = explore.decode(vanilla, codes)
    assert out.shape == (5, vanilla.in_channels, vanilla.img_size, vanilla.img_size)
    assert out.device.type == "cpu" and out.min() >= 0 and out.max() <= 1


def test_decode_refuses_codes_of_the_wrong_length_and_cvae_without_a_label(vanilla, cvae):
    with pytest.raises(ValueError, match="latent dimensions"):
        explore.decode(vanilla, torch.zeros(vanilla.latent_dim + 1))
    with pytest.raises(ValueError, match="needs labels="):
        explore.decode(cvae, torch.zeros(cvae.latent_dim))


@pytest.mark.parametrize("name", NAMES)
def test_traversal_grid_rows_move_one_latent_each(catalog, name):
    model = catalog.model(name)
    start = codes_for(model, 1, seed=3)[0]
    dims, steps, span = [2, 0, model.latent_dim - 1], 5, 2.0
    label = 4 if isinstance(model, ConditionalVAE) else None
    codes = traversal_codes(start, dims, steps, span)
    assert codes.shape == (len(dims) * steps, model.latent_dim)
    for row, dim in enumerate(dims):
        block = codes[row * steps : (row + 1) * steps]
        assert torch.allclose(block[:, dim], torch.linspace(-span, span, steps))
        others = [d for d in range(model.latent_dim) if d != dim]
        assert torch.equal(block[:, others], start[others].expand(steps, -1))
    grid = explore.traversal_grid(model, start, dims, steps, span, label)
    assert torch.allclose(grid, explore.decode(model, codes, label), atol=1e-6)


def test_slerp_endpoints_and_norm():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, generator=generator), torch.randn(8, generator=generator)
    b = b * a.norm() / b.norm()
    t = torch.linspace(0, 1, 9)
    path = explore.slerp(a, b, t)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(9), rtol=1e-5)
    unequal = explore.slerp(a, 3 * b, t)
    assert torch.allclose(unequal[0], a, atol=1e-5) and torch.allclose(unequal[-1], 3 * b, atol=1e-4)


def test_slerp_of_parallel_codes_is_linear():
    a = torch.tensor([1.0, 2.0, -1.0])
    t = torch.linspace(0, 1, 5)
    assert torch.allclose(explore.slerp(a, 2 * a, t), torch.lerp(a, 2 * a, t[:, None]), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_interpolate_ends_at_the_decoded_end_codes(catalog, name, mode):
    model = catalog.model(name)
    start, end = codes_for(model, 2, seed=5)
    labels = (2, 7) if isinstance(model, ConditionalVAE) else None
    row = explore.interpolate(model, start, end, 6, mode, labels)
    assert row.shape == (6, model.in_channels, model.img_size, model.img_size)
    assert torch.allclose(row[0], explore.decode(model, start, labels and labels[0])[0], atol=1e-5)
    assert torch.allclose(row[-1], explore.decode(model, end, labels and labels[1])[0], atol=1e-5)


def test_interpolate_refuses_an_unknown_mode(vanilla):
    with pytest.raises(ValueError, match="interpolation mode must be one of"):
        explore.interpolate(vanilla, torch.zeros(vanilla.latent_dim), torch.ones(vanilla.latent_dim), 4, "cubic")


def test_class_style_grid_columns_share_z(cvae):
    styles, seed = 3, 4
    grid = explore.class_style_grid(cvae, styles, seed, temperature=0.8)
    assert grid.shape == (cvae.num_classes * styles, cvae.in_channels, cvae.img_size, cvae.img_size)
    z = explore.prior_codes(cvae, styles, seed, 0.8)
    for k in range(cvae.num_classes):
        assert torch.allclose(grid[k * styles : (k + 1) * styles], explore.decode(cvae, z, k), atol=1e-5)


def test_read_class_reads_test_digits_as_their_class(cvae):
    """The conditional VAE as a classifier by its own likelihood: most test digits read right, each
    with the probability its posterior gives the class it reads."""
    images, labels = load_dataset("digits", "test", download=False).batch()
    readings = [explore.read_class(cvae, image[None]) for image in images[:60]]
    assert np.mean([label == int(truth) for (label, _), truth in zip(readings, labels[:60], strict=True)]) >= 0.9
    label, probability = readings[0]
    assert probability == pytest.approx(float(cvae.class_posterior(images[:1])[0, label]))


@pytest.mark.parametrize("name", NAMES)
def test_prior_samples_are_deterministic_per_seed_and_leave_the_global_rng_alone(catalog, name):
    model = catalog.model(name)
    label = 1 if isinstance(model, ConditionalVAE) else None
    torch.manual_seed(0)
    state = torch.get_rng_state()
    first = explore.prior_samples(model, 4, seed=7, labels=label)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(12345)
    torch.rand(100)
    assert torch.equal(explore.prior_samples(model, 4, seed=7, labels=label), first)
    assert not torch.allclose(explore.prior_samples(model, 4, seed=8, labels=label), first)
    cooler = explore.prior_codes(model, 4, seed=7, temperature=0.5)
    assert torch.allclose(cooler, 0.5 * explore.prior_codes(model, 4, seed=7))
