"""The losses against exact or brute-force computations."""

import functools
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from vae_models import WAE_MMD, BetaTCVAE, ConditionalVAE, VanillaVAE
from vae_models.betatc_vae import decompose_kl, log_importance_weights
from vae_models.distributions import (
    gaussian_kl,
    imq_kernel,
    log_normal,
    log_standard_normal,
    mmd_unbiased,
    rbf_kernel,
    reparameterize,
)


@pytest.fixture(autouse=True)
def _float64():
    """Exact comparisons need double precision; other test modules keep float32."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def tiny(cls, **overrides):
    return cls(**{"in_channels": 1, "latent_dim": 3, "img_size": 16, "hidden_dims": [4, 8], **overrides})


# --- KL -------------------------------------------------------------------------------


def test_kl_matches_a_monte_carlo_estimate():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=gen)
    log_var = torch.randn(4, 3, generator=gen)
    z = mu + torch.randn(200_000, 4, 3, generator=gen) * torch.exp(0.5 * log_var)
    monte_carlo = (log_normal(z, mu, log_var) - log_normal(z, torch.zeros(()), torch.zeros(()))).sum(2).mean(0)
    assert torch.allclose(gaussian_kl(mu, log_var), monte_carlo, rtol=0.02, atol=0.02)


def test_kl_is_never_negative_and_zero_only_at_the_prior():
    gen = torch.Generator().manual_seed(1)
    mu = torch.randn(10_000, 8, generator=gen) * torch.logspace(-8, 1, 8)
    log_var = torch.randn(10_000, 8, generator=gen) * torch.logspace(-8, 1, 8)
    assert (gaussian_kl(mu.float(), log_var.float()) >= 0).all()
    assert (gaussian_kl(mu, log_var) >= 0).all()
    assert gaussian_kl(torch.zeros(1, 5), torch.zeros(1, 5)).item() == 0.0


def test_vae_loss_is_the_negative_elbo_in_nats_per_image():
    # The reference returns the KL with the wrong sign and divides the reconstruction by the batch twice.
    model = tiny(VanillaVAE)
    x = torch.rand(5, 1, 16, 16)
    recons, _, mu, log_var = model(x)
    losses = model.loss_function(recons, x, mu, log_var, kld_weight=0.5)
    expected_recon = F.binary_cross_entropy_with_logits(recons, x, reduction="sum") / 5
    expected_kl = (0.5 * (mu**2 + log_var.exp() - 1 - log_var)).sum() / 5
    assert losses["reconstruction"].item() == pytest.approx(expected_recon.item(), rel=1e-9)
    assert losses["kl"].item() == pytest.approx(expected_kl.item(), rel=1e-9)
    assert losses["loss"].item() == pytest.approx((expected_recon + 0.5 * expected_kl).item(), rel=1e-9)


def test_gaussian_likelihood_is_the_sum_of_squared_errors():
    model = tiny(ConditionalVAE, likelihood="gaussian", num_classes=3)
    x = torch.rand(4, 1, 16, 16)
    recons, *_ = model(x, labels=[0, 1, 2, 0])
    expected = (torch.sigmoid(recons) - x).pow(2).sum() / 4
    assert model.reconstruction_loss(recons, x).item() == pytest.approx(expected.item(), rel=1e-9)


# --- WAE-MMD --------------------------------------------------------------------------


def brute_force_mmd(z, prior, kernel):
    n = len(z)
    within = sum(kernel(z[i], z[j]) + kernel(prior[i], prior[j]) for i in range(n) for j in range(n) if i != j)
    cross = sum(kernel(z[i], prior[j]) for i in range(n) for j in range(n))
    return within / (n * (n - 1)) - 2 * cross / n**2


def imq(c):
    scales = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
    return lambda a, b: sum(s * c / (s * c + float(((a - b) ** 2).sum())) for s in scales)


def rbf(c):
    return lambda a, b: math.exp(-float(((a - b) ** 2).sum()) / c)


@pytest.mark.parametrize(("kernel_type", "kernel"), [("imq", imq), ("rbf", rbf)])
@pytest.mark.parametrize("latent_var", [1.0, 2.5])
def test_mmd_matches_a_brute_force_double_loop(kernel_type, kernel, latent_var):
    model = tiny(WAE_MMD, latent_dim=4, kernel_type=kernel_type, latent_var=latent_var, reg_weight=7.0)
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(9, 4, generator=gen) * 1.5 + 0.3
    prior = torch.randn(9, 4, generator=gen)
    c = 2 * 4 * latent_var
    expected = 7.0 * brute_force_mmd(z, prior, kernel(c))
    assert model.compute_mmd(z, prior).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("kernel_type", ["imq", "rbf"])
def test_mmd_of_prior_draws_averages_to_zero(kernel_type):
    # The unbiased statistic; the biased one (diagonal kept) would sit clearly above zero.
    model = tiny(WAE_MMD, latent_dim=6, kernel_type=kernel_type, reg_weight=1.0)
    torch.manual_seed(3)
    draws = torch.stack([model.compute_mmd(torch.randn(16, 6)) for _ in range(2000)])
    standard_error = draws.std() / math.sqrt(len(draws))
    assert abs(draws.mean().item()) < 4 * standard_error.item()
    shifted = torch.stack([model.compute_mmd(torch.randn(16, 6) + 1.0) for _ in range(200)])
    assert shifted.mean().item() > 20 * standard_error.item()


def test_wae_loss_adds_the_weighted_mmd():
    model = tiny(WAE_MMD, reg_weight=3.0)
    x = torch.rand(6, 1, 16, 16)
    recons, _, z = model(x)
    torch.manual_seed(4)
    losses = model.loss_function(recons, x, z)
    torch.manual_seed(4)
    expected_mmd = model.compute_mmd(z)
    assert losses["mmd"].item() == pytest.approx(expected_mmd.item(), rel=1e-9)
    assert losses["loss"].item() == pytest.approx((losses["reconstruction"] + expected_mmd).item(), rel=1e-9)


# --- β-TCVAE estimators -----------------------------------------------------------------


def paper_mss_weight(i, j, batch_size, dataset_size):
    """Chen et al., appendix C.2: own posterior 1/N, one stratum element (N-M)/(NM), the rest 1/M."""
    m = batch_size - 1
    if j == i:
        return 1 / dataset_size
    if j == (i + 1) % batch_size:
        return (dataset_size - m) / (dataset_size * m)
    return 1 / m


def normal_density(z, mu, log_var):
    return math.exp(-0.5 * (math.log(2 * math.pi) + log_var + (z - mu) ** 2 / math.exp(log_var)))


def brute_force_decomposition(z, mu, log_var, weight):
    """MI, TC and dimension-wise KL with explicit loops and densities (no log-sum-exp)."""
    batch_size, dims = len(z), len(z[0])
    mi = tc = dw = 0.0
    for i in range(batch_size):
        q_cond = [normal_density(z[i][d], mu[i][d], log_var[i][d]) for d in range(dims)]
        q_joint = sum(
            weight(i, j) * math.prod(normal_density(z[i][d], mu[j][d], log_var[j][d]) for d in range(dims))
            for j in range(batch_size)
        )
        q_marginals = [
            sum(weight(i, j) * normal_density(z[i][d], mu[j][d], log_var[j][d]) for j in range(batch_size))
            for d in range(dims)
        ]
        p = math.prod(normal_density(z[i][d], 0.0, 0.0) for d in range(dims))
        mi += math.log(math.prod(q_cond)) - math.log(q_joint)
        tc += math.log(q_joint) - math.log(math.prod(q_marginals))
        dw += math.log(math.prod(q_marginals)) - math.log(p)
    return mi / batch_size, tc / batch_size, dw / batch_size


def random_posteriors(batch_size, dims, seed):
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch_size, dims, generator=gen)
    log_var = torch.randn(batch_size, dims, generator=gen) * 0.5 - 1
    z = mu + torch.randn(batch_size, dims, generator=gen) * torch.exp(0.5 * log_var)
    return z, mu, log_var


def test_mss_weights_put_one_over_n_on_the_diagonal_and_rows_sum_to_one():
    weights = log_importance_weights(6, 100, "mss").exp()
    for i, j in itertools.product(range(6), range(6)):
        assert weights[i, j].item() == pytest.approx(paper_mss_weight(i, j, 6, 100), rel=1e-12)
    assert torch.allclose(weights.sum(1), torch.ones(6))
    # The reference puts 1/N in column 0 rather than on each sample's own posterior.
    assert weights[3, 0].item() != pytest.approx(1 / 100)


@pytest.mark.parametrize(("batch_size", "dims", "dataset_size"), [(2, 1, 5), (4, 3, 50), (5, 2, 1000)])
def test_mss_decomposition_matches_the_exact_brute_force_value(batch_size, dims, dataset_size):
    z, mu, log_var = random_posteriors(batch_size, dims, seed=batch_size)
    log_weights = log_importance_weights(batch_size, dataset_size, "mss")
    got = decompose_kl(z, mu, log_var, log_weights)
    expected = brute_force_decomposition(
        z.tolist(), mu.tolist(), log_var.tolist(), lambda i, j: paper_mss_weight(i, j, batch_size, dataset_size)
    )
    for value, exact in zip(got, expected, strict=True):
        assert value.item() == pytest.approx(exact, rel=1e-9, abs=1e-9)


def test_mws_decomposition_matches_the_papers_formula():
    z, mu, log_var = random_posteriors(4, 3, seed=9)
    got = decompose_kl(z, mu, log_var, log_importance_weights(4, 60, "mws"))
    expected = brute_force_decomposition(z.tolist(), mu.tolist(), log_var.tolist(), lambda i, j: 1 / (60 * 4))
    for value, exact in zip(got, expected, strict=True):
        assert value.item() == pytest.approx(exact, rel=1e-9, abs=1e-9)


def test_identical_factorised_posteriors_have_no_mutual_information_or_total_correlation():
    # Adding the log-weights once per dimension before summing (the reference's bug) breaks this.
    mu = torch.tensor([0.3, -0.2, 0.5]).expand(5, 3)
    log_var = torch.tensor([-1.0, 0.0, -0.5]).expand(5, 3)
    z = mu + torch.randn(5, 3) * torch.exp(0.5 * log_var)
    mi, tc, dw_kl = decompose_kl(z, mu, log_var, log_importance_weights(5, 1000, "mss"))
    assert mi.item() == pytest.approx(0.0, abs=1e-12)
    assert tc.item() == pytest.approx(0.0, abs=1e-12)
    expected_dw = (log_normal(z, mu, log_var) - log_normal(z, torch.zeros(()), torch.zeros(()))).sum(1).mean()
    assert dw_kl.item() == pytest.approx(expected_dw.item(), rel=1e-12)


def test_the_three_terms_add_up_to_the_sampled_kl():
    z, mu, log_var = random_posteriors(8, 4, seed=11)
    mi, tc, dw_kl = decompose_kl(z, mu, log_var, log_importance_weights(8, 500, "mss"))
    sampled_kl = (log_normal(z, mu, log_var) - log_normal(z, torch.zeros(()), torch.zeros(()))).sum(1).mean()
    assert (mi + tc + dw_kl).item() == pytest.approx(sampled_kl.item(), rel=1e-12)


def test_betatc_loss_weights_each_term_and_needs_the_dataset_size():
    model = tiny(BetaTCVAE, alpha=2.0, beta=5.0, gamma=3.0)
    x = torch.rand(6, 1, 16, 16)
    outputs = model(x)
    with pytest.raises(ValueError, match="dataset_size"):
        model.loss_function(*outputs)
    losses = model.loss_function(*outputs, dataset_size=300)
    regulariser = (
        2.0 * losses["mutual_information"] + 5.0 * losses["total_correlation"] + 3.0 * losses["dimension_wise_kl"]
    )
    assert losses["loss"].item() == pytest.approx((losses["reconstruction"] + regulariser).item(), rel=1e-9)
    with pytest.raises(ValueError, match="batch size"):
        model.loss_function(*model(x[:1]), dataset_size=300)


def test_annealing_counter_is_per_instance_and_saved_with_the_weights():
    # The reference keeps the counter on the class, so every instance shares one.
    first = tiny(BetaTCVAE, anneal_steps=4)
    second = tiny(BetaTCVAE, anneal_steps=4)
    x = torch.rand(4, 1, 16, 16)
    for _ in range(3):
        first.loss_function(*first(x), dataset_size=100)
    assert first.anneal_step.item() == 3 and second.anneal_step.item() == 0
    assert first.anneal_factor() == pytest.approx(0.75) and second.anneal_factor() == 0.0
    assert first.state_dict()["anneal_step"].item() == 3
    first.eval()
    first.loss_function(*first(x), dataset_size=100)
    assert first.anneal_step.item() == 3, "evaluation must not advance the warm-up"


def test_annealing_scales_the_regulariser_during_warm_up():
    model = tiny(BetaTCVAE, anneal_steps=10)
    x = torch.rand(4, 1, 16, 16)
    outputs = model(x)
    losses = model.loss_function(*outputs, dataset_size=100)  # step 1 of 10
    regulariser = losses["mutual_information"] + 6.0 * losses["total_correlation"] + losses["dimension_wise_kl"]
    expected = losses["reconstruction"] + 0.1 * regulariser
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-9)


def test_total_correlation_weight_is_one_until_the_ramp_then_rises_linearly_to_beta():
    model = tiny(BetaTCVAE, beta=5.0, beta_ramp_start=2, beta_ramp_steps=4)
    x = torch.rand(4, 1, 16, 16)
    weights = []
    for _ in range(8):
        losses = model.loss_function(*model(x), dataset_size=100)
        weights.append(model.tc_weight())
        regulariser = (
            losses["mutual_information"] + weights[-1] * losses["total_correlation"] + losses["dimension_wise_kl"]
        )
        assert losses["loss"].item() == pytest.approx((losses["reconstruction"] + regulariser).item(), rel=1e-9)
    # Steps 1..8 (the counter advances before the loss): 1 until step 2, then +1 a step up to β.
    assert weights == pytest.approx([1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0])
    assert tiny(BetaTCVAE, beta=5.0).tc_weight() == 5.0, "no ramp: β from the first step"


def test_closed_form_kl_replaces_the_sampled_sum_of_the_three_terms():
    model = tiny(BetaTCVAE, alpha=2.0, beta=5.0, gamma=3.0, kl_estimate="closed_form")
    x = torch.rand(6, 1, 16, 16)
    recons, _, mu, log_var, z = model(x)
    losses = model.loss_function(recons, x, mu, log_var, z, dataset_size=300)
    closed_form = (0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var)).sum(1).mean()
    excess = 1.0 * losses["mutual_information"] + 4.0 * losses["total_correlation"] + 2.0 * losses["dimension_wise_kl"]
    expected = losses["reconstruction"] + closed_form + excess
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="kl_estimate"):
        tiny(BetaTCVAE, kl_estimate="exact")


# --- the shared distributions -------------------------------------------------------------


@pytest.mark.parametrize(("kernel_fn", "kernel"), [(imq_kernel, imq), (rbf_kernel, rbf)])
def test_the_shared_mmd_u_statistic_matches_a_brute_force_double_loop(kernel_fn, kernel):
    gen = torch.Generator().manual_seed(8)
    x, y = torch.randn(7, 3, generator=gen).double() + 0.5, torch.randn(7, 3, generator=gen).double()
    expected = brute_force_mmd(x, y, kernel(2.5))
    assert mmd_unbiased(x, y, functools.partial(kernel_fn, scale=2.5)).item() == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        mmd_unbiased(x[:1], y[:1], functools.partial(kernel_fn, scale=2.5))


def test_reparameterize_draws_from_the_posterior_and_the_prior_density_is_the_standard_normal():
    torch.manual_seed(10)
    mu, log_var = torch.full((200_000, 1), 1.5), torch.full((200_000, 1), math.log(0.25))
    draws = reparameterize(mu, log_var)
    assert draws.mean().item() == pytest.approx(1.5, abs=0.01) and draws.std().item() == pytest.approx(0.5, abs=0.01)
    z = torch.tensor([[-1.0, 0.0, 2.0]])
    expected = torch.tensor([[-0.5 * math.log(2 * math.pi) - 0.5 * v * v for v in (-1.0, 0.0, 2.0)]])
    assert torch.allclose(log_standard_normal(z), expected, atol=1e-7)
