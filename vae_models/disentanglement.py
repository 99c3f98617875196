"""Disentanglement metrics beyond MIG, each from its paper, with disentanglement_lib's recipe
where the paper leaves a choice open (SAP follows the paper instead: see below).

Every function takes codes (the posterior means) and the ground-truth factor classes,
or for the FactorVAE score a function that encodes factor classes, and returns plain
floats. The recipe's parameters are arguments, so a caller records exactly what ran.

- DCI (Eastwood & Williams 2018): one gradient-boosted tree classifier per factor on all
  latents; its feature importances form the importance matrix R [latents, factors].
  Disentanglement is 1 − H_K(P_j·) per latent, weighted by the latent's share of R;
  completeness is 1 − H_D(P_·k) per factor, weighted likewise; informativeness is the
  classifiers' accuracy.
- FactorVAE score (Kim & Mnih 2018): fix one factor in a batch, find the latent whose
  variance, divided by its variance over the data, is smallest, and score the
  majority-vote classifier from that latent to the fixed factor.
- SAP (Kumar et al. 2018): per latent and factor, how well the latent alone predicts the
  factor (R² for continuous factors, balanced accuracy of a linear classifier for
  categorical ones, as the paper says); the mean over factors of the gap between the two
  best latents. disentanglement_lib's default treats every factor as categorical and
  scores plain accuracy, which gives other numbers: the provenance says which was used.
- Modularity and explicitness (Ridgeway & Mozer 2018): modularity is 1 − δ, δ the sum of
  a latent's squared mutual informations beyond its largest, over (factors − 1) times that
  largest; explicitness is the ROC AUC of a logistic regression from all latents to
  each factor.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import sklearn
import torch
from joblib import Parallel, delayed
from scipy.stats import entropy
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.preprocessing import label_binarize
from sklearn.svm import LinearSVC

from . import __version__
from .base import BaseVAE
from .metric_registry import METRICS
from .metrics import encode_all, mig, mutual_information_matrix

EPSILON = 1e-11  # disentanglement_lib's guard against log 0 in the DCI entropies


# --- DCI -----------------------------------------------------------------------------------


def dci(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    seed: int = 0,
    trees: int = 100,
    n_jobs: int = 1,
) -> dict[str, float]:
    """Disentanglement, completeness and informativeness (train and test accuracy)."""
    return dci_of_draws([(codes_train, factors_train, codes_test, factors_test)], [seed], trees=trees, n_jobs=n_jobs)[0]


Draw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # codes and factors, training then test


def dci_of_draws(draws: Sequence[Draw], seeds: Sequence[int], *, trees: int, n_jobs: int) -> list[dict[str, float]]:
    """DCI for each draw (one per seed). Every (draw, factor) classifier is independent, so `n_jobs`
    processes fit them all side by side, those with the most classes first so that the last
    fits finish together: they are most of the scoreboard's time."""
    tasks = [(i, k) for i, draw in enumerate(draws) for k in range(draw[1].shape[1])]
    tasks.sort(key=lambda task: -len(np.unique(draws[task[0]][1][:, task[1]])))
    fits = Parallel(n_jobs=n_jobs)(
        delayed(_fit_trees)(codes, factors[:, k], test_codes, test_factors[:, k], seeds[i], trees)
        for i, k in tasks
        for codes, factors, test_codes, test_factors in [draws[i]]
    )
    fit_of = dict(zip(tasks, fits, strict=True))
    return [_dci_from_fits([fit_of[i, k] for k in range(draw[1].shape[1])]) for i, draw in enumerate(draws)]


def _dci_from_fits(fits: list[tuple[np.ndarray, float, float]]) -> dict[str, float]:
    importance = np.column_stack([fit[0] for fit in fits])
    return {
        "dci_disentanglement": dci_disentanglement(importance),
        "dci_completeness": dci_completeness(importance),
        "dci_informativeness_train": float(np.mean([fit[1] for fit in fits])),
        "dci_informativeness_test": float(np.mean([fit[2] for fit in fits])),
    }


def _fit_trees(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int, count: int
) -> tuple[np.ndarray, float, float]:
    """One factor's gradient-boosted trees: the latents' importances, train and test accuracy."""
    trees = GradientBoostingClassifier(n_estimators=count, random_state=seed).fit(x_train, y_train)
    accuracy_train = float(np.mean(trees.predict(x_train) == y_train))
    return np.abs(trees.feature_importances_), accuracy_train, float(np.mean(trees.predict(x_test) == y_test))


def dci_disentanglement(importance: np.ndarray) -> float:
    """Σ_j ρ_j (1 − H_K(P_j·)): each latent's concentration on one factor, weighted by its importance."""
    per_latent = 1.0 - entropy(importance.T + EPSILON, base=importance.shape[1])
    return float(np.sum(per_latent * _shares(importance, axis=1)))


def dci_completeness(importance: np.ndarray) -> float:
    """Σ_k ρ_k (1 − H_D(P_·k)): each factor's concentration on one latent, weighted by its importance."""
    per_factor = 1.0 - entropy(importance + EPSILON, base=importance.shape[0])
    return float(np.sum(per_factor * _shares(importance, axis=0)))


def _shares(importance: np.ndarray, axis: int) -> np.ndarray:
    """Row (axis=1) or column (axis=0) sums as shares of the total; equal shares for an all-zero matrix."""
    matrix = importance if importance.sum() > 0 else np.ones_like(importance)
    return matrix.sum(axis=axis) / matrix.sum()


# --- FactorVAE score ---------------------------------------------------------------------------


def factor_vae_score(
    encode_factors: Callable[[np.ndarray], np.ndarray],
    factor_sizes: Sequence[int],
    rng: np.random.Generator,
    *,
    batch_size: int = 64,
    num_train: int = 700,
    num_eval: int = 350,
    num_variance_estimate: int = 1000,
    prune_threshold: float = 0.0,
) -> dict[str, float]:
    """The majority-vote classifier's train and eval accuracy, and how many latents it could vote for.

    `encode_factors` maps factor classes [N, K] to codes [N, D]. Latents whose variance over
    the data is at most `prune_threshold` are pruned before the argmin (collapsed latents,
    as the paper prunes them). With 0, only latents that never move are left out: their
    variance ratio is 0/0 (disentanglement_lib's default keeps them and lets the ratio be NaN).
    """
    variances = encode_factors(_random_factors(factor_sizes, num_variance_estimate, rng)).var(0, ddof=1)
    active = np.flatnonzero(variances > prune_threshold)
    if len(active) == 0:
        return {"factor_vae_train": 0.0, "factor_vae_eval": 0.0, "factor_vae_active_latents": 0}
    args = (encode_factors, factor_sizes, rng, batch_size, variances, active)
    train_votes = _votes(*args, num_train)
    classifier = train_votes.argmax(0)  # the factor each latent votes for most often
    eval_votes = _votes(*args, num_eval)
    return {
        "factor_vae_train": _majority_accuracy(train_votes, classifier),
        "factor_vae_eval": _majority_accuracy(eval_votes, classifier),
        "factor_vae_active_latents": len(active),
    }


def _random_factors(factor_sizes: Sequence[int], count: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, factor_sizes, size=(count, len(factor_sizes)))


def _votes(
    encode_factors: Callable[[np.ndarray], np.ndarray],
    factor_sizes: Sequence[int],
    rng: np.random.Generator,
    batch_size: int,
    variances: np.ndarray,
    active: np.ndarray,
    points: int,
) -> np.ndarray:
    """votes[k, j]: how often latent j varied least (relative to the data) in a batch with factor k fixed."""
    votes = np.zeros((len(factor_sizes), len(variances)), dtype=np.int64)
    for _ in range(points):
        k = rng.integers(len(factor_sizes))
        factors = _random_factors(factor_sizes, batch_size, rng)
        factors[:, k] = factors[0, k]
        local = encode_factors(factors).var(0, ddof=1)
        votes[k, active[np.argmin(local[active] / variances[active])]] += 1
    return votes


def _majority_accuracy(votes: np.ndarray, classifier: np.ndarray) -> float:
    return float(votes[classifier, np.arange(votes.shape[1])].sum() / votes.sum())


# --- SAP -------------------------------------------------------------------------------------


def sap(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    continuous: Sequence[bool],
    svm_c: float = 0.01,
) -> dict[str, Any]:
    """The SAP score and its score matrix [latents, factors]."""
    scores = np.zeros((codes_train.shape[1], factors_train.shape[1]))
    for j in range(codes_train.shape[1]):
        for k in range(factors_train.shape[1]):
            column = (codes_train[:, [j]], factors_train[:, k], codes_test[:, [j]], factors_test[:, k])
            scores[j, k] = _r_squared(*column) if continuous[k] else _balanced_accuracy(*column, svm_c)
    top_two = np.sort(scores, axis=0)[::-1][:2]
    return {"sap": float(np.mean(top_two[0] - top_two[1])), "sap_scores": scores.tolist()}


def _r_squared(x_train: np.ndarray, y_train: np.ndarray, *_held_out: np.ndarray) -> float:
    """R² of the linear regression of the factor on one latent, over the training points (the squared
    correlation; 0 for a constant latent, whose regression explains nothing). As in the paper, the
    fit is scored on the points it saw."""
    x = x_train[:, 0]
    if np.var(x) < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y_train)[0, 1] ** 2)


def _balanced_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, c: float
) -> float:
    classifier = LinearSVC(C=c, class_weight="balanced").fit(x_train, y_train)
    return float(balanced_accuracy_score(y_test, classifier.predict(x_test)))


# --- modularity and explicitness -------------------------------------------------------------------


def modularity_explicitness(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    bins: int = 20,
) -> dict[str, float]:
    """Modularity (from the binned latent × factor mutual information) and explicitness (test ROC AUC)."""
    mean, std = codes_train.mean(0), codes_train.std(0) + 1e-12
    train, test = (codes_train - mean) / std, (codes_test - mean) / std
    auc = [_explicitness(train, factors_train[:, k], test, factors_test[:, k]) for k in range(factors_train.shape[1])]
    return {
        "modularity": modularity(mutual_information_matrix(codes_train, factors_train, bins)),
        "explicitness": float(np.mean(auc)),
    }


def modularity(mutual_information: np.ndarray) -> float:
    """Mean over latents of 1 − δ_j; a latent that informs no factor scores 0."""
    squared = np.square(mutual_information)
    largest = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (squared.sum(axis=1) - largest) / (largest * (squared.shape[1] - 1))
    return float(np.mean(np.where(largest > 0, 1.0 - delta, 0.0)))


def _explicitness(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Macro ROC AUC, one class against the rest, of a logistic regression from every latent."""
    classes = np.unique(y_train)
    probabilities = LogisticRegression(max_iter=1000).fit(x_train, y_train).predict_proba(x_test)
    truth = label_binarize(y_test, classes=classes)
    if len(classes) == 2:
        return float(roc_auc_score(y_test == classes[1], probabilities[:, 1]))
    present = truth.any(0)  # a class absent from the test points has no AUC
    return float(roc_auc_score(truth[:, present], probabilities[:, present], average="macro"))


# --- the scoreboard: every metric, over several seeds, with its provenance ---------------------------

FactorEncoder = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Recipe:
    """The sample sizes and settings of one evaluation; recorded beside every figure it produced.

    The full recipe is disentanglement_lib's for DCI, SAP and modularity (10,000 training and
    5,000 test points) and disent's sizes for the FactorVAE score.
    """

    name: str = "full"
    note: str = "disentanglement_lib's sample sizes for DCI, SAP and modularity; disent's for the FactorVAE score"
    seeds: tuple[int, ...] = (0, 1, 2)
    train_points: int = 10_000  # DCI, SAP, modularity, explicitness and MIG
    test_points: int = 5_000
    dci_trees: int = 100  # boosting stages: scikit-learn's default, which disentanglement_lib keeps
    factor_vae_batch: int = 64
    factor_vae_train: int = 700
    factor_vae_eval: int = 350
    factor_vae_variance: int = 1_000
    # Every latent that moves takes part, as in disentanglement_lib's and disent's defaults (and the
    # outside run the figures are checked against). Kim & Mnih prune collapsed latents: set this
    # to metrics.ACTIVE_UNIT_THRESHOLD to follow them; RESULTS.md gives both figures.
    factor_vae_prune_threshold: float = 0.0
    bins: int = 20
    sap_svm_c: float = 0.01
    processes: int = 2  # DCI's classifiers fit side by side; the figures do not depend on it


FULL_RECIPE = Recipe()
FAST_RECIPE = Recipe(
    name="fast",
    note="small samples and 20 boosting stages, for CI: not comparable with the full recipe",
    train_points=600,
    test_points=300,
    dci_trees=20,
    processes=1,  # on samples this small, starting worker processes costs more than it saves
    factor_vae_train=60,
    factor_vae_eval=30,
    factor_vae_variance=400,
)
# The figure each metric is reported by, in the order a scoreboard shows them.
HEADLINE_METRICS = (
    "dci_disentanglement",
    "dci_completeness",
    "dci_informativeness_test",
    "factor_vae_eval",
    "sap",
    "modularity",
    "explicitness",
    "mig",
)
# Also kept from each seed, for the record: the training-side figures and the latents FactorVAE kept.
RECORDED_METRICS = (*HEADLINE_METRICS, "dci_informativeness_train", "factor_vae_train", "factor_vae_active_latents")


def factor_encoder(model: BaseVAE, render: Callable[[np.ndarray], torch.Tensor], label_factor: int) -> FactorEncoder:
    """Factor classes [N, K] -> the model's posterior means [N, D] of the rendered images; a
    conditional model is given the label factor (the dSprites shape) as its label."""

    def encode(factors: np.ndarray) -> np.ndarray:
        labels = torch.as_tensor(factors[:, label_factor])
        return encode_all(model, render(factors), labels).numpy()

    return encode


def scoreboard(
    encode_factors: FactorEncoder,
    factor_sizes: Sequence[int],
    continuous: Sequence[bool],
    recipe: Recipe = FULL_RECIPE,
) -> dict[str, Any]:
    """Every recorded metric's mean, sample sd and per-seed values over the recipe's seeds."""
    rngs = [np.random.default_rng(seed) for seed in recipe.seeds]
    draws = [_draw(encode_factors, factor_sizes, recipe, rng) for rng in rngs]
    dcis = dci_of_draws(draws, recipe.seeds, trees=recipe.dci_trees, n_jobs=recipe.processes)
    runs = [
        dci_result | _other_metrics(encode_factors, factor_sizes, continuous, recipe, rng, draw)
        for dci_result, rng, draw in zip(dcis, rngs, draws, strict=True)
    ]
    summary = {}
    for key in RECORDED_METRICS:
        values = [run[key] for run in runs]
        sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        summary[key] = {"mean": float(np.mean(values)), "sd": sd, "per_seed": values}
    return summary


def _draw(encode_factors: FactorEncoder, factor_sizes: Sequence[int], recipe: Recipe, rng: np.random.Generator) -> Draw:
    factors_train = _random_factors(factor_sizes, recipe.train_points, rng)
    factors_test = _random_factors(factor_sizes, recipe.test_points, rng)
    return encode_factors(factors_train), factors_train, encode_factors(factors_test), factors_test


def _other_metrics(
    encode_factors: FactorEncoder,
    factor_sizes: Sequence[int],
    continuous: Sequence[bool],
    recipe: Recipe,
    rng: np.random.Generator,
    data: Draw,
) -> dict[str, float]:
    """Every metric but DCI for one seed's draw; the FactorVAE score draws its batches from `rng`."""
    result = sap(*data, continuous=continuous, svm_c=recipe.sap_svm_c)
    result |= modularity_explicitness(*data, bins=recipe.bins)
    result["mig"] = mig(data[0], data[1], recipe.bins)["mig"]
    result |= factor_vae_score(
        encode_factors,
        factor_sizes,
        rng,
        batch_size=recipe.factor_vae_batch,
        num_train=recipe.factor_vae_train,
        num_eval=recipe.factor_vae_eval,
        num_variance_estimate=recipe.factor_vae_variance,
        prune_threshold=recipe.factor_vae_prune_threshold,
    )
    return result


def provenance(recipe: Recipe, factor_names: Sequence[str], continuous: Sequence[bool]) -> dict[str, Any]:
    """How the scoreboard's figures were computed: enough to reproduce them, or to see why another
    implementation differs."""
    return {
        "recipe": asdict(recipe),
        "representation": "posterior mean (the model's embed; z for the WAE); the conditional VAE is given "
        "each image's true label",
        "points": "factor classes drawn uniformly and independently, images rendered from them; one draw of "
        f"{recipe.train_points:,} training and {recipe.test_points:,} test points per seed for DCI, SAP, "
        "modularity, explicitness and MIG",
        "discretisation": f"{recipe.bins} equal-width bins per latent over its own range (MIG, modularity)",
        "factor_kinds": {
            name: "continuous" if c else "categorical" for name, c in zip(factor_names, continuous, strict=True)
        },
        "classifiers": {
            "dci": f"scikit-learn GradientBoostingClassifier, {recipe.dci_trees} boosting stages of depth-3 trees, "
            "learning rate 0.1, random_state = seed; informativeness is its test accuracy",
            "factor_vae": f"majority vote on the argmin of variance / variance over {recipe.factor_vae_variance:,} "
            f"points, batches of {recipe.factor_vae_batch}, {recipe.factor_vae_train} training and "
            f"{recipe.factor_vae_eval} evaluation votes; latents whose variance over the data is ≤ "
            f"{recipe.factor_vae_prune_threshold} are left out (0: every latent that moves votes, as in "
            "disentanglement_lib's and disent's defaults; Kim & Mnih prune collapsed latents); "
            "factor_vae_active_latents counts those kept",
            "sap": "as Kumar et al.: the squared correlation of one latent with the factor over the training "
            "points (continuous factors); balanced test accuracy of LinearSVC(C="
            f"{recipe.sap_svm_c}, class_weight='balanced') on one latent (categorical factors). "
            "disentanglement_lib's default instead treats every factor as categorical",
            "explicitness": "LogisticRegression(max_iter=1000) on standardised latents; macro one-vs-rest test ROC AUC",
        },
        "versions": {
            "torch": torch.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "vae_models": __version__,
            "python": platform.python_version(),
        },
    }


# --- the scoreboard as a reader sees it -----------------------------------------------------------


def scoreboard_rows(boards: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """One row per model ("mean ± sd" per metric), for models whose metrics hold a scoreboard."""
    return [
        [name, *(f"{board[key]['mean']:.2f} ± {board[key]['sd']:.2f}" for key in HEADLINE_METRICS)]
        for name, board in boards.items()
    ]


def disagreements(boards: dict[str, dict[str, Any]]) -> str:
    """A sentence on where the metrics rank the models differently, and why that can happen.

    A metric names a winner only when its best model beats the runner-up by more than their
    combined sd over seeds; otherwise it is too close to call.
    """
    if len(boards) < 2:
        return "Fewer than two models on this dataset have a scoreboard, so there is nothing to rank."
    best = {key: _clear_winner(boards, key) for key in HEADLINE_METRICS}
    winners = list(dict.fromkeys(name for name in best.values() if name))
    close = [METRICS[key].title for key, name in best.items() if name is None]
    tail = f" Too close to call, within the seeds' spread: {', '.join(close)}." if close else ""
    if len(winners) < 2:
        lead = f"Every metric with a clear winner ranks {winners[0]} first." if winners else "No metric is decisive."
        return lead + tail
    parts = [
        f"{', '.join(METRICS[k].title for k in HEADLINE_METRICS if best[k] == name)} rank {name} first"
        for name in winners
    ]
    first, second = (next(k for k in HEADLINE_METRICS if best[k] == name) for name in winners[:2])
    return (
        f"The metrics disagree: {'; '.join(parts)}. They measure different things: {METRICS[first].title} "
        f"rewards that {METRICS[first].rewards}, while {METRICS[second].title} rewards that "
        f"{METRICS[second].rewards}.{tail}"
    )


def _clear_winner(boards: dict[str, dict[str, Any]], key: str) -> str | None:
    """The model best on `key` by more than the combined sd of it and the runner-up, else None."""
    ranked = sorted(boards, key=lambda name: boards[name][key]["mean"], reverse=True)
    top, runner_up = boards[ranked[0]][key], boards[ranked[1]][key]
    margin = float(np.hypot(top["sd"], runner_up["sd"]))
    return ranked[0] if top["mean"] - runner_up["mean"] > margin else None
