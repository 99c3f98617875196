"""load_model and checkpoints: round trips, refusals with clear errors, the Hub path, devices.

The Hub tests never leave this machine. There is no internet here, so tests/hub_stand_in.py
runs a small HTTP server on 127.0.0.1 that stands in for the Hugging Face Hub: it answers
the HEAD and GET requests hf_hub_download makes, with the Hub's headers and error codes.
huggingface_hub reads HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE once, at import, so the
Hub loads run in a child process started with those variables set. Every test, and every
child, refuses connections and name lookups that are not loopback.
"""

import json
import pickle
import random
from pathlib import Path
from typing import NamedTuple

import pytest
import safetensors
import torch
from hub_stand_in import HubStandIn, closed_port, forbid_non_loopback, run_loads, state_digest
from torch import nn

import vae_models.base
import vae_models.loading
from vae_models import (
    WAE_MMD,
    BaseVAE,
    BetaTCVAE,
    ConditionalVAE,
    ModelLoadError,
    VanillaVAE,
    load_model,
    resolve_device,
)

TINY = {"img_size": 16, "hidden_dims": [8, 8], "latent_dim": 4}
MODELS = {
    "vanilla": (VanillaVAE, {}),
    "wae": (WAE_MMD, {"reg_weight": 10.0, "kernel_type": "rbf"}),
    "betatc": (BetaTCVAE, {"beta": 3.0, "anneal_steps": 50}),
    "cvae": (ConditionalVAE, {"num_classes": 3}),
    "broadcast": (BetaTCVAE, {"beta": 3.0, "decoder": "broadcast", "fc_dims": [16]}),
}
LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def make(name: str = "vanilla", seed: int = 0, **overrides) -> BaseVAE:
    cls, extra = MODELS[name]
    torch.manual_seed(seed)
    return cls(**{**TINY, **extra, **overrides})


def saved(model: BaseVAE, folder: Path) -> Path:
    model.save_pretrained(folder)
    return folder


def read_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def edit_config(folder: Path, **changes) -> None:
    (folder / "config.json").write_text(json.dumps({**read_config(folder), **changes}))


def load_error(source, **kwargs) -> str:
    """The message of the ModelLoadError that loading `source` must raise."""
    with pytest.raises(ModelLoadError) as caught:
        load_model(source, device="cpu", **kwargs)
    message = str(caught.value)
    assert str(source) in message, f"the message does not name {source}: {message}"
    return message


def outputs(model: BaseVAE) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes of fixed images and images of fixed codes (as class labels [0, 2] for the CVAE)."""
    generator = torch.Generator().manual_seed(0)
    x, z = torch.rand(2, 1, 16, 16, generator=generator), torch.randn(2, 4, generator=generator)
    labels = {"labels": [0, 2]} if isinstance(model, ConditionalVAE) else {}
    with torch.no_grad():
        return model.embed(x, **labels), model.decode(z, **labels)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    forbid_non_loopback(monkeypatch.setattr)


@pytest.fixture
def vanilla_dir(tmp_path) -> Path:
    return saved(make(), tmp_path / "vanilla")


@pytest.fixture
def no_layers_built(monkeypatch):
    """Fail the test if any weight-holding layer is constructed; yields the attempts."""
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(type(self).__name__)
        raise AssertionError(f"{type(self).__name__} was allocated for a config that should have been refused")

    for layer in LAYERS:
        monkeypatch.setattr(layer, "__init__", refuse)
    yield attempts
    assert attempts == []


# --- 1. round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_save_writes_a_config_naming_the_type_and_safetensors_weights_only(name, tmp_path):
    model = make(name)
    folder = saved(model, tmp_path / name)
    assert {path.suffix for path in folder.iterdir()} <= {".json", ".safetensors", ".md"}
    assert read_config(folder)["model_type"] == model.model_type
    with safetensors.safe_open(folder / "model.safetensors", framework="pt") as weights:
        assert set(weights.keys()) == set(model.state_dict())
    (folder / "README.md").read_text(encoding="utf-8")  # text, not a pickle


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_gives_the_same_class_in_eval_mode_with_identical_tensors(name, tmp_path):
    model = make(name)
    assert model.training
    loaded = load_model(saved(model, tmp_path / name), device="cpu")
    assert type(loaded) is type(model)
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for key, tensor in original.items():
        assert restored[key].dtype == tensor.dtype and torch.equal(restored[key], tensor), key
    for before, after in zip(outputs(model.eval()), outputs(loaded), strict=True):
        assert torch.equal(before, after)


@pytest.mark.parametrize("name", MODELS)
def test_a_loaded_model_saves_the_same_files_again(name, tmp_path):
    first = saved(make(name), tmp_path / "first")
    second = saved(load_model(first, device="cpu"), tmp_path / "second")
    for filename in ("config.json", "model.safetensors"):
        assert (first / filename).read_bytes() == (second / filename).read_bytes(), filename


def test_betatc_anneal_step_survives_the_round_trip(tmp_path):
    model = make("betatc")
    model.anneal_step.fill_(123)
    loaded = load_model(saved(model, tmp_path / "betatc"), device="cpu")
    assert loaded.anneal_step.dtype == torch.long
    assert loaded.anneal_step.item() == 123
    assert loaded.anneal_factor() == 1.0  # 123 of 50 warm-up steps: the warm-up is over


def test_default_hidden_dims_are_written_out_and_reloaded(tmp_path):
    folder = saved(make(hidden_dims=None), tmp_path / "defaults")
    assert read_config(folder)["hidden_dims"] == [32, 64, 128]
    assert load_model(folder, device="cpu").hidden_dims == [32, 64, 128]


def test_a_path_object_and_a_torch_device_are_accepted(vanilla_dir):
    loaded = load_model(Path(vanilla_dir), device=torch.device("cpu"))
    assert isinstance(loaded, VanillaVAE)


# --- 2. refusals, each a ModelLoadError naming the source and the problem -------------------


def test_a_missing_folder(tmp_path):
    assert "no such checkpoint folder" in load_error(tmp_path / "absent")


@pytest.mark.parametrize("filename", ["model.safetensors", "config.json"])
def test_a_folder_missing_a_file(vanilla_dir, filename):
    (vanilla_dir / filename).unlink()
    assert f"{filename} is missing" in load_error(vanilla_dir)


class Trap:
    """Unpickling this creates `marker`: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("pickle_name", ["pytorch_model.bin", "model.pt", "model.ckpt"])
@pytest.mark.parametrize("with_config", [True, False], ids=["with-config", "no-config"])
def test_pickled_weights_are_refused_and_never_unpickled(vanilla_dir, tmp_path, monkeypatch, pickle_name, with_config):
    marker = tmp_path / "unpickled"
    (vanilla_dir / "model.safetensors").unlink()
    (vanilla_dir / pickle_name).write_bytes(pickle.dumps(Trap(marker)))
    if not with_config:
        (vanilla_dir / "config.json").unlink()

    def refuse(*args, **kwargs):
        raise AssertionError("a pickle was opened")

    for module, name in [(torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")]:
        monkeypatch.setattr(module, name, refuse)
    message = load_error(vanilla_dir)
    assert pickle_name in message
    assert "pickles and are never loaded" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "not readable JSON"),
        (b"\xff\xfe{}", "not readable JSON"),
        (b"[" * 100_000, "not readable JSON"),  # nested deeper than Python's recursion limit
        (b"", "not readable JSON"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'"vanilla_vae"', "must hold a JSON object"),
    ],
    ids=["syntax", "not-utf8", "too-deep", "empty", "list", "string"],
)
def test_config_that_is_not_a_json_object(vanilla_dir, content, problem):
    (vanilla_dir / "config.json").write_bytes(content)
    assert problem in load_error(vanilla_dir)


@pytest.mark.parametrize("model_type", ["gan", "VanillaVAE", 7, ["vanilla_vae"], {"vanilla_vae": 1}], ids=json.dumps)
def test_unknown_model_type(vanilla_dir, model_type):
    edit_config(vanilla_dir, model_type=model_type)
    message = load_error(vanilla_dir)
    assert f"model_type {model_type!r}" in message and "known types are" in message


def test_missing_model_type(vanilla_dir):
    config = read_config(vanilla_dir)
    del config["model_type"]
    (vanilla_dir / "config.json").write_text(json.dumps(config))
    assert "model_type None" in load_error(vanilla_dir)


@pytest.mark.parametrize("key", ["evil", "strict", "map_location", "self", "reg_weight"])
def test_unknown_config_keys(vanilla_dir, key):
    # "strict": false must not be able to make loading lenient; reg_weight is WAE-MMD's, not the VAE's.
    edit_config(vanilla_dir, **{key: False})
    message = load_error(vanilla_dir)
    assert f"keys that VanillaVAE does not take: [{key!r}]" in message


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"latent_dim": 10**9}, "latent_dim must be between"),
        ({"latent_dim": "10"}, "latent_dim must be an integer"),
        ({"latent_dim": True}, "latent_dim must be an integer"),
        ({"latent_dim": 4.0}, "latent_dim must be an integer"),
        ({"in_channels": None}, "in_channels must be an integer"),
        ({"img_size": 17}, "img_size must be one of"),
        ({"hidden_dims": "88"}, "hidden_dims must be a list"),
        ({"hidden_dims": [8] * 5}, "len(hidden_dims) must be between"),
        ({"hidden_dims": [8, -1]}, "hidden_dims[1] must be between"),
        ({"fc_dims": [8, 10**6]}, "fc_dims[1] must be between"),
        ({"likelihood": "poisson"}, "likelihood must be one of"),
        ({"decoder": "pixelcnn"}, "decoder must be one of"),
        ({"decoder": "broadcast", "hidden_dims": [8]}, "the broadcast decoder needs at least two hidden_dims"),
        ({"img_size": 128, "hidden_dims": [1024] * 7, "latent_dim": 1024}, "parameters, over the"),
        ({"model_type": "wae_mmd", "reg_weight": float("nan")}, "reg_weight must be a finite number"),
        ({"model_type": "betatc_vae", "anneal_steps": -1}, "anneal_steps must be between"),
        ({"model_type": "cvae", "num_classes": 10**6}, "num_classes must be between"),
    ],
    ids=lambda value: json.dumps(value)[:40] if isinstance(value, dict) else None,
)
def test_out_of_range_or_mistyped_config_is_refused_before_any_layer_is_built(
    vanilla_dir, no_layers_built, changes, problem
):
    edit_config(vanilla_dir, **changes)
    message = load_error(vanilla_dir)
    assert "config.json is invalid" in message and problem in message


@pytest.mark.parametrize(
    "changes",
    [
        {"latent_dim": 5},
        {"hidden_dims": [8, 16]},
        {"fc_dims": [16]},
        {"decoder": "broadcast"},
        {"in_channels": 3},
        {"model_type": "wae_mmd"},  # fc_z missing, posterior.* unexpected
        {"model_type": "betatc_vae"},  # the anneal_step buffer missing
    ],
    ids=lambda value: json.dumps(value),
)
def test_weights_that_do_not_match_the_config(vanilla_dir, changes):
    edit_config(vanilla_dir, **changes)
    assert "model.safetensors does not match config.json" in load_error(vanilla_dir)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: random.Random(0).randbytes(4096),
        lambda data: data[: len(data) // 2],
        lambda data: data[:-1],
        lambda data: data[:8],
        lambda data: b"",
        lambda data: (2**62).to_bytes(8, "little") + data[8:],
        lambda data: b'{"model_type": "vanilla_vae"}',
    ],
    ids=["random-bytes", "truncated-half", "truncated-1-byte", "header-length-only", "empty", "huge-header", "json"],
)
def test_corrupted_weights(vanilla_dir, corrupt):
    weights = vanilla_dir / "model.safetensors"
    weights.write_bytes(corrupt(weights.read_bytes()))
    assert "model.safetensors is corrupted or not a safetensors file" in load_error(vanilla_dir)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("../etc", "no such checkpoint folder"),
        ("/abs/path/that/does/not/exist", "no such checkpoint folder"),
        ("~/no-such-checkpoint-here", "no such checkpoint folder"),
        ("http://evil.example/x", "is not a Hub repo id"),
        ("https://huggingface.co/owner/name", "is not a Hub repo id"),
        ("owner/..", "is not a Hub repo id"),
        ("a/b/c", "nor a valid Hub repo id"),
        ("owner/na me", "nor a valid Hub repo id"),
        ("owner--x/name", "nor a valid Hub repo id"),
    ],
)
def test_sources_that_are_neither_a_folder_nor_a_repo_id_never_reach_the_network(
    tmp_path, monkeypatch, source, problem
):
    monkeypatch.chdir(tmp_path)  # so "../etc" is surely absent

    def no_download(*args, **kwargs):
        raise AssertionError(f"{source!r} reached hf_hub_download")

    monkeypatch.setattr(vae_models.loading, "hf_hub_download", no_download)
    monkeypatch.setattr(vae_models.base, "hf_hub_download", no_download)
    assert problem in load_error(source)


# --- 3. the Hub, through a local stand-in server and its cache --------------------------------

HUB_LOADS = {  # name: (repo_id, revision, the checkpoint expected); "@main" is main's commit id
    "main": ("owner/name", None, "main"),
    "branch": ("owner/name", "v2", "v2"),
    "commit": ("owner/name", "@main", "main"),
    "pushed-mid-download": ("owner/racy", None, "main"),
}
HUB_REFUSALS = {  # name: (repo_id, revision, problem)
    "unknown-repo": ("owner/missing", None, "was not found"),
    "unknown-revision": ("owner/name", "no-such-branch", "no such revision"),
    "pickles-only": ("owner/pickles", None, "pickled weights are refused"),
    "corrupted-weights": ("owner/corrupt", None, "is corrupted or not a safetensors file"),
}
OFFLINE_REFUSALS = {  # name: (repo_id, revision); neither was ever downloaded
    "repo-not-cached": ("owner/missing", None),
    "revision-not-cached": ("owner/name", "never-fetched"),
}


class Hub(NamedTuple):
    stand_in: HubStandIn
    commits: dict[str, str]  # branch of owner/name -> commit id
    digests: dict[str, dict[str, str]]  # checkpoint name -> state_digest
    cache: Path  # HF_HUB_CACHE for every child


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The stand-in Hub serving: owner/name (main and v2), a repo pushed to between the
    config and weights downloads, one offering only a pickle, one with corrupted weights."""
    root = tmp_path_factory.mktemp("hub")
    checkpoints = {"main": make("vanilla", seed=0), "v2": make("wae", seed=1)}
    folders = {name: saved(model, root / name) for name, model in checkpoints.items()}
    config = (folders["main"] / "config.json").read_bytes()
    with HubStandIn() as stand_in:
        commits = {branch: stand_in.push_folder("owner/name", folder, branch) for branch, folder in folders.items()}
        stand_in.push_folder("owner/racy", folders["main"])
        later = stand_in.push_folder("owner/racy", folders["v2"], branch="next")
        stand_in.push("owner/pickles", {"config.json": config, "pytorch_model.bin": pickle.dumps(Trap(root / "x"))})
        stand_in.push("owner/corrupt", {"config.json": config, "model.safetensors": random.Random(0).randbytes(999)})

        def push_between_config_and_weights(request: str) -> None:
            if request == "GET /owner/racy/resolve/main/config.json":
                stand_in.move_branch("owner/racy", "main", later)

        stand_in.after_request = push_between_config_and_weights
        digests = {name: state_digest(model) for name, model in checkpoints.items()}
        yield Hub(stand_in, commits, digests, root / "cache")


def hub_loads(hub: Hub, cases: dict[str, tuple], *, offline: bool = False) -> dict[str, dict]:
    """Run load_model(repo_id, revision) for each case in one child; outcomes by case name."""
    requests = [
        {"path_or_repo_id": repo_id, "revision": hub.commits["main"] if revision == "@main" else revision}
        for repo_id, revision, *_ in cases.values()
    ]
    outcomes = run_loads(requests, endpoint=hub.stand_in.endpoint, cache=hub.cache, offline=offline)
    return dict(zip(cases, outcomes, strict=True))


@pytest.fixture(scope="module")
def online(hub):
    """Outcomes of the loads through the stand-in, which also fill the Hub cache."""
    return hub_loads(hub, {**HUB_LOADS, **HUB_REFUSALS})


@pytest.fixture(scope="module")
def offline(hub, online):
    """Outcomes of loads from the cache `online` filled, with HF_HUB_OFFLINE=1, and the requests they made."""
    before = len(hub.stand_in.requests)
    cases = {name: HUB_LOADS[name] for name in ("main", "branch", "commit")} | OFFLINE_REFUSALS
    return hub_loads(hub, cases, offline=True), hub.stand_in.requests[before:]


def assert_loaded(outcome: dict, expected_digest: dict) -> None:
    assert "error" not in outcome, outcome
    assert outcome["training"] is False
    assert outcome["digest"] == expected_digest


@pytest.mark.slow
@pytest.mark.parametrize("name", HUB_LOADS)
def test_hub_load_gives_the_weights_that_were_pushed(hub, online, name):
    expected = HUB_LOADS[name][2]
    assert_loaded(online[name], hub.digests[expected])
    assert online[name]["class"] == {"main": "VanillaVAE", "v2": "WAE_MMD"}[expected]


@pytest.mark.parametrize("name", HUB_REFUSALS)
def test_hub_refusals(online, name):
    repo_id, _, problem = HUB_REFUSALS[name]
    outcome = online[name]
    assert outcome.get("error") == "ModelLoadError", outcome
    assert repo_id in outcome["message"] and problem in outcome["message"]


def test_hub_pickles_are_never_even_requested(hub, online):
    requests = hub.stand_in.requests
    assert any("/owner/pickles/" in request for request in requests)
    assert not [request for request in requests if "pytorch_model.bin" in request]


def test_hub_cache_has_the_hub_layout(hub, online):
    repo = hub.cache / "models--owner--name"
    for branch, commit in hub.commits.items():
        assert (repo / "refs" / branch).read_text() == commit
        snapshot = repo / "snapshots" / commit
        for filename in ("config.json", "model.safetensors"):
            assert (snapshot / filename).is_symlink()
            assert (snapshot / filename).resolve().parent == (repo / "blobs").resolve()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["main", "branch", "commit"])
def test_offline_loads_come_from_the_cache_without_a_request(hub, offline, name):
    outcomes, requests = offline
    assert_loaded(outcomes[name], hub.digests[HUB_LOADS[name][2]])
    assert requests == []


@pytest.mark.parametrize("name", OFFLINE_REFUSALS)
def test_offline_loads_of_what_is_not_cached_are_refused(offline, name):
    outcome = offline[0][name]
    assert outcome.get("error") == "ModelLoadError", outcome
    message = outcome["message"]
    assert OFFLINE_REFUSALS[name][0] in message
    assert "not in the local Hub cache" in message and "HF_HUB_OFFLINE" in message


@pytest.mark.slow
def test_an_endpoint_that_refuses_connections(tmp_path):
    # huggingface_hub would retry for 23 s (see hub_stand_in._main); the child skips those sleeps.
    endpoint = f"http://127.0.0.1:{closed_port()}"
    [outcome] = run_loads(
        [{"path_or_repo_id": "owner/name"}], endpoint=endpoint, cache=tmp_path / "cache", skip_backoff=True
    )
    assert outcome.get("error") == "ModelLoadError", outcome
    assert "owner/name" in outcome["message"] and "cannot be reached" in outcome["message"]
    assert outcome["seconds"] < 10


# --- 4. devices -------------------------------------------------------------------------------


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def test_auto_device_is_the_cpu_without_cuda(vanilla_dir, no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    loaded = load_model(vanilla_dir)  # device="auto" is the default
    assert {tensor.device for tensor in loaded.state_dict().values()} == {torch.device("cpu")}


def test_auto_device_is_cuda_with_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_an_indexed_cpu_is_the_cpu(vanilla_dir):
    assert resolve_device("cpu:0") == torch.device("cpu")
    assert isinstance(load_model(vanilla_dir, device="cpu:0"), VanillaVAE)


@pytest.mark.parametrize(
    ("device", "problem"),
    [
        ("cuda", "PyTorch sees no CUDA GPU"),
        ("cuda:0", "PyTorch sees no CUDA GPU"),
        ("nonsense", "device must be 'auto', 'cpu' or 'cuda[:N]'"),
        ("", "device must be 'auto', 'cpu' or 'cuda[:N]'"),
        ("meta", "device must be 'auto', 'cpu' or 'cuda[:N]'"),
        ("mps", "device must be 'auto', 'cpu' or 'cuda[:N]'"),
        ("xpu", "device must be 'auto', 'cpu' or 'cuda[:N]'"),
    ],
)
def test_unusable_devices_are_a_value_error_before_any_file_is_read(tmp_path, no_cuda, device, problem):
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_model(tmp_path / "absent", device=device)


def test_a_cuda_index_beyond_the_gpus_is_a_value_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="sees 1 CUDA GPU"):
        resolve_device("cuda:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_loads_onto_the_gpu(vanilla_dir):
    model = load_model(vanilla_dir, device="cuda")
    assert {tensor.device.type for tensor in model.state_dict().values()} == {"cuda"}
    assert state_digest(model) == state_digest(load_model(vanilla_dir, device="cpu"))
