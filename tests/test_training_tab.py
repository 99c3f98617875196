"""The Train tab's pure functions and its Hub push, in-process. The shipped checkpoints stand in for
evaluated runs (a run's folder is a checkpoint of the same format). Pushing mocks the internet
only: huggingface_hub's HfApi, which would talk to huggingface.co, is replaced by a recorder."""

from __future__ import annotations

import json
import shutil
import zipfile
from typing import ClassVar

import pytest
import safetensors.torch
import torch
from support import CHECKPOINTS, CVAE, VANILLA

from explorer.train import TrainingTab, information_figure, loss_figure, run_archive, run_row, runs_figure
from train import hub
from train.live import FINISHED, LiveRun, TrainingService


def evaluated_run(tmp_path, name: str, run_id: str = "ab12cd34") -> LiveRun:
    folder = tmp_path / run_id
    shutil.copytree(CHECKPOINTS / name, folder)
    progress = {"progress": json.dumps({"step": 100})}
    safetensors.torch.save_file({"resume": torch.zeros(1)}, str(folder / "training_state.safetensors"), progress)
    (folder / "samples_epoch001.png").write_bytes(b"per-epoch grids stay local")
    return LiveRun(run_id, "me", folder, f"{name} again", 100, 64, state=FINISHED)


def test_the_loss_figure_has_one_panel_per_loss_term():
    log = {"step": [10.0, 20.0], "epoch": [0.1, 0.2], "lr": [1e-3] * 2, "images_per_sec": [900.0] * 2}
    figure = loss_figure(log | {"loss": [500.0, 400.0], "reconstruction": [480.0, 390.0], "kl": [20.0, 10.0]})
    assert [trace.y for trace in figure.data] == [(500.0, 400.0), (480.0, 390.0), (20.0, 10.0)]
    assert [annotation.text for annotation in figure.layout.annotations] == ["loss", "reconstruction", "kl"]
    waiting = loss_figure({})
    assert waiting.layout.annotations[0].text == "waiting for the first steps"
    assert waiting.layout.xaxis.visible is False and waiting.layout.yaxis.visible is False  # no empty axes


def test_inactive_latents_are_grey_in_the_information_figure():
    figure = information_figure([2.0, 0.0, 1.5], [True, False, True], "nats")
    assert figure.data[0].marker.color == ("#3b6fb6", "#b0b0b0", "#3b6fb6")
    assert figure.layout.title.text == "nats per latent (grey: not in use)"


def test_evaluated_runs_side_by_side_and_in_the_table(tmp_path):
    runs = [evaluated_run(tmp_path, VANILLA, "aa"), evaluated_run(tmp_path, CVAE, "bb")]
    figure = runs_figure(runs)
    bars = [trace for trace in figure.data if trace.type == "bar"]
    assert len(bars) == 2 and all(len(bar.y) == 8 for bar in bars)
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == [run.title for run in runs]
    row = run_row(runs[1])
    assert row[:3] == [runs[1].title, FINISHED, 100] and float(row[3]) > 0 and row[6].endswith("%")
    assert run_row(runs[0])[6] == "", "only a conditional model is asked for classes"


def test_the_archive_holds_the_checkpoint_and_not_the_resume_state_or_grids(tmp_path):
    run = evaluated_run(tmp_path, VANILLA)
    (run.folder / "output.log").write_text("the processes' output stays local")
    with zipfile.ZipFile(run_archive(run)) as archive:
        names = set(archive.namelist())
    prefix = f"vae-run-{run.id}/"
    assert {prefix + name for name in ("config.json", "model.safetensors", "metrics.json", "README.md")} <= names
    assert not any(
        name.endswith(("training_state.safetensors", "samples_epoch001.png", "output.log")) for name in names
    )


class RecordingHub:
    """Stands in for huggingface_hub.HfApi (the internet): records what would be sent."""

    calls: ClassVar[list[tuple]] = []

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def create_repo(self, repo_id: str, exist_ok: bool) -> None:
        self.calls.append(("create_repo", self.token, repo_id))

    def upload_folder(self, repo_id: str, folder_path: str, ignore_patterns: list[str]) -> str:
        self.calls.append(("upload_folder", self.token, repo_id, folder_path, tuple(ignore_patterns)))
        return f"https://huggingface.co/{repo_id}/commit/1"


class Visitor:
    session_hash = "me"


def test_push_sends_the_latest_evaluated_run_with_the_visitors_token(tmp_path, explorer, monkeypatch):
    monkeypatch.setattr(hub, "HfApi", RecordingHub)
    RecordingHub.calls = []
    service = TrainingService(tmp_path / "runs")
    tab = TrainingTab(explorer, service)
    run = evaluated_run(tmp_path, VANILLA)
    service._runs[run.id] = run
    message = tab.push("you/your-vae", " hf_secret ", Visitor())
    assert message == "pushed to https://huggingface.co/you/your-vae/commit/1"
    assert RecordingHub.calls[0] == ("create_repo", "hf_secret", "you/your-vae")
    assert RecordingHub.calls[1][3] == str(run.folder) and "training_state.safetensors" in RecordingHub.calls[1][4]


@pytest.mark.parametrize(("repo", "token", "words"), [("no-owner", "t", "OWNER/NAME"), ("you/x", "", "token")])
def test_push_refuses_a_bad_repo_or_no_token_by_name(tmp_path, explorer, repo, token, words):
    tab = TrainingTab(explorer, TrainingService(tmp_path / "runs"))
    with pytest.raises(Exception, match=words):
        tab.push(repo, token, Visitor())


def test_an_evaluated_run_joins_the_catalog_privately_and_leaves_when_deleted(tmp_path, explorer):
    service = TrainingService(tmp_path / "runs")
    tab = TrainingTab(explorer, service)
    run = evaluated_run(tmp_path, VANILLA, "cc")
    assert tab._register(run) and not tab._register(run), "joins once per evaluation"
    name = tab.model_names[run.id]
    assert name in explorer.catalog.infos and name not in explorer.catalog.names
    assert name not in explorer.catalog.same_data(VANILLA), "another visitor's Compare never shows it"
    assert explorer.catalog.same_data(name)[0] == name
    assert set(explorer.catalog.same_data(name)[1:]) == set(explorer.catalog.same_data(VANILLA))
    choices = [value for _, value in tab._picker([run]).choices]
    assert choices == [*explorer.catalog.names, name]
    for notify in service.on_delete:
        notify(run)
    assert name not in explorer.catalog.infos and run.id not in tab.model_names
