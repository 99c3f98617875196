"""The catalog of models (vae_models.catalog): discovering checkpoint folders, loading each model
once, model summaries, and the Hub deadline, checked in child processes (huggingface_hub reads
HF_* at import)."""

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hub_stand_in import SilentServer, closed_port, hub_env
from support import CHECKPOINTS, CVAE, NAMES, REPO_ROOT, VANILLA

from vae_models import ConditionalVAE
from vae_models.catalog import Catalog, ModelInfo, discover


@pytest.mark.slow
def test_discover_skips_broken_folders_with_a_warning(tmp_path):
    for name in NAMES:
        (tmp_path / name).symlink_to(CHECKPOINTS / name, target_is_directory=True)
    config = (CHECKPOINTS / VANILLA / "config.json").read_bytes()
    broken = {
        "no-weights": {"config.json": config},
        "bad-config": {"config.json": b"{not json", "model.safetensors": b"x"},
        "pickle-only": {"config.json": config, "pytorch_model.bin": b"\x80\x04K\x01."},
        "list-config": {"config.json": b"[1, 2]", "model.safetensors": b"x"},
        ".half-written": {"config.json": config},
    }
    for folder, files in broken.items():
        (tmp_path / folder).mkdir()
        for filename, content in files.items():
            (tmp_path / folder / filename).write_bytes(content)
    (tmp_path / "notes.txt").write_text("not a folder")
    infos, warnings_ = discover(tmp_path)
    assert [info.name for info in infos] == sorted(NAMES)
    assert len(warnings_) == 4, warnings_
    by_folder = {folder: [w for w in warnings_ if f"{tmp_path / folder}:" in w] for folder in broken}
    assert "model.safetensors is missing" in by_folder["no-weights"][0]
    assert "not readable JSON" in by_folder["bad-config"][0]
    assert "model.safetensors is missing" in by_folder["pickle-only"][0]
    assert "must hold a JSON object" in by_folder["list-config"][0]
    assert by_folder[".half-written"] == []
    assert all(w.startswith("skipped ") for w in warnings_)


def test_discover_of_a_missing_folder(tmp_path):
    assert discover(tmp_path / "absent") == ([], [f"no checkpoint folder at {tmp_path / 'absent'}"])


def test_catalog_loads_each_model_once(catalog):
    fresh = Catalog([catalog.info(name) for name in NAMES], device="cpu")  # nothing loaded yet
    results = []
    threads = [threading.Thread(target=lambda: results.append(fresh.model(VANILLA))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(model is fresh.model(VANILLA) for model in results)
    assert fresh.model(CVAE) is fresh.model(CVAE) is not catalog.model(CVAE)
    assert isinstance(catalog.model(CVAE), ConditionalVAE) and not catalog.model(CVAE).training
    assert catalog.latents(VANILLA) is catalog.latents(VANILLA)


def test_catalog_refuses_an_unknown_name(catalog):
    with pytest.raises(KeyError, match="no model named 'nope'"):
        catalog.info("nope")


def test_same_data(catalog):
    for name in NAMES:
        same = catalog.same_data(name)
        assert same[0] == name and set(NAMES) <= set(same) and len(set(same)) == len(same)
        assert {catalog.info(other).dataset for other in same} == {"digits"}


def test_model_info_summary():
    info = ModelInfo(
        "m", Path("m"), {"model_type": "betatc_vae", "latent_dim": 10}, {"dataset": "dsprites", "mig": 0.123456}
    )
    assert info.summary() == "m · betatc_vae · dsprites · 10-d latent · MIG 0.123"
    nll = ModelInfo("n", Path("n"), {"model_type": "vanilla_vae", "latent_dim": 4}, {"iwae_nll_nats": 81.234})
    assert nll.summary() == "n · vanilla_vae · unknown · 4-d latent · NLL 81.2"
    bare = ModelInfo("b", Path("b"), {}, training_config={"data": {"name": "mnist"}})
    assert bare.summary() == "b · ? · mnist · 0-d latent"


def test_model_info_of_the_shipped_checkpoints(catalog):
    for name in NAMES:
        info = catalog.info(name)
        assert info.summary().startswith(f"{name} · {info.model_type} · digits · {info.latent_dim}-d latent")
    assert catalog.info(CVAE).model_type == "cvae" and catalog.info(VANILLA).model_type == "vanilla_vae"


# --- the Hub deadline, in child processes (huggingface_hub reads HF_* at import) --------------


HUB_CHILD = """
import json, sys, time
from hub_stand_in import forbid_non_loopback
forbid_non_loopback()
from vae_models.catalog import fetch_hub_models
start = time.monotonic()
infos, warnings = fetch_hub_models(["owner/name"], timeout=float(sys.argv[1]))
seconds = time.monotonic() - start
print(json.dumps({"seconds": seconds, "infos": [i.name for i in infos], "warnings": warnings, "done_at": time.time()}))
"""


class HubChild:
    """fetch_hub_models in a child process with the Hub environment set; a thread waits for it
    and notes when it exited, so the test can tell how long the process outlived the fetch."""

    def __init__(self, endpoint: str, cache: Path, timeout: float, *, offline: bool = False) -> None:
        env = hub_env(endpoint, cache, offline=offline)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")])
        command = [sys.executable, "-c", HUB_CHILD, str(timeout)]
        self.process = subprocess.Popen(
            command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.output: tuple[str, str] = ("", "")
        self.exited_at = math.inf
        self.waiter = threading.Thread(target=self._wait, daemon=True)
        self.waiter.start()

    def _wait(self) -> None:
        self.output = self.process.communicate()
        self.exited_at = time.time()

    def outcome(self) -> dict:
        self.waiter.join(timeout=90)
        assert self.process.returncode == 0, self.output[1]
        return json.loads(self.output[0].strip().splitlines()[-1]) | {"exited_at": self.exited_at}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.waiter.join()


@pytest.fixture(scope="module", autouse=True)
def hub_children(tmp_path_factory):
    """Both children, started with the module so they import torch while the other tests run."""
    root = tmp_path_factory.mktemp("hub")
    with SilentServer() as silent:
        children = {
            "hanging": HubChild(silent.endpoint, root / "cache-a", timeout=2),
            "offline": HubChild(f"http://127.0.0.1:{closed_port()}", root / "cache-b", timeout=10, offline=True),
        }
        try:
            yield children, silent
        finally:
            for child in children.values():
                child.stop()


@pytest.fixture(scope="module")
def hub_outcomes(hub_children):
    children, silent = hub_children
    outcomes = {name: child.outcome() for name, child in children.items()}
    return outcomes | {"connections": len(silent.connections)}


@pytest.mark.slow
def test_a_hub_that_never_answers_costs_at_most_the_timeout(hub_outcomes):
    outcome = hub_outcomes["hanging"]
    assert hub_outcomes["connections"] >= 1  # the child did try the silent endpoint
    assert outcome["infos"] == []
    assert 1.5 <= outcome["seconds"] < 20, outcome  # the 2 s timeout, not huggingface_hub's retries (10× slack)
    [warning] = outcome["warnings"]
    assert "owner/name" in warning and "2 s" in warning and "could not be reached" in warning
    # The stuck download must not hold the process open at exit (huggingface_hub would retry for ~30 s).
    assert outcome["exited_at"] - outcome["done_at"] < 8


@pytest.mark.slow
def test_an_offline_hub_with_an_empty_cache_is_a_warning(hub_outcomes):
    outcome = hub_outcomes["offline"]
    assert outcome["infos"] == [] and outcome["seconds"] < 30
    [warning] = outcome["warnings"]
    assert "owner/name" in warning and "not offered" in warning and "not in the local Hub cache" in warning


def test_no_hub_repos_costs_nothing():
    from vae_models.catalog import fetch_hub_models

    start = time.monotonic()
    assert fetch_hub_models([], timeout=5) == ([], [])
    assert time.monotonic() - start < 0.5
