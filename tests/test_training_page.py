"""The Train tab end to end: the real app (`python app.py`) in a child process, runs trained by the
real `python -m train` in grandchild processes, all driven through gradio_client over HTTP.

Runs are tiny (tens of steps) so that each takes well under a minute with its evaluation.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import safetensors.torch
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from benchmarks.live_training import serving_figures
from benchmarks.server import AppServer
from train.checkpointing import STATE_NAME

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 180  # seconds for a tiny run to train and be evaluated on a busy 2-core machine
DIGITS = {"dataset": "digits", "uploads": [], "latent_dim": 4, "batch_size": 32, "lr": 1e-3}


@pytest.fixture(scope="module")
def served(tmp_path_factory, judges):
    workdir = tmp_path_factory.mktemp("train-app")
    runs = workdir / "runs"
    env = {"VAE_EXPLORER_TRAIN_MAX_SECONDS": "120", "OMP_NUM_THREADS": "1"}
    args = ("--runs", str(runs), "--judges", str(judges))  # the session's judges: each is trained once
    server = AppServer(*args, workdir=workdir, env=env, timeout=120).start().wait()
    yield server, runs
    server.stop()
    assert not _children(server.process.pid), "no training process may outlive the app"


def _children(pid: int) -> list[int]:
    """Every live process descended from `pid`."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path("/proc").glob("[0-9]*"):
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                found.append(int(task.name))
                frontier.append(int(task.name))
    return found


def _client(served) -> Client:
    return Client(served[0].url, verbose=False)


def _train(client: Client, model_type: str = "vanilla_vae", steps: int = 40, weight: float = 1.0, **form) -> str:
    values = DIGITS | {"model_type": model_type, "steps": steps, "weight": weight} | form
    line, _ = client.predict(**values, api_name="/train")
    return line


def _status(client: Client) -> tuple:
    return client.predict(api_name="/train_status")


def _wait_for(client: Client, *words: str, timeout: float = RUN_TIMEOUT) -> tuple:
    """Poll /train_status until its line holds one of `words`; the statuses seen, and the last."""
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        status = _status(client)
        seen.append(status[0])
        if any(word in status[0] for word in words):
            return seen, status
        time.sleep(0.5)
    raise AssertionError(f"no {words} within {timeout} s; last: {seen[-3:]}")


def _newest_run(runs: Path) -> Path:
    return max((folder for folder in runs.iterdir() if (folder / "training_config.json").exists()), key=_created)


def _created(folder: Path) -> float:
    return (folder / "training_config.json").stat().st_mtime


def test_a_run_trains_live_and_joins_the_model_picker_of_its_visitor_only(served, judges):
    client, other = _client(served), _client(served)
    assert "training: step 0 of 40" in _train(client)
    assert "queued: next to start" in _train(client, steps=30), "one run trains at a time"
    seen, status = _wait_for(client, "finished", "failed")
    while any(row[1] in ("queued", "training", "evaluating") for row in status[5]["data"]):
        status = _status(client)
        seen.append(status[0])
        time.sleep(0.5)
    assert "finished" in status[0], status[0]
    first = [line for line in seen if "40 steps**" in line and "training: step" in line]
    steps = [int(line.split("training: step ")[1].split(" ")[0]) for line in first]
    assert len(set(steps)) >= 2 and steps == sorted(steps), "the page must see the step grow"
    rows = status[5]["data"]
    assert [row[1] for row in rows] == ["finished", "finished"]
    assert all(float(row[3]) > 0 and int(row[5]) >= 1 for row in rows), "evaluated figures in the table"
    assert list(judges.glob("judge-*.safetensors")) and not (served[1] / "judges").exists(), "judges from --judges"
    joined = [name for _, name in status[6]["choices"] if name.startswith("your run")]
    assert len(joined) == 2
    picture, *_ = client.predict(
        joined[-1], handle_file(str(_an_example())), "auto (best fit)", api_name="/reconstruct"
    )
    assert Image.open(picture).size[0] >= 32
    assert _status(other)[0] == "no run yet", "another visitor sees none of these runs"
    with pytest.raises(AppError, match="no evaluated run"):
        other.predict(api_name="/train_download")
    with zipfile.ZipFile(client.predict(api_name="/train_download")) as archive:
        names = {Path(name).name for name in archive.namelist()}
    assert {"config.json", "model.safetensors", "metrics.json", "latents.safetensors", "README.md"} <= names
    assert STATE_NAME not in names and not any("epoch" in name for name in names)


def _an_example() -> Path:
    from vae_models.data import load_dataset
    from vae_models.images import to_pil

    path = ROOT / "artifacts" / "train-page-example.png"
    path.parent.mkdir(exist_ok=True)
    to_pil(load_dataset("digits", "test")[0][0][None]).save(path)
    return path


def test_stop_twice_then_resume_ends_with_the_weights_of_an_uninterrupted_run(served, tmp_path):
    client = _client(served)
    _train(client, steps=200)
    folder = _newest_run(served[1])
    deadline = time.monotonic() + RUN_TIMEOUT
    while not ((folder / STATE_NAME).exists() and _log_steps(folder) >= 60) and time.monotonic() < deadline:
        time.sleep(0.2)
    first = client.predict(api_name="/train_stop")
    second = client.predict(api_name="/train_stop")
    assert "stopping" in first and ("already stopping" in second or "nothing" in second), (first, second)
    _, status = _wait_for(client, "stopped")
    assert "Resume continues it" in status[0]
    stopped_at = int(status[5]["data"][-1][2])
    assert 60 <= stopped_at < 200
    resumed, _ = client.predict(api_name="/train_resume")
    assert "resumed" in resumed
    _wait_for(client, "finished")
    straight = tmp_path / "straight"
    command = [
        sys.executable,
        "-m",
        "train",
        str(folder / "training_config.json"),
        f"output_dir={straight}",
        "--no-eval",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    assert subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300).returncode == 0
    final, expected = _weights(folder), _weights(straight)
    assert final.keys() == expected.keys()
    assert all(torch.equal(final[key], expected[key]) for key in expected), "a stopped run must resume exactly"


def _log_steps(folder: Path) -> int:
    """The last step the run logged."""
    rows = (folder / "log.csv").read_text().splitlines() if (folder / "log.csv").exists() else []
    return int(rows[-1].split(",")[0]) if len(rows) > 1 else 0


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(str(folder / "model.safetensors"))


def test_a_second_training_waits_its_turn_and_says_so(served):
    first, second = _client(served), _client(served)
    _train(first, steps=2000)
    _wait_for(first, "training: step")
    assert "queued: next to start, after the run training now" in _train(second)
    assert "queued" in _status(second)[0]
    first.predict(api_name="/train_stop")
    _wait_for(second, "training", "evaluating", "finished")
    _wait_for(second, "finished")


def test_a_learning_rate_of_100_stops_on_nan_and_keeps_the_last_good_checkpoint(served):
    client = _client(served)
    _train(client, steps=200, lr=100.0)
    _, status = _wait_for(client, "failed", "finished")
    assert "failed" in status[0] and "the loss became nan" in status[0].lower(), status[0]
    assert "last good checkpoint" in status[0] or "nothing is kept" in status[0], "what is kept is said"


def test_the_form_refuses_bad_values_by_name(served):
    client = _client(served)
    with pytest.raises(AppError, match="learning rate"):
        _train(client, lr=0.0)
    with pytest.raises(AppError, match="steps"):
        _train(client, steps=0)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _png(size: tuple[int, int], mode: str = "L", shade: int = 128) -> bytes:
    buffer = io.BytesIO()
    colour = {"L": shade, "P": shade, "RGB": (shade, 0, 0), "RGBA": (shade, 0, 0, 200)}[mode]
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../escape.png": _png((8, 8))}, "escape"),
        ({"notes.txt": b"hello", "more.txt": b"world"}, "none is an image"),
        ({}, "empty"),
        ({"one.png": _png((8, 8))}, "at least"),
        ({f"{i}.png": _png((8, 8)) for i in range(12)}, "at least 30"),
        ({"bomb.bin": b"\0" * 200_000_000}, "bomb"),
    ],
    ids=["outside-the-folder", "text-files", "empty", "single-image", "too-few-to-train-and-test", "zip-bomb"],
)
def test_a_bad_upload_gets_a_message_naming_the_problem(served, tmp_path, members, message):
    archive = _zip(tmp_path / "upload.zip", members)
    client = _client(served)
    with pytest.raises(AppError, match=message):
        _train(client, dataset="your images", uploads=[handle_file(str(archive))])
    assert _status(client)[0] == "no run yet", "a refused upload starts nothing"


def test_images_of_mixed_sizes_and_modes_train(served, tmp_path):
    sizes = [(20, 30), (300, 40), (64, 64), (500, 500)]
    modes = ["L", "RGB", "RGBA", "P"] * 5
    members = {f"{cls}/{i}.png": _png(sizes[i % 4], mode, 40 + 10 * i) for cls in "ab" for i, mode in enumerate(modes)}
    archive = _zip(tmp_path / "mixed.zip", members)
    client = _client(served)
    line = _train(client, dataset="your images", uploads=[handle_file(str(archive))], steps=20, batch_size=64)
    assert "labelled by folder" in line and "batch size 64 lowered" in line, line
    _, status = _wait_for(client, "finished", "failed")
    assert "finished" in status[0], status[0]


def test_a_preset_queues_its_runs_one_after_another_and_stop_ends_them_all(served):
    client = _client(served)
    line, _ = client.predict("β = 0.1, 1 and 10 on digits: watch latents collapse", api_name="/train_preset")
    assert line.startswith("queued 3 runs: the larger β")
    rows = _status(client)[5]["data"]
    assert [row[0].split(",")[1].strip() for row in rows] == ["β = 0.1", "β = 1", "β = 10"]
    assert [row[1] for row in rows] == ["training", "queued", "queued"]
    stopped = client.predict(api_name="/train_stop")
    assert stopped.count("taken off the queue") == 2 and "stopping" in stopped
    with pytest.raises(AppError, match=r"not in the list of choices|pick a preset"):
        client.predict("no such preset", api_name="/train_preset")


def test_the_other_tabs_stay_fast_and_error_free_while_a_run_trains(served, tmp_path):
    """A short `python -m benchmarks.live_training --only serving` against this app."""
    figures = serving_figures(served[0].url, tmp_path, decodes=15, load_seconds=8.0)
    assert figures["still_training"], "the run must be training throughout"
    # Behaviour, not speed: decodes keep answering (their idle median is tens of ms; the speed bar, a ratio
    # to the idle figure measured side by side, is in `python -m benchmarks --only page`).
    assert figures["decode_median_ms"] < 1_000, figures
    assert figures["load_requests"] > 0 and figures["load_errors"] == 0, figures["error_kinds"]
