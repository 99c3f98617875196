"""train.live: the Train tab's runs, in-process (the page's service without the page).

The runs are real `python -m train` processes on tiny configs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch
from support import CHECKPOINTS

from train import live
from train.config import load_config
from train.live import (
    ENDED,
    FINISHED,
    QUEUED,
    STOPPED,
    TRAINING,
    RunRequest,
    TrainingLimits,
    TrainingService,
    default_weight,
    live_test_set,
    progress_line,
    take_snapshot,
)
from train.trainer import Run

pytestmark = pytest.mark.slow


def wait(condition, timeout: float = 240.0, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def service_in(folder: Path, judges: Path, **limits: float) -> TrainingService:
    limits = {"max_seconds": 60, "ttl_seconds": 600} | limits
    return TrainingService(folder / "runs", TrainingLimits(**limits), poll_seconds=0.1, judges=judges).start()


@pytest.fixture
def service(tmp_path, judges):
    running = service_in(tmp_path, judges)
    yield running
    running.shutdown()


def test_limits_come_from_the_environment_and_a_bad_value_names_its_variable():
    limits = TrainingLimits.from_env({live.MAX_SECONDS_ENV: "90", live.RUN_TTL_ENV: "120"})
    assert (limits.max_seconds, limits.ttl_seconds) == (90.0, 120.0)
    assert TrainingLimits.from_env({}) == TrainingLimits()
    with pytest.raises(ValueError, match=live.MAX_SECONDS_ENV):
        TrainingLimits.from_env({live.MAX_SECONDS_ENV: "ten"})
    with pytest.raises(ValueError, match=live.RUN_TTL_ENV):
        TrainingLimits.from_env({live.RUN_TTL_ENV: "-1"})


@pytest.mark.parametrize(
    ("model_type", "key", "section"),
    [("vanilla_vae", "kld_weight", "train"), ("betatc_vae", "beta", "model"), ("wae_mmd", "reg_weight", "model")],
)
def test_the_form_becomes_the_clis_config_with_the_weight_where_the_model_reads_it(tmp_path, model_type, key, section):
    form = RunRequest(model_type, "digits", 3, 2.5, 70, 16, 0.01, seed=4)
    config = form.config(tmp_path / "run")
    weight = config.train.kld_weight if section == "train" else config.model.kwargs[key]
    assert weight == 2.5 and config.model.kwargs["latent_dim"] == 3 and config.seed == 4
    assert (config.train.max_steps, config.train.batch_size, config.train.lr) == (70, 16, 0.01)
    assert config.output_dir == str(tmp_path / "run")
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(config.to_dict()))
    assert load_config(saved).to_dict() == config.to_dict(), "the CLI reruns what the page ran"


def test_default_weights_are_the_shipped_configs():
    assert default_weight("vanilla_vae", "digits") == 1.0
    assert default_weight("betatc_vae", "digits") == 6.0
    assert default_weight("wae_mmd", "digits") == 100.0


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("latent_dim", 0, "latents"),
        ("steps", 10**6, "steps"),
        ("lr", float("nan"), "learning rate"),
        ("weight", -1.0, "regulariser"),
        ("model_type", "gan", "model type"),
        ("dataset", "cifar", "dataset"),
    ],
)
def test_a_bad_form_value_is_refused_by_name(field, value, words):
    with pytest.raises(ValueError, match=words):
        RunRequest(**{field: value})


def test_the_progress_line_says_the_place_in_the_queue_and_the_time_left(tmp_path):
    run = live.LiveRun("ab12", "me", tmp_path, "a run", 100, 64)
    assert progress_line(run, {}, 1) == "queued: next to start, after the run training now"
    assert progress_line(run, {}, 3) == "queued: 2 queued run(s) ahead of it, after the run training now"
    run.state = TRAINING
    line = progress_line(run, {"step": [40.0], "images_per_sec": [640.0]}, None)
    assert line == "training: step 40 of 100 · 640 images/s · about 6 s left"


def test_one_run_at_a_time_the_rest_queued_and_a_queued_run_taken_off(service):
    first = service.submit("me", RunRequest(steps=30, latent_dim=2, batch_size=32))
    second = service.submit("you", RunRequest(steps=30, latent_dim=2, batch_size=32))
    assert first.state == TRAINING and second.state == QUEUED and service.place(second) == 1
    with pytest.raises(KeyError, match="no run"):
        service.stop("me", second.id)  # not mine
    assert service.stop("you", second.id) == "taken off the queue"
    assert second.state == STOPPED and service.place(second) is None
    assert [run.id for run in service.runs_of("me")] == [first.id]  # (test_training_page sees runs finish)


def test_the_wall_time_cap_stops_a_run_which_is_kept_evaluated_and_resumable(tmp_path, judges):
    capped = service_in(tmp_path, judges, max_seconds=12)
    try:
        run = capped.submit("me", RunRequest(steps=50_000, latent_dim=2))
        wait(lambda: run.state in ENDED)
        assert run.state == STOPPED and "wall-time cap of 12 s" in run.message, run.message
        assert run.has_model and 0 < run.saved_step < 50_000
        assert "resumed" in capped.resume("me", run.id) and run.state in (QUEUED, TRAINING)
        assert "already stopping" in (capped.stop("me", run.id), capped.stop("me", run.id))[1]
        wait(lambda: run.state in ENDED)
        assert run.state == STOPPED
    finally:
        capped.shutdown()


def test_ended_runs_are_deleted_after_their_time_to_live_and_the_page_is_told(tmp_path, judges):
    quick = service_in(tmp_path, judges, ttl_seconds=0.5)
    deleted = []
    quick.on_delete.append(deleted.append)
    try:
        run = quick.submit("me", RunRequest(steps=10_000, latent_dim=2, batch_size=16))
        quick.stop("me", run.id)
        wait(lambda: deleted, timeout=120)
        assert deleted == [run] and not run.folder.exists() and quick.runs_of("me") == []
    finally:
        quick.shutdown()


def test_shutdown_kills_the_training_process(service):
    run = service.submit("me", RunRequest(steps=50_000, latent_dim=2))
    process = run.process
    service.shutdown()
    assert process.poll() is not None


@pytest.mark.parametrize(("model_type", "unit"), [("vanilla_vae", "nats"), ("wae_mmd", "code variance")])
def test_a_snapshot_shows_samples_reconstructions_and_each_latents_information(tmp_path, model_type, unit):
    config = RunRequest(model_type, "digits", 3, None, 5, 16).config(tmp_path)
    Run(config).fit()
    (tmp_path / "training_config.json").write_text(json.dumps(config.to_dict()))
    test = live_test_set(tmp_path)
    snapshot = take_snapshot(tmp_path, test)
    assert snapshot.samples.shape == (live.LIVE_SAMPLES, 1, 32, 32)
    assert snapshot.reconstructions.shape == (2 * live.LIVE_RECONSTRUCTIONS, 1, 32, 32)
    assert torch.equal(snapshot.reconstructions[0], test[0][0]), "each test image before its reconstruction"
    assert len(snapshot.information) == len(snapshot.active) == 3 and snapshot.unit == unit
    again = take_snapshot(tmp_path, test)
    assert torch.equal(again.samples, snapshot.samples), "the same prior draws each time, so change shows"


def test_a_snapshot_is_taken_again_only_when_the_checkpoint_changes(tmp_path, service, monkeypatch):
    folder = tmp_path / "run"
    shutil.copytree(CHECKPOINTS / "vanilla_vae-digits", folder)  # a run's folder is a checkpoint like it
    run = live.LiveRun("ab12", "me", folder, "a run", 100, 64, state=FINISHED)
    taken = []
    monkeypatch.setattr(live, "take_snapshot", lambda folder, test: taken.append(folder) or "snapshot")
    assert service.snapshot(run) == service.snapshot(run) == "snapshot" and len(taken) == 1
    weights = run.folder / "model.safetensors"
    later = weights.stat().st_mtime + 5
    os.utime(weights, (later, later))
    service.snapshot(run)
    assert len(taken) == 2


def test_a_training_that_fails_after_a_checkpoint_still_gets_that_checkpoint_evaluated(tmp_path):
    service = TrainingService(tmp_path / "runs")
    run = live.LiveRun("ab12", "me", tmp_path, "a run", 100, 64, state=TRAINING)
    progress = {"progress": json.dumps({"step": 50})}
    safetensors.torch.save_file({"resume": torch.zeros(1)}, str(tmp_path / "training_state.safetensors"), progress)
    (tmp_path / live.OUTPUT_NAME).write_text("  3%|▎ | 51/100\rerror: the loss became nan at step 51; stopped.\n")
    run.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    run.process.wait()
    run.commands = [["-c", "pass"]]  # stands in for the evaluation
    service._advance(run)
    assert run.state == live.EVALUATING and run.failure == "the loss became nan at step 51; stopped."
    run.process.wait()
    service._advance(run)
    assert run.state == live.FAILED and run.message.endswith("that checkpoint is in your model picker")
