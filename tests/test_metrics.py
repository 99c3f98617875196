"""Evaluation metrics and latent-space helpers against brute-force, closed-form or hand-computed values."""

import math
from collections import Counter

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from vae_models import WAE_MMD, ConditionalVAE, VanillaVAE
from vae_models.checkpoint import LATENT_CACHE_NAME, load_latent_cache, save_latent_cache
from vae_models.latent import pca_projection, traversal_codes
from vae_models.metrics import (
    aggregate_posterior_mmd,
    decode_all,
    discretise,
    dominant_factors,
    encode_all,
    frechet_distance,
    is_binary,
    kl_order,
    likelihood_metrics,
    mig,
    mutual_information_matrix,
    overlap,
)

LOG_2PI = math.log(2 * math.pi)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The models here are tiny: one thread runs their small kernels faster than two contending ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- brute-force references --------------------------------------------------------------


def reference_bins(column, bins):
    """Bin k (1-based) holds [min + (k-1)·w, min + k·w), w = (max - min) / bins; the maximum goes in the last bin."""
    low, high = float(column.min()), float(column.max())
    width = (high - low) / bins
    return np.array([min(math.floor((float(x) - low) / width), bins - 1) + 1 for x in column])


def brute_force_mutual_information(a, b):
    """Σ p(x, y) log p(x, y) / (p(x) p(y)) in nats, from joint counts."""
    n = len(a)
    joint = Counter(zip(a.tolist(), b.tolist(), strict=True))
    count_a, count_b = Counter(a.tolist()), Counter(b.tolist())
    return sum(c / n * math.log((c / n) / ((count_a[x] / n) * (count_b[y] / n))) for (x, y), c in joint.items())


def brute_force_entropy(values):
    n = len(values)
    return -sum(c / n * math.log(c / n) for c in Counter(values.tolist()).values())


def random_factors(n, levels, seed):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, count, n) for count in levels], axis=1)


# --- discretisation and mutual information -------------------------------------------------


@pytest.mark.parametrize("bins", [1, 2, 7, 20])
def test_discretise_matches_an_explicit_equal_width_binning_of_each_column(bins):
    rng = np.random.default_rng(bins)
    codes = np.column_stack(
        [
            rng.normal(size=300),
            100 * rng.normal(size=300) + 5,  # another scale and offset: bins follow each column's own range
            np.exp(rng.normal(size=300)),  # skewed
            1e-3 * rng.uniform(size=300) - 7,
        ]
    )
    got = discretise(codes, bins)
    assert got.shape == codes.shape and got.dtype == np.int64
    for j in range(codes.shape[1]):
        assert np.array_equal(got[:, j], reference_bins(codes[:, j], bins)), f"column {j}"
        assert got[:, j].min() == 1 and got[:, j].max() == bins


def test_discretise_gives_each_of_up_to_twenty_integer_levels_its_own_bin():
    # The premise of the MIG tests below: a latent that copies a factor loses no information in 20 bins.
    for levels in (2, 3, 7, 20):
        values = np.arange(levels, dtype=np.float64)
        for transformed in (values, 0.37 * values - 4, -2.5 * values + 1):
            binned = discretise(transformed[:, None], 20)[:, 0]
            assert len(set(binned.tolist())) == levels, (levels, binned)
    # Twenty-one levels cannot all have their own bin.
    assert len(set(discretise(np.arange(21.0)[:, None], 20)[:, 0].tolist())) < 21


def test_discretise_puts_a_constant_column_in_one_bin():
    binned = discretise(np.column_stack([np.full(10, 3.0), np.arange(10.0)]), 20)
    assert len(set(binned[:, 0].tolist())) == 1
    assert 1 <= binned[0, 0] <= 20


@pytest.mark.parametrize("bins", [5, 20])
def test_mutual_information_matrix_matches_joint_counts(bins):
    n = 400
    factors = random_factors(n, (4, 6), seed=1)
    rng = np.random.default_rng(2)
    codes = np.column_stack(
        [
            factors[:, 0] + 0.8 * rng.normal(size=n),
            rng.normal(size=n),
            factors[:, 1] - 0.5 * factors[:, 0] + rng.normal(size=n),
        ]
    )
    got = mutual_information_matrix(codes, factors, bins)
    assert got.shape == (3, 2)  # [latent_dim, num_factors]
    for j in range(3):
        binned = reference_bins(codes[:, j], bins)
        for k in range(2):
            assert got[j, k] == pytest.approx(brute_force_mutual_information(binned, factors[:, k]), rel=1e-10)
    assert got[0, 0] > 0.3  # the dependent pair carries real information, so the comparison is not of zeros


# --- MIG -----------------------------------------------------------------------------------


def test_mig_is_close_to_one_when_each_factor_has_its_own_copying_latent():
    n = 3000
    factors = random_factors(n, (3, 6, 20), seed=3)
    rng = np.random.default_rng(4)
    codes = np.column_stack(
        [
            rng.normal(size=n),
            0.37 * factors[:, 2] - 4,
            factors[:, 0].astype(float),
            rng.normal(size=n),
            -2.5 * factors[:, 1] + 1,
        ]
    )
    result = mig(codes, factors, bins=20)
    matrix = np.array(result["mutual_information"])
    for latent, factor in [(2, 0), (4, 1), (1, 2)]:
        # A bijective copy carries the whole entropy of its factor.
        assert matrix[latent, factor] == pytest.approx(brute_force_entropy(factors[:, factor]), rel=1e-9)
    assert all(gap > 0.9 for gap in result["mig_per_factor"])
    assert 0.9 < result["mig"] <= 1.0


def test_mig_is_near_zero_for_codes_independent_of_the_factors():
    n = 3000
    factors = random_factors(n, (3, 6, 20), seed=5)
    codes = np.random.default_rng(6).normal(size=(n, 4))
    result = mig(codes, factors, bins=20)
    assert 0.0 <= result["mig"] < 0.03
    assert all(0.0 <= gap < 0.05 for gap in result["mig_per_factor"])


def test_two_latents_copying_one_factor_leave_no_gap_for_it():
    n = 2000
    factors = random_factors(n, (5, 4), seed=7)
    rng = np.random.default_rng(8)
    codes = np.column_stack(
        [factors[:, 0].astype(float), 3.0 * factors[:, 0] + 2, factors[:, 1].astype(float), rng.normal(size=n)]
    )
    gaps = mig(codes, factors, bins=20)["mig_per_factor"]
    assert gaps[0] == pytest.approx(0.0, abs=1e-12)
    assert gaps[1] > 0.95


def test_factor_entropy_is_each_factors_entropy_in_nats():
    n = 1000
    rng = np.random.default_rng(9)
    factors = np.column_stack(
        [
            rng.choice(3, size=n, p=[0.7, 0.2, 0.1]),  # unbalanced
            rng.integers(0, 8, n),
            np.arange(n) % 2,  # exactly balanced: log 2
        ]
    )
    codes = rng.normal(size=(n, 3))
    entropies = mig(codes, factors)["factor_entropy"]
    assert len(entropies) == 3
    for k in range(3):
        assert entropies[k] == pytest.approx(brute_force_entropy(factors[:, k]), rel=1e-12)
    assert entropies[2] == pytest.approx(math.log(2), rel=1e-12)


def test_mig_per_factor_is_the_gap_between_the_two_most_informative_latents_over_the_entropy():
    n = 1500
    factors = random_factors(n, (4, 5, 3), seed=10)
    rng = np.random.default_rng(11)
    codes = np.column_stack(
        [
            factors[:, 1] + 0.5 * rng.normal(size=n),
            factors[:, 0] + 0.3 * rng.normal(size=n),
            factors[:, 0] + factors[:, 2] + rng.normal(size=n),
            factors[:, 2] + 0.7 * rng.normal(size=n),
        ]
    )
    result = mig(codes, factors, bins=10)
    matrix = np.array(result["mutual_information"])
    assert matrix.shape == (4, 3)
    for k in range(3):
        column = sorted(matrix[:, k].tolist(), reverse=True)
        expected = (column[0] - column[1]) / brute_force_entropy(factors[:, k])
        assert result["mig_per_factor"][k] == pytest.approx(expected, rel=1e-12)
    assert result["mig"] == pytest.approx(sum(result["mig_per_factor"]) / 3, rel=1e-12)
    assert min(result["mig_per_factor"]) > 0.05  # real gaps, not a comparison of zeros


# --- dominant factors ------------------------------------------------------------------------


def test_dominant_factors_ranks_shares_of_each_factors_entropy():
    mutual_information = np.array([[0.5, 0.1, 0.3], [0.2, 0.9, 0.0], [0.6, 0.8, 0.1]])
    factor_entropy = np.array([1.0, 2.0, 0.5])
    # Shares: [0.5, 0.05, 0.6], [0.2, 0.45, 0.0], [0.6, 0.4, 0.2].
    got = dominant_factors(mutual_information, factor_entropy)
    expected = [(2, 0.6, 0, 0.5), (1, 0.45, 0, 0.2), (0, 0.6, 1, 0.4)]
    assert len(got) == 3
    for (factor, first, runner_up, second), want in zip(got, expected, strict=True):
        assert type(factor) is int and type(runner_up) is int and (factor, runner_up) == want[::2]
        assert type(first) is float and first == pytest.approx(want[1], rel=1e-12)
        assert type(second) is float and second == pytest.approx(want[3], rel=1e-12)


def test_dominant_factors_divides_by_entropy_before_choosing():
    # Latent 0 has more raw information about factor 1, but a larger share of factor 0.
    got = dominant_factors(np.array([[0.6, 0.8]]), np.array([1.0, 4.0]))
    assert got[0][::2] == (0, 1)
    assert got[0][1::2] == pytest.approx((0.6, 0.2), rel=1e-12)


def test_dominant_factors_with_a_single_factor_has_no_runner_up():
    got = dominant_factors(np.array([[0.3], [0.7]]), np.array([0.7]))
    assert [g[0] for g in got] == [0, 0]
    assert [g[1] for g in got] == pytest.approx([3 / 7, 1.0], rel=1e-12)
    assert [g[2:] for g in got] == [(None, 0.0), (None, 0.0)]


def test_dominant_factors_accepts_the_lists_mig_returns():
    result = {"mutual_information": [[0.2, 0.4], [0.3, 0.1]], "factor_entropy": [0.5, 2.0]}
    got = dominant_factors(result["mutual_information"], result["factor_entropy"])
    assert [g[::2] for g in got] == [(0, 1), (0, 1)]
    assert [g[1::2] for g in got] == [pytest.approx((0.4, 0.2)), pytest.approx((0.6, 0.05))]


# --- Fréchet distance ------------------------------------------------------------------------


def brute_force_frechet(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = (a - mu_a).T @ (a - mu_a) / (len(a) - 1)
    cov_b = (b - mu_b).T @ (b - mu_b) / (len(b) - 1)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def test_frechet_distance_matches_scipy_sqrtm_on_random_features():
    rng = np.random.default_rng(12)
    a = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) + rng.normal(size=6)
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) * 0.5 - 1.0
    expected = brute_force_frechet(a, b)
    assert expected > 1.0
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_shifts_add_the_squared_offset():
    rng = np.random.default_rng(13)
    a = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    scale = np.trace(np.cov(a, rowvar=False))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9 * scale)
    offset = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert frechet_distance(a, a + offset) == pytest.approx((offset**2).sum(), rel=1e-8)


def test_frechet_distance_with_fewer_samples_than_features_matches_the_eigenvalue_formula():
    # Singular covariances: Tr (Σa Σb)^½ is the sum of the roots of the (real, non-negative) eigenvalues of Σa Σb.
    rng = np.random.default_rng(14)
    a, b = rng.normal(size=(6, 10)), rng.normal(size=(7, 10)) + 0.2
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues = np.clip(np.linalg.eigvals(cov_a @ cov_b).real, 0, None)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b) - 2 * np.sqrt(eigenvalues).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_of_large_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(15)
    mean_a, mean_b = np.array([0.0, 1.0, -1.0]), np.array([1.0, 0.5, 0.0])
    cov_a = np.diag([1.0, 2.0, 0.5])
    mixing = rng.normal(size=(3, 3))
    cov_b = mixing @ mixing.T + 0.3 * np.eye(3)
    exact = float(
        ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(scipy.linalg.sqrtm(cov_a @ cov_b)))
    )
    a = rng.multivariate_normal(mean_a, cov_a, size=100_000)
    b = rng.multivariate_normal(mean_b, cov_b, size=100_000)
    assert exact > 1.0
    assert frechet_distance(a, b) == pytest.approx(exact, rel=0.02)


# --- KL order ------------------------------------------------------------------------------


def test_kl_order_is_descending_for_lists_and_tensors():
    assert kl_order([0.1, 2.0, 0.0, 0.5]) == [1, 3, 0, 2]
    assert kl_order(torch.tensor([0.1, 2.0, 0.0, 0.5])) == [1, 3, 0, 2]
    values = torch.randperm(50, generator=torch.Generator().manual_seed(16)).float().tolist()
    assert kl_order(values) == sorted(range(50), key=lambda i: -values[i])


# --- likelihood metrics on a tiny model -------------------------------------------------------


def tiny_vae(cls=VanillaVAE, seed=0, **overrides):
    torch.manual_seed(seed)
    return cls(**{"in_channels": 1, "latent_dim": 2, "img_size": 16, "hidden_dims": [4], **overrides}).eval()


def move_posterior(model, mean_shift=0.7, log_var=-0.3):
    """Push q(z|x) away from the prior, so the KL terms are not all close to zero."""
    with torch.no_grad():
        model.posterior.fc_mu.bias.add_(mean_shift)
        model.posterior.fc_var.bias.fill_(log_var)
    return model


def random_images(n, seed):
    return torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed))


def zero_labels(n):
    return torch.zeros(n, dtype=torch.long)


def bernoulli_nll(logits, x):
    """-Σ [x log σ(l) + (1 - x) log(1 - σ(l))] per image, in float64."""
    logits, x = logits.double(), x.double()
    return -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(1)


def normal_log_density(z, mu, log_var):
    return -0.5 * (LOG_2PI + log_var + (z - mu) ** 2 / math.exp(log_var))


def test_kl_per_dim_is_the_exact_gaussian_kl_and_negative_elbo_is_reconstruction_plus_kl():
    model = move_posterior(tiny_vae())
    x = random_images(70, seed=1)  # more than one batch of 64
    result = likelihood_metrics(model, x, zero_labels(70), importance_samples=2)
    with torch.no_grad():
        mu, log_var = (t.double() for t in model.encode(x))
    exact = (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).mean(0)
    assert result["kl_per_dim"] == pytest.approx(exact.tolist(), rel=1e-5)
    assert result["kl_nats"] == pytest.approx(sum(result["kl_per_dim"]), rel=1e-6)
    assert result["kl_nats"] > 0.3
    assert result["negative_elbo_nats"] == pytest.approx(result["reconstruction_nats"] + result["kl_nats"], rel=1e-12)
    assert result["iwae_samples"] == 2


def test_reconstruction_and_iwae_match_an_explicit_loop_over_the_same_noise():
    model = move_posterior(tiny_vae(seed=2))
    n, samples = 5, 4  # one batch: the forward pass draws one noise tensor, then one per importance sample
    x = random_images(n, seed=3)
    torch.manual_seed(17)
    result = likelihood_metrics(model, x, zero_labels(n), importance_samples=samples)

    torch.manual_seed(17)
    with torch.no_grad():
        mu, log_var = model.encode(x)
        noise = [torch.randn_like(mu) for _ in range(1 + samples)]
        reconstruction, nll = [], []
        for i in range(n):
            std = torch.exp(0.5 * log_var[i])
            z0 = mu[i] + noise[0][i] * std
            reconstruction.append(bernoulli_nll(model.decode_logits(z0[None]), x[i : i + 1]).item())
            log_weights = []
            for k in range(1, 1 + samples):
                z = mu[i] + noise[k][i] * std
                log_px = -bernoulli_nll(model.decode_logits(z[None]), x[i : i + 1]).item()
                log_pz = sum(normal_log_density(z[d].item(), 0.0, 0.0) for d in range(2))
                log_qz = sum(normal_log_density(z[d].item(), mu[i, d].item(), log_var[i, d].item()) for d in range(2))
                log_weights.append(log_px + log_pz - log_qz)
            top = max(log_weights)
            nll.append(-(top + math.log(sum(math.exp(w - top) for w in log_weights) / samples)))
    assert result["reconstruction_nats"] == pytest.approx(sum(reconstruction) / n, rel=1e-5)
    assert result["iwae_nll_nats"] == pytest.approx(sum(nll) / n, rel=1e-5)


def test_iwae_approaches_the_exact_likelihood_from_quadrature_over_the_2d_latent():
    model = move_posterior(tiny_vae(seed=4))
    with torch.no_grad():
        model.decoder_input.weight.mul_(3.0)  # make p(x|z) depend strongly on z
    x = random_images(3, seed=5)
    grid = torch.linspace(-6, 6, 121, dtype=torch.float64)
    z = torch.cartesian_prod(grid, grid)
    with torch.no_grad():
        logits = model.decode_logits(z.float())
        log_px_given_z = torch.stack([-bernoulli_nll(logits, image.expand(len(z), -1, -1, -1)) for image in x])
    log_pz = (-0.5 * (LOG_2PI + z**2)).sum(1)
    cell = (grid[1] - grid[0]).item() ** 2
    exact_nll = -(torch.logsumexp(log_px_given_z + log_pz, dim=1) + math.log(cell)).mean().item()

    torch.manual_seed(18)
    result = likelihood_metrics(model, x, zero_labels(3), importance_samples=300)
    assert result["iwae_nll_nats"] == pytest.approx(exact_nll, abs=0.5)
    # One importance sample is the ELBO, which is looser by KL(q(z|x) || p(z|x)) — tens of nats here.
    single = []
    for seed in range(10):
        torch.manual_seed(seed)
        single.append(likelihood_metrics(model, x, zero_labels(3), importance_samples=1)["iwae_nll_nats"])
    assert sum(single) / len(single) > exact_nll + 2.0
    assert result["iwae_nll_nats"] <= result["negative_elbo_nats"] + 0.5


def test_active_units_counts_code_variances_above_one_hundredth():
    model = tiny_vae(latent_dim=4, seed=6)
    with torch.no_grad():
        # Code variances about 5.4, 0 (a constant code), 0.0067 and 0.0115: two on each side of 0.01.
        for dim, scale in enumerate([50.0, 0.0, 1.8, 2.4]):
            model.posterior.fc_mu.weight[dim].mul_(scale)
    x = random_images(40, seed=7)
    result = likelihood_metrics(model, x, zero_labels(40), importance_samples=1)
    with torch.no_grad():
        codes = model.embed(x).double()
    variances = ((codes - codes.mean(0)) ** 2).sum(0) / (len(codes) - 1)
    assert result["code_variance_per_dim"] == pytest.approx(variances.tolist(), rel=1e-4, abs=1e-12)
    assert variances[1] == 0 and 0.005 < variances[2] < 0.01 < variances[3] < 0.015
    assert result["active_units"] == int((variances > 0.01).sum()) == 2


def test_wae_gets_a_deterministic_reconstruction_and_no_kl_keys():
    model = tiny_vae(WAE_MMD)
    x = random_images(6, seed=8)
    result = likelihood_metrics(model, x, zero_labels(6))
    assert set(result) == {"reconstruction_nats", "active_units", "code_variance_per_dim"}
    with torch.no_grad():
        expected = bernoulli_nll(model.decode_logits(model.embed(x)), x).mean().item()
    assert result["reconstruction_nats"] == pytest.approx(expected, rel=1e-5)


def test_conditional_vae_kl_uses_the_labels():
    model = move_posterior(tiny_vae(ConditionalVAE, num_classes=3))
    x, labels = random_images(6, seed=9), torch.tensor([0, 1, 2, 2, 1, 0])
    result = likelihood_metrics(model, x, labels, importance_samples=1)
    with torch.no_grad():
        mu, log_var = (t.double() for t in model.encode(x, labels))
        mu_other, _ = model.encode(x, (labels + 1) % 3)
    exact = (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).mean(0)
    assert result["kl_per_dim"] == pytest.approx(exact.tolist(), rel=1e-5)
    assert not torch.allclose(mu.float(), mu_other)  # the labels matter, so the check above sees them


@pytest.mark.parametrize("cls", [VanillaVAE, ConditionalVAE])
def test_encode_all_and_decode_all_give_the_posterior_means_and_reconstructions_across_batches(cls):
    model = tiny_vae(cls, **({"num_classes": 3} if cls is ConditionalVAE else {}))
    x, labels = random_images(300, seed=10), torch.arange(300) % 3  # more than one batch of 256
    codes = encode_all(model, x, labels)
    reconstructions = decode_all(model, codes, labels)
    extra = {"labels": labels} if cls is ConditionalVAE else {}
    with torch.no_grad():
        expected_codes, expected_images = model.embed(x, **extra), model.generate(x, **extra)
    assert codes.shape == (300, 2) and codes.dtype == torch.float32
    assert torch.allclose(codes, expected_codes, rtol=1e-5, atol=1e-6)
    assert reconstructions.shape == x.shape and torch.allclose(reconstructions, expected_images, atol=1e-6)


# --- aggregate posterior MMD ---------------------------------------------------------------


def brute_force_imq_mmd(z, prior):
    c = 2.0 * z.shape[1]
    scales = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

    def kernel(a, b):
        return sum(s * c / (s * c + float(((a - b) ** 2).sum())) for s in scales)

    n = len(z)
    within = sum(kernel(z[i], z[j]) + kernel(prior[i], prior[j]) for i in range(n) for j in range(n) if i != j)
    cross = sum(kernel(z[i], prior[j]) for i in range(n) for j in range(n))
    return within / (n * (n - 1)) - 2 * cross / n**2


@pytest.mark.parametrize(("n", "max_points"), [(10, 2000), (10, 6)])
def test_aggregate_posterior_mmd_matches_a_brute_force_over_the_same_draws(n, max_points):
    model = move_posterior(tiny_vae(seed=11))
    x = random_images(n, seed=12)
    torch.manual_seed(19)
    got = aggregate_posterior_mmd(model, x, zero_labels(n), max_points=max_points)
    kept = min(n, max_points)
    torch.manual_seed(19)
    with torch.no_grad():
        mu, log_var = model.encode(x[:kept])
        torch.randn_like(mu)  # the forward pass's own reparameterisation draw
        z = (mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)).double()
    prior = torch.randn(z.shape, generator=torch.Generator().manual_seed(0)).double()
    assert type(got) is float
    assert got == pytest.approx(brute_force_imq_mmd(z, prior), rel=1e-5, abs=1e-7)


def test_aggregate_posterior_mmd_of_the_wae_uses_its_deterministic_codes():
    model = tiny_vae(WAE_MMD, seed=13)
    x = random_images(8, seed=14)
    with torch.no_grad():
        z = model.embed(x).double()
    prior = torch.randn(z.shape, generator=torch.Generator().manual_seed(0)).double()
    got = aggregate_posterior_mmd(model, x, zero_labels(8))
    assert got == pytest.approx(brute_force_imq_mmd(z, prior), rel=1e-5, abs=1e-7)


def test_aggregate_posterior_mmd_grows_when_the_encoder_mean_is_shifted_far():
    x = random_images(64, seed=15)
    torch.manual_seed(20)
    near = aggregate_posterior_mmd(tiny_vae(seed=16), x, zero_labels(64))
    far_model = tiny_vae(seed=16)
    with torch.no_grad():
        far_model.posterior.fc_mu.bias.add_(6.0)
    torch.manual_seed(20)
    far = aggregate_posterior_mmd(far_model, x, zero_labels(64))
    assert math.isfinite(near) and math.isfinite(far)
    assert abs(near) < 0.2
    assert far > near + 1.0


# --- traversal codes -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_traversal_rows_sweep_one_dimension_each_and_keep_the_rest_at_the_start(dtype):
    start = torch.tensor([0.5, -1.0, 2.0, 0.25], dtype=dtype)
    before = start.clone()
    dims, steps, span = [2, 0, 3], 5, 2.5
    codes = traversal_codes(start, dims, steps=steps, span=span)
    assert codes.shape == (len(dims) * steps, 4) and codes.dtype == dtype
    sweep = [-span + 2 * span * i / (steps - 1) for i in range(steps)]
    for row, dim in enumerate(dims):
        block = codes[row * steps : (row + 1) * steps]
        assert block[:, dim].tolist() == pytest.approx(sweep, abs=1e-6)
        for other in range(4):
            if other != dim:
                assert (block[:, other] == start[other]).all(), (row, other)
    assert torch.equal(start, before)  # the start vector is not modified


def test_traversal_defaults_are_seven_steps_over_plus_minus_three():
    codes = traversal_codes(torch.zeros(3), [1])
    assert codes.shape == (7, 3)
    assert codes[:, 1].tolist() == pytest.approx([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0], abs=1e-6)
    assert (codes[:, [0, 2]] == 0).all()


@pytest.mark.parametrize("shape", [(1, 4), (), (2, 3, 4)])
def test_traversal_rejects_a_start_that_is_not_one_vector(shape):
    with pytest.raises(ValueError, match="one latent vector"):
        traversal_codes(torch.zeros(shape), [0])


# --- PCA and the latent cache -----------------------------------------------------------------


def test_pca_explained_variance_matches_the_covariance_eigenvalues():
    rng = np.random.default_rng(21)
    codes = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4)) + rng.normal(size=4)
    centred = codes - codes.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / (len(codes) - 1))
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]

    coords, ratios, pca = pca_projection(codes, dims=2)
    assert coords.shape == (200, 2)
    assert ratios == pytest.approx(eigenvalues[:2] / eigenvalues.sum(), rel=1e-8)
    assert ratios.sum() <= 1.0
    for d in range(2):  # each coordinate is the projection on one principal axis, up to sign
        projection = centred @ eigenvectors[:, d]
        assert np.allclose(np.abs(coords[:, d]), np.abs(projection), atol=1e-8)
    assert np.allclose(pca.transform(codes[:5]), coords[:5])

    coords_all, ratios_all, _ = pca_projection(codes, dims=10)  # capped at the code size
    assert coords_all.shape == (200, 4)
    assert ratios_all.sum() == pytest.approx(1.0, rel=1e-12)


def test_latent_cache_round_trips_arrays_and_tensors(tmp_path):
    rng = np.random.default_rng(22)
    codes = rng.normal(size=(5, 3)).astype(np.float32)
    arrays = {
        "codes": codes,
        "labels": np.arange(5, dtype=np.int64),
        "pca": rng.normal(size=(2, 5)).T,  # not contiguous, float64
        "factors": torch.arange(10, dtype=torch.int32).reshape(5, 2),
    }
    path = save_latent_cache(tmp_path, **arrays)
    assert path == tmp_path / LATENT_CACHE_NAME and path.exists()
    loaded = load_latent_cache(str(tmp_path))
    assert set(loaded) == set(arrays)
    for name, value in arrays.items():
        expected = np.asarray(value)
        assert isinstance(loaded[name], np.ndarray)
        assert loaded[name].dtype == expected.dtype, name
        assert np.array_equal(loaded[name], expected), name


def test_load_latent_cache_is_none_when_there_is_no_cache(tmp_path):
    assert load_latent_cache(tmp_path) is None


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_likelihood_metrics_run_for_models_whose_weights_are_not_float32(dtype):
    torch.manual_seed(0)
    model = VanillaVAE(in_channels=1, latent_dim=2, img_size=16, hidden_dims=[4]).eval().to(dtype)
    images = torch.rand(3, 1, 16, 16, dtype=dtype)
    metrics = likelihood_metrics(model, images, torch.zeros(3, dtype=torch.long), importance_samples=2)
    assert math.isfinite(metrics["iwae_nll_nats"])


@pytest.mark.slow
def test_the_judge_classifier_learns_the_digits_and_is_deterministic():
    from vae_models.classifier import train_classifier
    from vae_models.data import load_dataset

    def stacked(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = zip(*load_dataset("digits", split), strict=True)
        return torch.stack(images), torch.as_tensor(labels)

    train_images, train_labels = stacked("train")
    test_images, test_labels = stacked("test")
    judge = train_classifier(train_images, train_labels, 10, seed=3)
    assert (judge.predict(test_images) == test_labels).float().mean().item() > 0.95
    # The same judge whatever the caller's thread count, so every model of a dataset gets the same one.
    judges = []
    threads = torch.get_num_threads()
    for count in (2, 1):
        torch.set_num_threads(count)
        judges.append(train_classifier(train_images[:256], train_labels[:256], 10, epochs=1, seed=3))
    torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads
    for (name, a), (_, b) in zip(judges[0].state_dict().items(), judges[1].state_dict().items(), strict=True):
        assert torch.equal(a, b), name


# --- reconstruction overlap ------------------------------------------------------------------


def test_overlap_is_intersection_over_union_of_the_pixels_above_one_half():
    image = torch.zeros(4, 1, 4, 4)
    image[:, :, :2, :2] = 1.0  # a 2x2 block: 4 pixels
    reconstruction = torch.zeros(4, 1, 4, 4)
    reconstruction[0, :, :2, :2] = 0.9  # the same block
    reconstruction[1, :, :2, :] = 0.6  # the block and 4 more pixels: 4 / 8
    reconstruction[2, :, 2:, 2:] = 1.0  # disjoint
    reconstruction[3, :, :2, :2] = 0.5  # not above one half: nothing
    assert overlap(image, reconstruction).tolist() == [1.0, 0.5, 0.0, 0.0]
    empty = torch.zeros(1, 1, 4, 4)
    assert overlap(empty, empty).tolist() == [1.0], "nothing to draw, nothing drawn"


def test_a_blob_for_a_heart_overlaps_less_than_the_heart():
    from vae_models.data.dsprites import render_dsprites

    heart, ellipse = render_dsprites(np.array([[2, 5, 0, 16, 16], [1, 5, 0, 16, 16]]))
    blob = torch.nn.functional.avg_pool2d(heart[None], 9, stride=1, padding=4)[0]
    assert overlap(heart[None], heart[None]).item() == 1.0
    assert 0.6 < overlap(heart[None], blob[None]).item() < 0.95
    assert overlap(heart[None], ellipse[None]).item() < overlap(heart[None], blob[None]).item()


def test_is_binary():
    assert is_binary(torch.tensor([0.0, 1.0, 1.0])) and not is_binary(torch.tensor([0.0, 0.5]))


@pytest.mark.slow
def test_the_cached_t_sne_is_open_tsne_s_default_fit():
    # What `python -m train.evaluate` writes to the latent cache; the page's stepped version may differ.
    from openTSNE import TSNE

    from vae_models.latent import tsne_projection

    codes = np.random.default_rng(0).normal(size=(200, 4))
    expected = np.asarray(TSNE(perplexity=30.0, n_jobs=2, random_state=0, verbose=False).fit(codes))
    assert np.array_equal(tsne_projection(codes), expected)


def test_latents_in_use_by_their_kl_or_for_the_wae_by_code_variance():
    from vae_models.metrics import latents_in_use

    assert latents_in_use([0.5, 0.05, 0.1], [1.0, 0.02, 0.5]) == [True, False, True]
    assert latents_in_use(None, [0.5, 0.005]) == [True, False]
