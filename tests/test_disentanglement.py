"""The disentanglement metrics on codes whose answer is known.

Codes that are the factors themselves (scaled, plus tiny noise) must score near the top of every
metric; a random rotation of them must lose disentanglement but keep its information; pure noise
must sit at each metric's chance level; and no metric may care about the order or the signs of
the latents. Each check has a tolerance it can fail by.
"""

import numpy as np
import pytest

from vae_models import disentanglement as dis
from vae_models.metrics import mig

FACTOR_SIZES = np.array((3, 5, 8, 6, 6))
CONTINUOUS = (False, True, True, True, True)  # like dSprites: a category, then ordered quantities
TRAIN, TEST = 1000, 500
SMALL_FACTOR_VAE = {"num_train": 150, "num_eval": 100, "num_variance_estimate": 400}


def identity_codes(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return factors / FACTOR_SIZES + rng.normal(size=factors.shape) * 1e-3


ROTATION = np.linalg.qr(np.random.default_rng(42).normal(size=(5, 5)))[0]


def rotated_codes(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return identity_codes(factors, rng) @ ROTATION


def noise_codes(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=factors.shape)


def permuted_flipped(codes_of):
    """The same codes with the latents reordered and two of them negated."""
    order, signs = np.array([3, 0, 4, 1, 2]), np.array([1, -1, 1, 1, -1])
    return lambda factors, rng: codes_of(factors, rng)[:, order] * signs


def all_metrics(codes_of) -> dict[str, float]:
    """Every metric on one fixed draw of factors, so two code functions are compared on the same points."""
    rng = np.random.default_rng(0)
    factors_train = rng.integers(0, FACTOR_SIZES, size=(TRAIN, 5))
    factors_test = rng.integers(0, FACTOR_SIZES, size=(TEST, 5))
    noise = np.random.default_rng(1)
    data = (codes_of(factors_train, noise), factors_train, codes_of(factors_test, noise), factors_test)
    result = dis.dci(*data)
    result |= dis.sap(*data, continuous=CONTINUOUS)
    result |= dis.modularity_explicitness(*data)
    result["mig"] = mig(data[0], factors_train)["mig"]
    encoder_noise = np.random.default_rng(2)
    result |= dis.factor_vae_score(
        lambda factors: codes_of(factors, encoder_noise), FACTOR_SIZES, np.random.default_rng(3), **SMALL_FACTOR_VAE
    )
    return result


@pytest.fixture(scope="module")
def identity():
    return all_metrics(identity_codes)


@pytest.fixture(scope="module")
def rotated():
    return all_metrics(rotated_codes)


@pytest.fixture(scope="module")
def noise():
    return all_metrics(noise_codes)


@pytest.mark.slow
def test_the_factors_themselves_score_near_the_top_of_every_metric(identity):
    for key in (
        "dci_disentanglement",
        "dci_completeness",
        "dci_informativeness_test",
        "factor_vae_eval",
        "modularity",
        "explicitness",
        "mig",
    ):
        assert identity[key] > 0.95, key
    # SAP's ceiling is below 1 for a categorical factor: the runner-up latent still scores the chance
    # balanced accuracy, 1/3 for three classes, so the best mean gap is (4 + 2/3) / 5.
    assert (4 + 2 / 3) / 5 - 0.1 < identity["sap"] <= (4 + 2 / 3) / 5 + 0.01


@pytest.mark.slow
def test_a_rotation_loses_disentanglement_but_keeps_the_information(identity, rotated):
    for key in ("dci_disentanglement", "dci_completeness", "sap", "mig"):
        assert rotated[key] < 0.4, key
    assert rotated["factor_vae_eval"] < identity["factor_vae_eval"] - 0.15
    assert rotated["modularity"] < identity["modularity"] - 0.15
    # A linear read-out is indifferent to a rotation; axis-aligned trees need more points for it.
    assert rotated["explicitness"] == pytest.approx(identity["explicitness"], abs=0.01)
    assert rotated["dci_informativeness_test"] > 0.75


@pytest.mark.slow
def test_pure_noise_sits_at_each_metrics_chance_level(noise):
    for key in ("dci_disentanglement", "dci_completeness", "sap", "mig"):
        assert noise[key] < 0.05, key
    chance_accuracy = np.mean(1 / FACTOR_SIZES)
    assert noise["dci_informativeness_test"] < chance_accuracy + 0.05
    assert noise["factor_vae_eval"] < 1 / len(FACTOR_SIZES) + 0.15  # the vote's chance is one factor in five
    assert noise["explicitness"] == pytest.approx(0.5, abs=0.05)  # a chance ROC AUC


@pytest.mark.slow
@pytest.mark.parametrize("codes_of", [identity_codes, rotated_codes], ids=["factors", "rotated"])
def test_no_metric_depends_on_the_order_or_the_signs_of_the_latents(codes_of, identity, rotated):
    reference = identity if codes_of is identity_codes else rotated
    shuffled = all_metrics(permuted_flipped(codes_of))
    for key in dis.HEADLINE_METRICS:
        # Exact for all but the fitted classifiers, whose solvers see the columns in another order.
        assert shuffled[key] == pytest.approx(reference[key], abs=0.02), key


def test_the_dci_entropies_against_hand_computed_matrices():
    one_to_one = np.diag([0.5, 0.3, 0.2])
    assert dis.dci_disentanglement(one_to_one) == pytest.approx(1.0, abs=1e-6)
    assert dis.dci_completeness(one_to_one) == pytest.approx(1.0, abs=1e-6)
    # One latent informs both factors equally: its disentanglement is 1 - H_2(½, ½) = 0, and it holds
    # all the importance; each factor sits on that one latent of two, so completeness is 1.
    shared = np.array([[0.5, 0.5], [0.0, 0.0]])
    assert dis.dci_disentanglement(shared) == pytest.approx(0.0, abs=1e-6)
    assert dis.dci_completeness(shared) == pytest.approx(1.0, abs=1e-6)
    assert dis.dci_disentanglement(np.zeros((2, 2))) == pytest.approx(0.0, abs=1e-6)


def test_modularity_against_a_hand_computed_matrix():
    # Latent 0 informs one factor (δ = 0); latent 1 informs two equally (δ = 1 with two factors);
    # latent 2 informs none and scores 0.
    mutual_information = np.array([[0.8, 0.0], [0.4, 0.4], [0.0, 0.0]])
    assert dis.modularity(mutual_information) == pytest.approx((1 + 0 + 0) / 3)


def test_the_factor_vae_score_prunes_collapsed_latents_and_votes_for_the_quiet_one():
    rng = np.random.default_rng(5)

    def codes_of(factors, collapsed_noise):  # latents 0 and 1 are the factors; latent 2 has collapsed
        codes = np.column_stack([factors[:, 0], factors[:, 1], np.zeros(len(factors))])
        return codes + rng.normal(size=codes.shape) * np.array([1e-3, 1e-3, collapsed_noise])

    def score(collapsed_noise, threshold):
        return dis.factor_vae_score(
            lambda factors: codes_of(factors, collapsed_noise),
            (4, 4),
            np.random.default_rng(6),
            num_train=60,
            num_eval=40,
            prune_threshold=threshold,
        )

    # A latent that never moves has no variance ratio (0/0): it is always left out.
    assert score(0.0, 0.0)["factor_vae_active_latents"] == 2
    nearly_collapsed = score(1e-6, 0.0)
    assert nearly_collapsed["factor_vae_active_latents"] == 3
    assert score(1e-6, 1e-4)["factor_vae_active_latents"] == 2
    # Each vote goes to the latent of the fixed factor, whose variance ratio is near 0.
    assert nearly_collapsed["factor_vae_eval"] == 1.0 and nearly_collapsed["factor_vae_train"] == 1.0


@pytest.mark.slow
def test_the_scoreboard_reports_mean_and_sample_sd_over_seeds_with_its_provenance():
    def encode(factors):
        return factors / FACTOR_SIZES

    recipe = dis.Recipe(
        name="tiny",
        seeds=(0, 1),
        train_points=300,
        test_points=150,
        factor_vae_train=20,
        factor_vae_eval=10,
        factor_vae_variance=100,
        factor_vae_batch=16,
    )
    board = dis.scoreboard(encode, FACTOR_SIZES, CONTINUOUS, recipe)
    assert list(board) == list(dis.RECORDED_METRICS)
    for entry in board.values():
        assert len(entry["per_seed"]) == 2
        assert entry["mean"] == pytest.approx(np.mean(entry["per_seed"]))
        assert entry["sd"] == pytest.approx(np.std(entry["per_seed"], ddof=1))
    record = dis.provenance(recipe, ["shape", "a", "b", "c", "d"], CONTINUOUS)
    assert record["recipe"]["train_points"] == 300 and record["recipe"]["seeds"] == (0, 1)
    assert record["factor_kinds"]["shape"] == "categorical" and record["factor_kinds"]["a"] == "continuous"
    assert {"torch", "scikit-learn", "vae_models"} <= set(record["versions"])


def board(**means):
    return {key: {"mean": means.get(key, 0.5), "sd": 0.01, "per_seed": [0.5]} for key in dis.HEADLINE_METRICS}


def test_the_scoreboard_rows_and_the_sentence_on_where_the_metrics_disagree():
    boards = {"vae": board(mig=0.2, factor_vae_eval=0.9), "tcvae": board(mig=0.5, factor_vae_eval=0.8, sap=0.6)}
    rows = dis.scoreboard_rows(boards)
    assert [row[0] for row in rows] == ["vae", "tcvae"] and len(rows[0]) == 1 + len(dis.HEADLINE_METRICS)
    assert rows[0][1 + dis.HEADLINE_METRICS.index("mig")] == "0.20 ± 0.01"
    sentence = dis.disagreements(boards)
    assert "disagree" in sentence and "MIG" in sentence and "FactorVAE score" in sentence
    assert "rank tcvae first" in sentence and "rank vae first" in sentence
    clear = dis.disagreements({"vae": board(mig=0.9), "tcvae": board(mig=0.1)})
    assert clear.startswith("Every metric with a clear winner ranks vae first.")
    assert "Too close to call" in clear and "DCI completeness" in clear and "MIG" not in clear
    assert "nothing to rank" in dis.disagreements({"vae": board()}) and "nothing to rank" in dis.disagreements({})
    # A gap within the seeds' spread names no winner.
    close = {"vae": board(mig=0.505), "tcvae": board(mig=0.5)}
    assert dis.disagreements(close).startswith("No metric is decisive.")


@pytest.mark.slow
def test_dci_of_several_draws_fitted_side_by_side_equals_each_draw_alone():
    """The scoreboard fits every seed's classifiers in one pool, largest first: each draw's figures
    must still be its own."""
    rng = np.random.default_rng(5)
    draws = []
    for codes_of in (identity_codes, rotated_codes):
        factors_train = rng.integers(0, FACTOR_SIZES, size=(300, 5))
        factors_test = rng.integers(0, FACTOR_SIZES, size=(150, 5))
        draws.append((codes_of(factors_train, rng), factors_train, codes_of(factors_test, rng), factors_test))
    pooled = dis.dci_of_draws(draws, [7, 8], trees=10, n_jobs=2)
    alone = [dis.dci(*draw, seed=seed, trees=10) for draw, seed in zip(draws, [7, 8], strict=True)]
    assert pooled == alone
    assert pooled[0]["dci_disentanglement"] > pooled[1]["dci_disentanglement"] + 0.2
