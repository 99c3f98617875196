"""Handwriting augmentation (vae_models.data.augment) and the trainer's use of it: training batches
only, drawn from (seed, step) so that a stopped run resumes exactly."""

import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from test_train import saved_step, tiny_args, weights

from train import trainer
from train.__main__ import main
from train.config import DataSection, load_config
from vae_models.data import load_dataset
from vae_models.data.augment import HANDWRITING, Augmentation, augment, step_seed, stroke_width

STROKE_ONLY = Augmentation(degrees=0, shear=0, scale=0, translate=0, elastic=0, stroke=1.0)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset("digits", "train", download=False).batch(list(range(64)))[0]


def ink(images: torch.Tensor) -> torch.Tensor:
    """Each image's ink coverage: the share of its pixels above one half."""
    return (images > 0.5).float().mean((1, 2, 3))


def test_augment_keeps_shape_dtype_and_range_and_changes_every_image(digits):
    changed = augment(digits, torch.Generator().manual_seed(0))
    assert changed.shape == digits.shape and changed.dtype == digits.dtype
    assert changed.min() >= 0 and changed.max() <= 1
    assert ((changed - digits).abs().amax((1, 2, 3)) > 0.1).all()
    assert changed.mean() == pytest.approx(digits.mean(), rel=0.15), "small changes keep the ink"


def test_zero_strength_is_the_identity(digits):
    assert torch.allclose(augment(digits, torch.Generator().manual_seed(0), strength=0.0), digits, atol=1e-6)


def test_dilation_thickens_strokes_and_erosion_thins_them(digits):
    ones = torch.ones(len(digits))
    assert (ink(stroke_width(digits, ones)) > ink(digits)).all()
    assert (ink(stroke_width(digits, -ones)) < ink(digits)).all()
    assert ink(stroke_width(digits, ones, radius=2)).mean() > ink(stroke_width(digits, ones)).mean()
    # augment draws both ways: some images of a batch thicker, some thinner, none moved
    widths = ink(augment(digits, torch.Generator().manual_seed(0), spec=STROKE_ONLY)) - ink(digits)
    assert (widths > 0).sum() > 10 and (widths < 0).sum() > 10


def test_affine_alone_keeps_stroke_width_roughly(digits):
    """The geometric changes move ink, they do not make it: coverage stays within a quarter."""
    moved = augment(digits, torch.Generator().manual_seed(0), spec=replace(HANDWRITING, stroke=0))
    assert ink(moved).mean() == pytest.approx(ink(digits).mean(), rel=0.25)


def test_the_same_seed_draws_the_same_batch_and_another_seed_another(digits):
    first, again = (augment(digits, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(first, again)
    assert not torch.allclose(first, augment(digits, torch.Generator().manual_seed(4)))
    state = torch.random.get_rng_state()
    augment(digits, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state), "the global RNG is left alone"


def test_step_seeds_differ_by_seed_step_and_rank():
    seeds = {step_seed(seed, step, rank) for seed in range(3) for step in range(50) for rank in range(2)}
    assert len(seeds) == 300 and all(0 <= s < 2**63 for s in seeds)
    assert step_seed(0, 7) == step_seed(0, 7, 0)


def test_augment_is_off_by_default_and_an_override_turns_it_on(tmp_path):
    assert DataSection(name="digits").augment is False  # saved configs without the key mean what they did
    config = load_config(Path(tiny_args(tmp_path)[0]), ["data.augment=true"])
    assert config.data.augment is True and config.to_dict()["data"]["augment"] is True


def first_batch(out: Path, *overrides: str) -> tuple[trainer.Run, torch.Tensor, torch.Tensor]:
    """A run's first training batch as the loop gets it, and the same images unchanged."""
    args = tiny_args(out)
    run = trainer.Run(load_config(args[0], [*args[1:], "train.max_steps=2", *overrides]))
    x, _ = next(run._batches())
    run.sampler.set_epoch(0)
    originals, _ = run.train_set.batch(list(run.sampler)[: run.local_batch])
    return run, x, originals


def test_the_trainer_augments_training_batches_and_never_test_images(tmp_path):
    run, x, originals = first_batch(tmp_path / "on", "data.augment=true")
    assert x.shape == originals.shape and not torch.allclose(x, originals, atol=0.05)
    test_images = load_dataset("digits", "test", download=False).batch()[0]
    assert torch.equal(run.test_set.batch()[0], test_images)
    _, plain, originals = first_batch(tmp_path / "off")
    assert torch.equal(plain, originals), "without data.augment the batches are the data"


@pytest.mark.slow
def test_a_stopped_augmented_run_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch, capsys):
    common = ["data.augment=true", "train.max_steps=40", "train.checkpoint_every=100", "--no-eval"]
    assert main(tiny_args(tmp_path / "straight", "vanilla_vae-digits", *common)) == 0
    assert main(tiny_args(tmp_path / "plain", "vanilla_vae-digits", *common[1:])) == 0
    log_row = trainer._append_log_row

    def log_then_stop(path: Path, row: dict) -> None:
        log_row(path, row)
        if row["step"] == 15:  # mid-epoch, between checkpoints
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(trainer, "_append_log_row", log_then_stop)
    stopped = tmp_path / "stopped"
    assert main(tiny_args(stopped, "vanilla_vae-digits", *common)) == 0
    assert saved_step(stopped) == 15 and "stopped at step 15" in capsys.readouterr().err
    monkeypatch.setattr(trainer, "_append_log_row", log_row)
    assert main(tiny_args(stopped, "vanilla_vae-digits", *common, "--resume")) == 0
    final, expected, plain = weights(stopped), weights(tmp_path / "straight"), weights(tmp_path / "plain")
    assert all(torch.equal(final[k], expected[k]) for k in expected), "an augmented run must resume exactly"
    assert not all(torch.equal(plain[k], expected[k]) for k in expected), "augmentation changed the training"
