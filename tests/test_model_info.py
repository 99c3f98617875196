"""ModelInfo: the per-model facts the app and the cards read, derived once from a checkpoint's files."""

from pathlib import Path

import numpy as np
import pytest

from vae_models.catalog import ModelInfo, read_info

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


def shipped(name: str) -> ModelInfo:
    return read_info(CHECKPOINTS / name, name)


def test_an_unevaluated_model_has_neutral_facts():
    info = ModelInfo("m", Path("m"), {"model_type": "vanilla_vae", "latent_dim": 4})
    assert info.latent_order == [0, 1, 2, 3] and info.inactive == [False] * 4
    assert info.active_latent_order == [0, 1, 2, 3]
    assert info.information_per_latent is None and info.dominant_factors is None
    assert info.class_names == [str(k) for k in range(10)] and not info.is_conditional
    assert info.colour_choices == ["label"] and info.latent_caption(2) == "z2"


def test_latents_are_ordered_by_kl_and_the_quiet_ones_are_inactive():
    metrics = {"kl_per_dim": [0.5, 3.0, 0.001, 1.0], "code_variance_per_dim": [0.4, 0.9, 0.005, 0.7]}
    info = ModelInfo("m", Path("m"), {"model_type": "vanilla_vae", "latent_dim": 4}, metrics)
    assert info.latent_order == [1, 3, 0, 2]
    assert info.inactive == [False, False, True, False]
    assert info.active_latent_order == [1, 3, 0]
    assert info.information_per_latent == ([0.5, 3.0, 0.001, 1.0], "KL (nats)")
    assert info.latent_caption(1) == "z1 · KL 3.00" and info.latent_caption(2) == "z2 · KL 0.00 · inactive"


def test_the_wae_is_ordered_by_code_variance_and_a_model_with_no_active_latent_keeps_its_first():
    metrics = {"code_variance_per_dim": [0.001, 0.002, 0.003]}
    info = ModelInfo("w", Path("w"), {"model_type": "wae_mmd", "latent_dim": 3}, metrics)
    assert info.information_per_latent == ([0.001, 0.002, 0.003], "code variance (the WAE has no KL)")
    assert info.latent_order == [2, 1, 0] and info.active_latent_order == [2]


@pytest.mark.parametrize("name", ["betatc_vae-dsprites", "vanilla_vae-dsprites"])
def test_shipped_dsprites_latents_are_labelled_with_the_factor_they_inform_most(name):
    info = shipped(name)
    metrics = info.metrics
    shares = np.array(metrics["mutual_information"]) / np.array(metrics["factor_entropy"])[None, :]
    assert info.colour_choices == ["label", *metrics["factor_names"]]
    assert info.latent_order == list(np.argsort(-np.array(metrics["kl_per_dim"]), kind="stable"))
    for dim in range(info.latent_dim):
        inactive = metrics["code_variance_per_dim"][dim] <= 0.01
        assert info.inactive[dim] == inactive
        ranked = np.argsort(-shares[dim], kind="stable")
        moved = [metrics["factor_names"][int(ranked[0])]]
        if shares[dim, ranked[1]] >= 0.5 * shares[dim, ranked[0]]:  # a latent that mixes two factors names both
            moved.append(metrics["factor_names"][int(ranked[1])])
        assert info.latent_caption(dim).endswith(" · inactive" if inactive else f" · moves {' & '.join(moved)}")


def test_only_the_conditional_checkpoints_are_conditional_and_their_classes_come_from_the_metrics():
    assert shipped("cvae-digits").is_conditional and shipped("cvae-dsprites").is_conditional
    assert not any(shipped(f"{kind}-digits").is_conditional for kind in ("vanilla_vae", "wae_mmd", "betatc_vae"))
    assert shipped("cvae-dsprites").class_names == ["square", "ellipse", "heart"]


def test_the_mutual_information_and_the_scoreboard_come_from_the_metrics():
    assert shipped("vanilla_vae-digits").mutual_information is None
    mi, entropy = shipped("betatc_vae-dsprites").mutual_information
    assert mi.shape == (10, 5) and entropy.shape == (5,)
    board = {"mig": {"mean": 0.4, "sd": 0.01, "per_seed": [0.4]}}
    info = ModelInfo("m", Path("m"), {"latent_dim": 2}, {"disentanglement": board})
    assert info.scoreboard == board and ModelInfo("n", Path("n"), {"latent_dim": 2}).scoreboard is None
