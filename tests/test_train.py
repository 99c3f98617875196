"""The training CLI on tiny digits models: outputs, resume after SIGKILL, faults, distributed."""

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
import yaml
from PIL import Image
from torchvision.utils import save_image

from train import card, grids, step, trainer
from train.__main__ import main
from train.checkpointing import STATE_NAME
from train.config import ConfigError, DataSection, ModelSection, TrainingConfig, TrainSection, load_config
from train.evaluate import (
    classifier_verdicts,
    judge_classifier,
    reconstruction_overlap,
    reconstruction_verdicts,
    stack,
)
from train.evaluate import main as evaluate_main
from vae_models import ConditionalVAE, VanillaVAE, load_model
from vae_models.catalog import ModelInfo
from vae_models.checkpoint import metric_value
from vae_models.data import load_dataset
from vae_models.disentanglement import FAST_RECIPE, RECORDED_METRICS
from vae_models.latent import traversal_codes

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "train" / "configs"
TINY = ["model.hidden_dims=[8,16]", "model.latent_dim=4", "train.log_every=5", "train.precision=fp32"]


def tiny_args(out: Path, config: str = "vanilla_vae-digits", *extra: str) -> list[str]:
    return [str(CONFIGS / f"{config}.yaml"), f"output_dir={out}", *TINY, *extra]


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def progress_of(folder: Path) -> dict:
    # One read of the whole file: safe_open opens the path twice, and a run writing its next
    # checkpoint can rename a new file in between (seen as "smaller than the required mapping size").
    data = (folder / STATE_NAME).read_bytes()
    header_size = int.from_bytes(data[:8], "little")  # the safetensors layout: u64 size, JSON header
    return json.loads(json.loads(data[8 : 8 + header_size])["__metadata__"]["progress"])


def saved_step(folder: Path) -> int:
    return progress_of(folder)["step"]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("config", ["vanilla_vae-digits", "wae_mmd-digits", "betatc_vae-digits", "cvae-digits"])
def test_a_run_writes_a_folder_load_model_reads(tmp_path, config):
    out = tmp_path / "run"
    assert main(tiny_args(out, config, "train.max_steps=30", "--no-eval")) == 0
    model = load_model(out, device="cpu")
    assert model.latent_dim == 4
    header, *rows = (out / "log.csv").read_text().splitlines()
    columns = header.split(",")
    assert {"step", "lr", "images_per_sec", "loss", "reconstruction"} <= set(columns)
    assert len(rows) == 6 and rows[-1].startswith("30,")
    assert (out / "samples_epoch001.png").exists() and (out / "recons_epoch001.png").exists()
    assert json.loads((out / "training_config.json").read_text())["model"]["latent_dim"] == 4
    assert saved_step(out) == 30


@pytest.mark.slow
def test_evaluate_writes_metrics_and_the_latent_cache(tmp_path, judges):
    out = tmp_path / "run"
    assert main(tiny_args(out, "cvae-digits", "train.max_steps=40", "--no-eval")) == 0
    result = run_cli("-m", "train.evaluate", str(out), "--judge-cache", str(judges))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("reconstruction_nats", "negative_elbo_nats", "iwae_nll_nats", "sample_frechet_distance"):
        assert metrics[key] > 0
    # The importance-weighted bound is tighter than the ELBO.
    assert metrics["iwae_nll_nats"] <= metrics["negative_elbo_nats"] + 1e-3
    assert 0 <= metrics["conditional_accuracy"] <= 1 and 0 <= metrics["reconstruction_accuracy"] <= 1
    assert metrics["classifier_test_accuracy"] > 0.9
    assert len(metrics["kl_per_dim"]) == 4
    cache = safetensors.torch.load_file(str(out / "latents.safetensors"))
    assert cache["codes"].shape[1] == 4 and cache["tsne"].shape == (len(cache["codes"]), 2)

    published = tmp_path / "published"
    assert card.main([str(out), str(published)]) == 0
    assert load_model(published, device="cpu").latent_dim == 4
    for name in ("config.json", "model.safetensors", "latents.safetensors"):
        assert (published / name).read_bytes() == (out / name).read_bytes()
    shipped = json.loads((published / "metrics.json").read_text())
    assert shipped.items() >= metrics.items() and shipped["training_seconds"] > 0  # plus the wall time
    text = (published / "README.md").read_text()
    assert text.startswith("---\n") and "library_name: pytorch" in text
    assert f"| {metrics['conditional_accuracy']:.4g} |" in text  # every figure comes from metrics.json
    per_class = metrics["reconstruction_accuracy_per_class"]
    assert f"| … by class | 0: {per_class[0]:.2f}, 1: {per_class[1]:.2f}, " in text
    assert "python -m train checkpoints/published/training_config.json" in text
    for image in ("samples.png", "reconstructions.png", "traversal.png"):
        assert f"]({image})" in text and (published / image).stat().st_size > 0
    assert f"{folder_row(published)}" in card.summary_table([published])
    assert "reconstruction_iou" not in metrics, "digits are grey levels: no pixel overlap"

    # Evaluated again in place, a shipped checkpoint keeps its training time and gets its card anew.
    (published / "README.md").unlink()
    assert run_cli("-m", "train.evaluate", str(published)).returncode == 0
    again = json.loads((published / "metrics.json").read_text())
    assert again["training_seconds"] == shipped["training_seconds"]
    assert card.main([str(published), str(published)]) == 0
    assert f"**{shipped['training_seconds'] / 60:.1f} minutes**" in (published / "README.md").read_text()


def test_the_judge_scores_each_reconstruction_against_its_own_images_class(judges):
    train_set, test_set = load_dataset("digits", "train"), load_dataset("digits", "test")
    images, labels = stack(test_set)
    classifier = judge_classifier(train_set, seed=0, cache=judges)
    faithful = reconstruction_verdicts(classifier.predict(images), labels, 10)
    model = VanillaVAE(in_channels=1, latent_dim=2, img_size=32, hidden_dims=[8, 16]).eval()
    assert (
        faithful["reconstruction_accuracy"]
        == classifier_verdicts(model, classifier, images, labels, seed=0)["classifier_test_accuracy"]
    )
    assert faithful["reconstruction_accuracy"] > 0.9 and min(faithful["reconstruction_accuracy_per_class"]) > 0.5
    shuffled = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))]
    assert reconstruction_verdicts(classifier.predict(shuffled), labels, 10)["reconstruction_accuracy"] < 0.3


def test_reconstruction_verdicts_count_each_class_and_skip_absent_ones():
    labels, judged = torch.tensor([0, 0, 0, 2, 2]), torch.tensor([0, 1, 0, 2, 0])
    verdicts = reconstruction_verdicts(judged, labels, 3)
    assert verdicts["reconstruction_accuracy"] == pytest.approx(3 / 5)
    assert verdicts["reconstruction_accuracy_per_class"] == [pytest.approx(2 / 3), None, 0.5]


def test_reconstruction_overlap_averages_each_class_and_skips_absent_ones():
    images = torch.zeros(3, 1, 2, 2)
    images[:, :, 0, :] = 1.0
    reconstructions = images.clone()
    reconstructions[1, :, 0, 1] = 0.0  # half the sprite is missing
    figures = reconstruction_overlap(images, reconstructions, torch.tensor([0, 0, 2]), 3)
    assert figures["reconstruction_iou"] == pytest.approx(2.5 / 3)
    assert figures["reconstruction_iou_per_class"] == [pytest.approx(0.75), None, 1.0]


def test_the_card_lists_per_class_figures_by_name_and_skips_classes_the_test_set_lacks():
    assert metric_value([0.5, None, 1.0], ["square", "ellipse", "heart"]) == "square: 0.50, heart: 1.00"
    assert metric_value(0.123456, None) == "0.1235" and metric_value(7, None) == "7"


def folder_row(folder: Path) -> str:
    return f"| [{folder.name}]({folder.as_posix()}/README.md) |"


def latents_metrics(shares: list[list[float]]) -> dict:
    """Card metrics for latents × factors MI given as shares of each factor's entropy (1 nat)."""
    return {
        "factor_names": ["shape", "posX"],
        "mutual_information": shares,
        "factor_entropy": [1.0, 1.0],
        "code_variance_per_dim": [1.0] * len(shares),
        "kl_per_dim": [2.0] * len(shares),
    }


def card_info(metrics: dict) -> ModelInfo:
    """What the card reads of a checkpoint, for the metrics alone."""
    return ModelInfo("test", Path("test"), {"latent_dim": len(metrics["code_variance_per_dim"])}, metrics)


def test_the_card_names_what_each_latent_moves_and_says_when_they_are_entangled():
    metrics = latents_metrics([[0.9, 0.1], [0.05, 0.8], [0.0, 0.0]])
    metrics["kl_per_dim"][2] = 0.01
    aligned = card._latents_section(card_info(metrics), [0, 1])
    assert "| z0 | 2.00 | shape | 0.90 | posX 0.10 |" in aligned
    assert "| z1 | 2.00 | posX | 0.80 | shape 0.05 |" in aligned
    assert "Inactive (collapsed to the prior): z2." in aligned and "entangled" not in aligned
    assert "Informative" not in aligned
    tangled = card._latents_section(card_info(latents_metrics([[0.2, 0.15], [0.1, 0.12]])), [0, 1])
    assert "No latent holds more than 20% of any factor's entropy: the factors are entangled" in tangled


def test_the_card_does_not_call_a_latent_with_a_narrow_code_but_real_kl_collapsed():
    # On dSprites at β = 6, two latents hold shape with KL 0.7 nats while their means vary by ~0.07.
    metrics = latents_metrics([[0.9, 0.1], [0.05, 0.8], [0.5, 0.0], [0.0, 0.0]])
    metrics["kl_per_dim"][2:] = [0.65, 0.0]
    text = card._latents_section(card_info(metrics), [0, 1])
    assert "so left out of the ±3 sweep: z2 (KL 0.65 nats; shape 0.50)." in text
    assert "Inactive (collapsed to the prior): z3." in text


@pytest.mark.slow
def test_two_runs_of_one_config_and_seed_give_the_same_metrics(tmp_path, judges):
    """Training and evaluation, end to end, twice in fresh processes: metrics.json is reproducible.
    (Both read the session's judge: its own determinism is tested in test_metrics.py.)"""
    reports = []
    for name in ("first", "second"):
        out = tmp_path / name
        extra = ("train.max_steps=30", f"--judge-cache={judges}")
        result = run_cli("-m", "train", *tiny_args(out, "betatc_vae-digits", *extra))
        assert result.returncode == 0, result.stderr[-2000:]
        metrics = json.loads((out / "metrics.json").read_text())
        metrics.pop("evaluation_seconds")
        reports.append(metrics)
    assert reports[0] == reports[1]
    assert weights(tmp_path / "first").keys() == weights(tmp_path / "second").keys()
    for key, tensor in weights(tmp_path / "first").items():
        assert torch.equal(tensor, weights(tmp_path / "second")[key]), key


@pytest.mark.slow
def test_the_training_cli_evaluates_with_the_judge_cache_it_is_given(tmp_path, monkeypatch):
    from train import evaluate

    asked = []
    monkeypatch.setattr(evaluate, "evaluate_checkpoint", lambda folder, **kwargs: asked.append(kwargs))
    assert main(tiny_args(tmp_path / "run", "vanilla_vae-digits", "train.max_steps=2", "--judge-cache", "kept")) == 0
    assert main(tiny_args(tmp_path / "other", "vanilla_vae-digits", "train.max_steps=2")) == 0
    assert [kwargs["judges"] for kwargs in asked] == [Path("kept"), None]


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_weights(tmp_path):
    args = ["-m", "train", *tiny_args(tmp_path / "x", "betatc_vae-digits")[:1]]
    common = [*TINY, "train.max_steps=120", "train.checkpoint_every=10", "--no-eval"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run_cli(*args, f"output_dir={straight}", *common).returncode == 0

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, *args, f"output_dir={killed}", *common], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((killed / STATE_NAME).exists() and saved_step(killed) >= 30):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted_at = saved_step(killed)
    assert 30 <= interrupted_at < 120, "the kill must land mid-run"

    resumed = run_cli(*args, f"output_dir={killed}", *common, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed} at step {interrupted_at}" in resumed.stderr
    final, expected = weights(killed), weights(straight)
    assert final.keys() == expected.keys()
    assert all(torch.equal(final[k], expected[k]) for k in expected), "resume must continue exactly"
    assert final["anneal_step"].item() == 120


@pytest.mark.slow
def test_sigterm_ends_the_run_after_its_step_and_resume_continues_exactly(tmp_path, monkeypatch, capsys):
    common = ["train.max_steps=40", "train.checkpoint_every=100", "--no-eval"]
    assert main(tiny_args(tmp_path / "straight", "betatc_vae-digits", *common)) == 0
    log_row = trainer._append_log_row

    def log_then_stop(path: Path, row: dict) -> None:
        log_row(path, row)
        if row["step"] == 15:  # a step that is neither an epoch's end nor a checkpoint
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(trainer, "_append_log_row", log_then_stop)
    stopped = tmp_path / "stopped"
    assert main(tiny_args(stopped, "betatc_vae-digits", *common)) == 0
    assert "stopped at step 15; continue with --resume" in capsys.readouterr().err
    assert saved_step(stopped) == 15
    monkeypatch.setattr(trainer, "_append_log_row", log_row)
    assert main(tiny_args(stopped, "betatc_vae-digits", *common, "--resume")) == 0
    final, expected = weights(stopped), weights(tmp_path / "straight")
    assert all(torch.equal(final[k], expected[k]) for k in expected), "a stopped run must resume exactly"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "the handler is the run's only"


@pytest.mark.slow
def test_a_kept_judge_is_read_back_for_the_same_data_and_equals_the_one_trained(tmp_path, monkeypatch):
    from train import evaluate

    train_set, test_set = load_dataset("digits", "train"), load_dataset("digits", "test")
    trained = judge_classifier(train_set, seed=0, cache=tmp_path)
    assert len(list(tmp_path.glob("judge-*.safetensors"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the kept judge must be read back, not trained again")

    monkeypatch.setattr(evaluate, "train_classifier", no_training)
    kept = judge_classifier(train_set, seed=0, cache=tmp_path)
    images = test_set.batch()[0]
    assert torch.equal(kept.predict(images), trained.predict(images))
    assert torch.allclose(kept.embed(images), trained.embed(images))
    with pytest.raises(AssertionError, match="read back"):  # other data: another judge
        judge_classifier(load_dataset("digits", "train", seed=1), seed=0, cache=tmp_path)


@pytest.mark.slow
def test_a_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(tiny_args(out, "vanilla_vae-digits", "train.max_steps=200", "train.lr=1e6", "train.checkpoint_every=1"))
    assert code == 1
    message = capsys.readouterr().err
    assert "the loss became" in message and "last good checkpoint" in message
    step = saved_step(out)
    assert f"step {step}, is kept" in message
    model = load_model(out, device="cpu")
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.slow
def test_a_nan_loss_before_any_checkpoint_says_nothing_is_kept(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(tiny_args(out, "vanilla_vae-digits", "train.max_steps=200", "train.lr=1e6", "--no-eval")) == 1
    message = capsys.readouterr().err
    assert "the loss became" in message and "No checkpoint had been saved yet, so nothing is kept" in message
    assert not (out / STATE_NAME).exists()


@pytest.mark.slow
def test_a_failed_save_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch, capsys):
    import train.trainer as trainer

    out = tmp_path / "run"
    assert main(tiny_args(out, "vanilla_vae-digits", "train.max_steps=10", "--no-eval")) == 0
    before = (out / STATE_NAME).read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(trainer, "save_training_state", disk_full)
    code = main(tiny_args(out, "vanilla_vae-digits", "train.max_steps=20", "train.checkpoint_every=5", "--resume"))
    assert code == 1
    message = capsys.readouterr().err
    assert "could not save the checkpoint at step 15" in message and "step 10, is intact" in message
    assert "final checkpoint could not be saved" in message
    assert (out / STATE_NAME).read_bytes() == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["train.epocs=3"], "unknown config key 'train.epocs'"),
        (["oops"], "must look like key.sub=value"),
        (["model.type=gan"], "model.type must be one of"),
        (["model.latent_dim=0"], "latent_dim must be between"),
        (["train.batch_size=100000"], "exceeds the"),
    ],
)
def test_bad_configs_give_a_clear_error(tmp_path, capsys, extra, message):
    assert main(tiny_args(tmp_path / "run", "vanilla_vae-digits", *extra)) == 1
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_an_existing_run_is_never_overwritten_without_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(tiny_args(out, "vanilla_vae-digits", "train.max_steps=5", "--no-eval")) == 0
    before = weights(out)
    assert main(tiny_args(out, "vanilla_vae-digits", "train.max_steps=5", "--no-eval")) == 1
    assert "already holds a training run" in capsys.readouterr().err
    assert all(torch.equal(before[k], v) for k, v in weights(out).items())


@pytest.mark.slow
def test_push_to_hub_uploads_the_run_folder(tmp_path, monkeypatch):
    # The Hub itself cannot be reached here: only the two network calls are replaced.
    from huggingface_hub import HfApi

    calls = {}
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.setdefault("create", repo_id))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.setdefault("upload", kw) and "commit-url")
    out = tmp_path / "run"
    assert main(tiny_args(out, "vanilla_vae-digits", "train.max_steps=5", "--no-eval", "--push-to-hub", "me/vae")) == 0
    assert calls["create"] == "me/vae"
    assert calls["upload"]["repo_id"] == "me/vae" and calls["upload"]["folder_path"] == str(out)
    assert "training_state.safetensors" in calls["upload"]["ignore_patterns"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_train_the_same_model_as_one(tmp_path):
    # WAE with reg_weight=0 has no per-sample noise, so the two runs must agree to rounding.
    args = [*tiny_args(tmp_path / "x", "wae_mmd-digits")[:1], *TINY, "model.reg_weight=0", "train.max_steps=15"]
    args += ["train.channels_last=false", "--no-eval"]
    single = run_cli("-m", "train", *args, f"output_dir={tmp_path / 'one'}")
    assert single.returncode == 0, single.stderr
    launcher = ["-m", "torch.distributed.run", "--nproc-per-node=2", "--master-addr=127.0.0.1"]
    launcher.append(f"--master-port={free_port()}")
    double = run_cli(*launcher, "-m", "train", *args, f"output_dir={tmp_path / 'two'}")
    assert double.returncode == 0, double.stderr
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert all(torch.allclose(one[k], two[k], atol=1e-5) for k in one)
    assert not torch.allclose(one["fc_z.weight"], weights_at_init(tmp_path)["fc_z.weight"])


def _autocast_of_rank(rank: int, port: int, config_path: str, out: str, results: dict) -> None:
    """One process of a two-process run whose ranks would time bf16 differently."""
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    step.cpu_flags = lambda: "fpu avx512f avx512_bf16"
    trainer.measure_bf16_speedup = lambda *args: 2.0 if rank == 0 else 0.5
    run = trainer.Run(load_config(config_path, [f"output_dir={out}", *TINY, "train.precision=auto"]))
    results[rank] = str(run.step.amp_dtype)
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_every_process_of_a_distributed_run_takes_rank_0s_precision(tmp_path):
    results = torch.multiprocessing.Manager().dict()
    args = (free_port(), str(CONFIGS / "vanilla_vae-digits.yaml"), str(tmp_path / "run"), results)
    torch.multiprocessing.spawn(_autocast_of_rank, args=args, nprocs=2)
    assert dict(results) == {0: "torch.bfloat16", 1: "torch.bfloat16"}


def weights_at_init(tmp_path: Path) -> dict[str, torch.Tensor]:
    out = tmp_path / "init"
    main(tiny_args(out, "wae_mmd-digits", "model.reg_weight=0", "train.max_steps=1", "train.lr=0", "--no-eval"))
    return weights(out)


@pytest.mark.parametrize(
    ("flags", "speedup", "amp", "channels_last"),
    [
        ("fpu avx512f avx512_bf16 amx_bf16 amx_tile", 2.0, torch.bfloat16, True),
        ("fpu avx512f avx512_bf16", 2.2, torch.bfloat16, True),  # the dSprites network on an AMD EPYC
        ("fpu avx512f avx512_bf16", 0.93, None, True),  # the seeds' network on an earlier CPU
        ("fpu avx2", 2.0, None, False),  # bf16 emulated: not worth timing
    ],
)
def test_auto_fast_path_follows_the_cpu_and_the_timing(monkeypatch, flags, speedup, amp, channels_last):
    monkeypatch.setattr(step, "cpu_flags", lambda: flags)
    cpu, timings = torch.device("cpu"), []
    assert step.autocast_dtype(cpu, "auto", lambda: timings.append(speedup) or speedup) == amp
    assert timings == ([speedup] if "bf16" in flags else [])
    assert step.autocast_dtype(cpu, "auto") is None, "untimed, auto keeps fp32"
    assert step.use_channels_last(cpu, "auto") is channels_last
    assert step.autocast_dtype(cpu, "bf16") == torch.bfloat16 and step.autocast_dtype(cpu, "fp32") is None


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "warned"), [("fpu avx2", True), ("fpu avx512f avx512_bf16", False)])
def test_a_config_that_forces_bf16_on_a_cpu_without_bf16_hardware_is_warned(
    tmp_path, monkeypatch, capsys, flags, warned
):
    monkeypatch.setattr(step, "cpu_flags", lambda: flags)
    args = tiny_args(tmp_path / "run", "vanilla_vae-digits", "train.precision=bf16", "train.max_steps=1")
    assert main([*args, "--no-eval"]) == 0
    assert ("this CPU has no bf16 hardware" in capsys.readouterr().err) is warned
    assert progress_of(tmp_path / "run")["step"] == 1, "the run goes on as asked"


def test_the_bf16_timing_leaves_the_model_its_optimiser_and_the_random_state_alone():
    torch.manual_seed(0)
    model = VanillaVAE(in_channels=1, latent_dim=4, hidden_dims=[8, 16], img_size=32)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    training_step = step.TrainingStep(model, model, optimiser, dataset_size=100)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(16, 1, 32, 32)
    rng = torch.get_rng_state()
    speedup = step.measure_bf16_speedup(training_step, x, rounds=2)
    assert 0 < speedup < float("inf")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not optimiser.state, "the real optimiser never stepped"
    assert torch.equal(torch.get_rng_state(), rng)


@pytest.mark.slow
def test_auto_precision_is_timed_once_and_a_resumed_run_keeps_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(step, "cpu_flags", lambda: "fpu avx512f avx512_bf16")
    monkeypatch.setattr("train.trainer.measure_bf16_speedup", lambda *args: 1.8)
    out = tmp_path / "run"
    args = tiny_args(out, "vanilla_vae-digits", "train.precision=auto", "train.checkpoint_every=5")
    assert main([*args, "train.max_steps=5", "--no-eval"]) == 0
    assert progress_of(out)["autocast"] == "bf16"
    assert "train.precision auto: bf16 (a bf16 step ran 1.80x as fast as fp32 here)" in capsys.readouterr().err

    def must_not_time(*args):
        raise AssertionError("a resumed run must keep the precision it began with")

    monkeypatch.setattr("train.trainer.measure_bf16_speedup", must_not_time)
    assert main([*args, "train.max_steps=10", "--no-eval", "--resume"]) == 0
    progress = progress_of(out)
    assert (progress["step"], progress["autocast"]) == (10, "bf16")


def test_training_on_the_cpu_flushes_subnormal_floats_to_zero():
    torch.set_flush_denormal(False)  # an earlier in-process run may have turned it on
    assert (torch.tensor([1e-38]) * torch.tensor([1e-3])).item() != 0.0
    try:
        step.flush_denormals(torch.device("cpu"))
        assert (torch.tensor([1e-38]) * torch.tensor([1e-3])).item() == 0.0
    finally:
        torch.set_flush_denormal(False)


def test_the_card_gives_a_step_bounded_run_in_steps_not_its_unreached_epochs():
    assert card.training_length({"epochs": 5, "max_steps": 26000}) == "26,000 steps"
    assert card.training_length({"epochs": 4, "max_steps": None}) == "4 epochs"


# --- the typed config ---------------------------------------------------------------------


def test_a_config_gets_the_default_of_every_key_it_leaves_out(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("model:\n  type: vanilla_vae\n  latent_dim: 4\ndata:\n  name: digits\n")
    config = load_config(path)
    assert config == TrainingConfig(
        model=ModelSection("vanilla_vae", {"latent_dim": 4}), data=DataSection("digits"), output_dir="runs/tiny"
    )
    assert (config.seed, config.data.root, config.data.download) == (0, None, True)
    assert (config.train.epochs, config.train.max_steps, config.train.lr, config.train.precision) == (
        10,
        None,
        1e-3,
        "auto",
    )


def test_overrides_reach_the_typed_sections_as_numbers_where_numbers_are_meant():
    overrides = ["train.lr=1e-4", "train.max_steps=7", "model.beta=6", "model.widths=[1, 2]", "seed=3"]
    config = load_config(CONFIGS / "betatc_vae-dsprites.yaml", [*overrides, "data.root=/data", "output_dir=/x"])
    assert config.train.lr == 1e-4 and isinstance(config.train.lr, float), "YAML reads 1e-4 as a string"
    assert config.train.max_steps == 7 and config.train.batch_size == 128
    assert config.model.type == "betatc_vae" and config.model.kwargs["beta"] == 6
    assert list(config.model.kwargs)[-1] == "widths" and config.model.kwargs["widths"] == [1, 2]
    assert (config.seed, config.data.root, config.output_dir) == (3, "/data", "/x")


@pytest.mark.parametrize(
    ("override", "key"), [("train.epocs=3", "train.epocs"), ("data.nmae=digits", "data.nmae"), ("sed=1", "sed")]
)
def test_an_unknown_key_is_refused_by_its_name(override, key):
    with pytest.raises(ConfigError, match=re.escape(f"unknown config key '{key}'; known: ")):
        load_config(CONFIGS / "vanilla_vae-digits.yaml", [override])


def test_an_unknown_key_in_the_yaml_file_is_refused_and_the_model_section_is_free_form(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("model:\n  type: vanilla_vae\n  anything: 1\ndata:\n  name: digits\ntrain:\n  lr_: 0.1\n")
    with pytest.raises(ConfigError, match=re.escape("unknown config key 'train.lr_'")):
        load_config(path)
    path.write_text("model:\n  type: vanilla_vae\n  anything: 1\ndata:\n  name: digits\n")
    assert load_config(path).model.kwargs == {"anything": 1}
    with pytest.raises(ConfigError, match=re.escape("data.name is required")):
        load_config(path, ["data.name=null"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lr": "fast"}, "train.lr must be a number, got 'fast'"),
        ({"grad_clip": [1]}, "train.grad_clip must be a number, got [1]"),
        ({"epochs": 0}, "train.epochs must be a positive integer, got 0"),
        ({"batch_size": True}, "train.batch_size must be a positive integer, got True"),
        ({"log_every": 2.5}, "train.log_every must be a positive integer, got 2.5"),
    ],
)
def test_a_train_section_with_a_bad_number_cannot_be_built(fields, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TrainSection(**fields)


def test_a_train_section_parses_the_numbers_yaml_leaves_as_strings():
    section = TrainSection(lr="1e-4", weight_decay="0", grad_clip=None)
    assert (section.lr, section.weight_decay, section.grad_clip) == (1e-4, 0.0, None)


def test_to_dict_is_the_yaml_with_its_overrides_and_every_default_in_place():
    raw = yaml.safe_load((CONFIGS / "cvae-digits.yaml").read_text())
    config = load_config(CONFIGS / "cvae-digits.yaml", ["model.latent_dim=3", "train.epochs=2", "model.fc_dims=[8]"])
    as_dict = config.to_dict()
    assert list(as_dict) == ["seed", "output_dir", "model", "data", "train"]
    assert as_dict["model"] == {**raw["model"], "latent_dim": 3, "fc_dims": [8]}
    assert list(as_dict["model"]) == [*raw["model"], "fc_dims"], "the type first, then the YAML's order"
    assert as_dict["data"] == {
        "name": "digits",
        "root": None,
        "download": True,
        "img_size": None,
        "in_channels": None,
        "augment": False,
    }
    assert as_dict["train"] == {**asdict(TrainSection()), **raw["train"], "epochs": 2}
    assert list(as_dict["train"]) == list(asdict(TrainSection()))
    assert (as_dict["seed"], as_dict["output_dir"]) == (0, "runs/cvae-digits")
    assert TrainingConfig.from_dict(as_dict) == config
    as_dict["model"]["latent_dim"] = 99
    assert config.model.kwargs["latent_dim"] == 3, "to_dict hands out a copy"


def test_a_run_saves_its_config_as_to_dict_gives_it_and_tells_a_conditional_model_the_classes(tmp_path):
    for name, classes in (("cvae-digits", 10), ("vanilla_vae-digits", 0)):
        config = load_config(CONFIGS / f"{name}.yaml", [f"output_dir={tmp_path / name}", *TINY])
        run = trainer.Run(config)
        saved = (tmp_path / name / "training_config.json").read_text()
        assert saved == json.dumps(config.to_dict(), indent=2) + "\n"
        assert run.model.num_classes == classes and run.model.is_conditional is (classes > 0)
    dataset = load_dataset("digits", "test")
    assert trainer.build_model(ModelSection("cvae", {"num_classes": 3}), dataset).num_classes == 3


# --- the grids ------------------------------------------------------------------------------


def grid_models() -> list:
    torch.manual_seed(0)
    shape = {"in_channels": 1, "latent_dim": 3, "img_size": 32, "hidden_dims": [8, 16]}
    return [VanillaVAE(**shape).eval(), ConditionalVAE(**shape, num_classes=10).eval()]


def read_png(path: Path) -> torch.Tensor:
    """An image file as integers [H, W, channels]."""
    with Image.open(path) as image:
        return torch.from_numpy(np.array(image))


def png_of(images: torch.Tensor, path: Path, **kwargs) -> torch.Tensor:
    """A grid as `save_image` writes it, read back: what a grid writer should have written."""
    save_image(images.float(), path, **kwargs)
    return read_png(path)


@pytest.mark.parametrize("model", grid_models(), ids=["unconditional", "conditional"])
def test_the_reconstruction_grid_pairs_evenly_spread_test_images_with_their_reconstructions(tmp_path, model):
    test_set = load_dataset("digits", "test")
    grids.save_reconstructions(model, test_set, tmp_path / "recons.png", count=8)
    written = read_png(tmp_path / "recons.png")
    assert written.shape == (34 + 2, 16 * 34 + 2, 3), "eight pairs in one row of sixteen"
    x, labels = test_set.batch([0, 38, 76, 115, 153, 192, 230, 269])  # the first, the last, six between
    with torch.inference_mode():
        pairs = torch.stack([x, model.generate(x, labels)], dim=1).flatten(0, 1)
    assert torch.equal(written, png_of(pairs, tmp_path / "expected.png", nrow=16))


@pytest.mark.parametrize("model", grid_models(), ids=["unconditional", "conditional"])
def test_the_sample_grid_is_seeded_and_cycles_through_the_classes(tmp_path, model):
    grids.save_samples(model, tmp_path / "a.png", count=16, num_classes=10, seed=5)
    grids.save_samples(model, tmp_path / "b.png", count=16, num_classes=10, seed=5)
    grids.save_samples(model, tmp_path / "c.png", count=16, num_classes=10, seed=6)
    a, b, c = (read_png(tmp_path / f"{n}.png") for n in "abc")
    assert a.shape == (4 * 34 + 2, 4 * 34 + 2, 3) and torch.equal(a, b) and not torch.equal(a, c)
    with torch.inference_mode():
        expected = model.sample(16, labels=torch.arange(16) % 10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, png_of(expected, tmp_path / "expected.png", nrow=4))


@pytest.mark.parametrize("model", grid_models(), ids=["unconditional", "conditional"])
def test_the_traversal_grid_has_a_row_of_nine_per_latent_in_the_order_given(tmp_path, model):
    grids.save_traversal(model, [2, 0], tmp_path / "traversal.png")
    written = read_png(tmp_path / "traversal.png")
    assert written.shape == (2 * 34 + 2, grids.TRAVERSAL_STEPS * 34 + 2, 3)
    codes = traversal_codes(torch.zeros(3), [2, 0], grids.TRAVERSAL_STEPS)
    with torch.inference_mode():
        images = model.decode(codes, torch.zeros(len(codes), dtype=torch.long))
    expected = png_of(images, tmp_path / "expected.png", nrow=grids.TRAVERSAL_STEPS, pad_value=0.5)
    assert torch.equal(written, expected)


def test_train_never_asks_which_kind_of_model_it_holds_and_the_card_does_not_import_the_trainer():
    for path in (ROOT / "train").glob("*.py"):
        source = path.read_text()
        assert "ConditionalVAE" not in source and "model_type ==" not in source, path.name
        assert '"metrics.json"' not in source and '"training_config.json"' not in source, path.name
    assert "trainer" not in (ROOT / "train" / "card.py").read_text()


# --- the disentanglement scoreboard -----------------------------------------------------------


def tiny_dsprites_checkpoint(folder: Path) -> Path:
    torch.manual_seed(0)
    VanillaVAE(latent_dim=3, img_size=64, hidden_dims=[4, 4, 4, 4]).save_pretrained(folder)
    config = load_config(CONFIGS / "vanilla_vae-dsprites.yaml", [f"output_dir={folder}"]).to_dict()
    (folder / "training_config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps({"dataset": "dsprites", "mig": 0.123}))
    return folder


@pytest.mark.slow
def test_evaluate_fast_adds_a_labelled_scoreboard_and_keeps_the_other_figures(tmp_path, capsys):
    folder = tiny_dsprites_checkpoint(tmp_path / "tiny")
    assert evaluate_main([str(folder), "--fast", "--disentanglement-only", "--device", "cpu"]) == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["mig"] == 0.123 and metrics["dataset"] == "dsprites", "the other figures are kept"
    board, record = metrics["disentanglement"], metrics["disentanglement_provenance"]
    assert set(board) == set(RECORDED_METRICS)
    for entry in board.values():
        assert len(entry["per_seed"]) == 3 and entry["mean"] == pytest.approx(np.mean(entry["per_seed"]))
    assert record["recipe"]["name"].startswith("fast") and record["recipe"]["train_points"] == FAST_RECIPE.train_points
    assert record["factor_kinds"] == {
        "shape": "categorical",
        "scale": "continuous",
        "orientation": "continuous",
        "posX": "continuous",
        "posY": "continuous",
    }
    assert "dci_disentanglement" in capsys.readouterr().out
    info = ModelInfo("tiny", folder, {"latent_dim": 3}, metrics, {})
    section = card._disentanglement_section(info)
    assert section.startswith("## Disentanglement") and "Recipe: fast (small samples" in section
    assert "python -m train.evaluate checkpoints/tiny --disentanglement-only --fast" in section
    assert f"| DCI disentanglement | {board['dci_disentanglement']['mean']:.3f} ±" in section
    assert card.scoreboard_table([folder]).count("\n") == 2 and "[tiny]" in card.scoreboard_table([folder])


def test_disentanglement_only_refuses_data_without_factors(tmp_path, capsys):
    folder = tmp_path / "digits"
    VanillaVAE(latent_dim=2, hidden_dims=[4, 4]).save_pretrained(folder)
    config = load_config(CONFIGS / "vanilla_vae-digits.yaml", [f"output_dir={folder}"]).to_dict()
    (folder / "training_config.json").write_text(json.dumps(config))
    assert evaluate_main([str(folder), "--disentanglement-only"]) == 1
    assert "digits has no generative factors" in capsys.readouterr().err


def test_resuming_onto_a_log_with_other_columns_stops_with_a_message(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("step,loss,Reconstruction_Loss,KLD\n1,2.0,1.5,0.5\n")
    with pytest.raises(trainer.TrainingError, match="move the log aside"):
        trainer._append_log_row(log, {"step": 2, "loss": 1.0, "reconstruction": 0.8, "kl": 0.2})
    assert log.read_text().count("\n") == 2, "the old log is left as it was"
    trainer._append_log_row(tmp_path / "new.csv", {"step": 1, "loss": 1.0})
    trainer._append_log_row(tmp_path / "new.csv", {"step": 2, "loss": 0.5})
    assert (tmp_path / "new.csv").read_text().splitlines() == ["step,loss", "1,1.0", "2,0.5"]
