"""python -m train.card RUN_DIR [DEST]: publish a finished, evaluated run as a shipped checkpoint.

DEST (default `checkpoints/<run name>`) gets what `load_model` and the app read
(config.json, model.safetensors, metrics.json, latents.safetensors,
training_config.json), the last epoch's sample and reconstruction grids, a latent
traversal grid, and README.md: a model card in the Hub's format whose every figure
comes from metrics.json and the run's saved training state. A shipped checkpoint
evaluated again (`python -m train.evaluate checkpoints/NAME`, which keeps its training
time) gets its card and grids rewritten in place by `python -m train.card checkpoints/NAME`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from vae_models import ModelLoadError, load_model
from vae_models.catalog import ModelInfo, read_info
from vae_models.checkpoint import (
    CONFIG_NAME,
    METADATA_FILES,
    METRICS_NAME,
    MODEL_FILES,
    TRAINING_CONFIG_NAME,
    WEIGHTS_NAME,
    metrics_table,
    read_json_object,
    read_metrics,
    write_json,
)
from vae_models.disentanglement import HEADLINE_METRICS
from vae_models.metric_registry import METRICS
from vae_models.metrics import ACTIVE_UNIT_THRESHOLD, COLLAPSED_KL

from .checkpointing import STATE_NAME, read_progress
from .config import DataSection
from .grids import save_reconstructions, save_samples, save_traversal

SHIPPED_FILES = (*MODEL_FILES, *METADATA_FILES)

MODEL_NAMES = {
    "vanilla_vae": ("Vanilla VAE", "Kingma & Welling 2013, https://arxiv.org/abs/1312.6114"),
    "wae_mmd": ("WAE-MMD", "Tolstikhin et al. 2018, https://arxiv.org/abs/1711.01558"),
    "betatc_vae": ("β-TCVAE", "Chen et al. 2018, https://arxiv.org/abs/1802.04942"),
    "cvae": ("Conditional VAE", "Sohn et al. 2015, NeurIPS"),
}
DATASET_TEXT = {
    "digits": "scikit-learn's `load_digits` (1,797 real 8×8 handwritten digits, scaled by 1/16 and resized "
    "bilinearly to 32×32; a seeded, stratified 85/15 split: 1,527 training and 270 test images)",
    "dsprites": "procedural dSprites (Matthey et al. 2017): 64×64 binary sprites over shape × scale × "
    "orientation × posX × posY, all 737,280 combinations for training and a seeded 10,000 for test",
}


def publish(run_dir: Path, dest: Path) -> Path:
    """Copy a finished run into `dest` and write its card. With `dest` the folder itself, a shipped
    checkpoint evaluated again gets new grids and card only; a run (the page's) also gets its training
    time and last sample grid."""
    in_place = dest.exists() and dest.samefile(run_dir)
    if not in_place or (run_dir / STATE_NAME).exists():  # a shipped checkpoint has no training state
        copy_run(run_dir, dest)
    info = read_info(dest, dest.name)
    model = load_model(dest, device="cpu")
    test_set = DataSection(**info.training_config["data"]).load("test", download=False)
    save_reconstructions(model, test_set, dest / "reconstructions.png")
    if not (dest / "samples.png").exists():
        config = info.training_config
        save_samples(
            model, dest / "samples.png", config["train"]["grid_samples"], len(info.class_names), config["seed"]
        )
    dims = info.active_latent_order
    save_traversal(model, dims, dest / "traversal.png")
    (dest / "README.md").write_text(model_card(info, dims), encoding="utf-8")
    return dest


def copy_run(run_dir: Path, dest: Path) -> None:
    """What ships of a run, its metrics with the training wall time added, and its last sample grid."""
    metrics = read_json_object(run_dir / METRICS_NAME, str(run_dir))
    metrics["training_seconds"] = round(read_progress(run_dir)["elapsed_seconds"], 1)
    dest.mkdir(parents=True, exist_ok=True)
    if not dest.samefile(run_dir):  # a run published in its own folder (the page's) keeps its files
        for name in SHIPPED_FILES:
            shutil.copyfile(run_dir / name, dest / name)
    write_json(dest / METRICS_NAME, metrics)
    if grids := sorted(run_dir.glob("samples_epoch*.png")):  # a run shorter than an epoch has none
        shutil.copyfile(grids[-1], dest / "samples.png")


def training_length(train: dict) -> str:
    """What bounded the run: `max_steps`, when set, ends it before `epochs` would."""
    if train.get("max_steps"):
        return f"{train['max_steps']:,} steps"
    return f"{train['epochs']} epochs"


def model_card(info: ModelInfo, traversal_dims: list[int]) -> str:
    config, name = info.training_config, info.name
    model_type, dataset = config["model"]["type"], config["data"]["name"]
    title, paper = MODEL_NAMES[model_type]
    sections = [
        _front_matter(model_type, dataset),
        f"# {name}\n\nA {title} ({paper}) trained on {DATASET_TEXT.get(dataset, dataset)}.",
        "## Use\n\n```python\nfrom vae_models import load_model\n\n"
        f'model = load_model("checkpoints/{name}")  # or a Hub repo id\n```\n\n'
        f"Only `{CONFIG_NAME}` and `{WEIGHTS_NAME}` are read; nothing is unpickled.",
        _training_section(name, config, info.metrics["training_seconds"]),
        "## Metrics\n\nOn the test set, measured by `python -m train.evaluate runs/"
        f"{name}` (written to `{METRICS_NAME}`).\n\n{metrics_table(info.metrics)}",
        "## Samples\n\n![prior samples](samples.png)\n\n"
        "## Reconstructions\n\nEach input is followed by its reconstruction.\n\n"
        "![reconstructions](reconstructions.png)",
        _latents_section(info, traversal_dims),
        _disentanglement_section(info),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _training_section(name: str, config: dict, seconds: float) -> str:
    train = config["train"]
    return (
        "## Training\n\n"
        # training_config.json is the whole resolved config, overrides included, so this is exact.
        f"```bash\npython -m train checkpoints/{name}/{TRAINING_CONFIG_NAME}\n```\n\n"
        f"Model: `{json.dumps(config['model'])}`.  \n"
        f"Optimiser: Adam, lr {train['lr']}, {train['schedule']} schedule, batch {train['batch_size']}, "
        f"{training_length(train)}, seed {config['seed']}, precision `{train['precision']}`.  \n"
        f"Wall time: **{seconds / 60:.1f} minutes** of training on 2 CPU cores, measured while other jobs "
        "shared them (an upper bound; `python -m benchmarks` has throughput on an idle machine)."
    )


def _front_matter(model_type: str, dataset: str) -> str:
    tags = ["vae", model_type, dataset, "pytorch_model_hub_mixin", "model_hub_mixin"]
    lines = ["---", "library_name: pytorch", "license: mit", "tags:", *(f"- {t}" for t in tags), "---"]
    return "\n".join(lines)


ENTANGLED_SHARE = 0.5  # below this, no latent can be said to "be" a factor


def _latents_section(info: ModelInfo, traversal_dims: list[int]) -> str:
    header = (
        "## Latents\n\nEach row of the grid sweeps one active latent from −3 to +3 (most informative first, "
        f"the others at 0): latents {', '.join(f'z{d}' for d in traversal_dims)}.\n\n![traversal](traversal.png)"
    )
    if info.dominant_factors is None:
        return header
    return (
        f"{header}\n\nWhat each active latent encodes, from the latent × factor mutual information "
        f"(normalised by the factor's entropy):\n\n"
        + "\n".join(_factor_rows(info, traversal_dims))
        + _latent_notes(info, traversal_dims)
    )


def _kl_per_latent(info: ModelInfo) -> list[float]:
    """Each latent's KL in nats; NaN for a model without one (the WAE)."""
    return info.metrics.get("kl_per_dim") or [float("nan")] * len(info.inactive)


def _factor_rows(info: ModelInfo, dims: list[int]) -> list[str]:
    names, kl, dominant = info.factor_names, _kl_per_latent(info), info.dominant_factors
    rows = [
        "| latent | KL (nats) | moves most | share of that factor's entropy | runner-up, its share |",
        "| --- | --- | --- | --- | --- |",
    ]
    for dim in dims:
        factor, share, runner_up, second = dominant[dim]
        runner_up_text = "–" if runner_up is None else f"{names[runner_up]} {second:.2f}"
        rows.append(f"| z{dim} | {kl[dim]:.2f} | {names[factor]} | {share:.2f} | {runner_up_text} |")
    return rows


def _latent_notes(info: ModelInfo, traversal_dims: list[int]) -> str:
    """The latents left out of the sweep (informative but narrow, or collapsed), and entanglement."""
    names, kl, dominant = info.factor_names, _kl_per_latent(info), info.dominant_factors
    others = [d for d in range(len(info.inactive)) if d not in traversal_dims]
    quiet = [d for d in others if kl[d] >= COLLAPSED_KL]
    collapsed = [f"z{d}" for d in others if d not in quiet]
    note = ""
    if quiet:
        described = ", ".join(
            f"z{d} (KL {kl[d]:.2f} nats; {names[dominant[d][0]]} {dominant[d][1]:.2f})" for d in quiet
        )
        note += (
            f"\n\nInformative, but with means that barely move (code variance ≤ {ACTIVE_UNIT_THRESHOLD:g}), "
            f"so left out of the ±3 sweep: {described}."
        )
    if collapsed:
        note += f"\n\nInactive (collapsed to the prior): {', '.join(collapsed)}."
    largest = max(dominant[dim][1] for dim in traversal_dims)
    if largest < ENTANGLED_SHARE:
        note += (
            f"\n\nNo latent holds more than {largest:.0%} of any factor's entropy: the factors are entangled, "
            "so each slider moves several of them at once."
        )
    return note


def _disentanglement_section(info: ModelInfo) -> str:
    """The scoreboard, each metric with what it rewards, and exactly how the figures were computed."""
    board = info.scoreboard
    if not board:
        return ""
    record = info.metrics["disentanglement_provenance"]
    recipe = record["recipe"]
    rows = ["| metric | mean ± sd over seeds | what it rewards |", "| --- | --- | --- |"]
    rows += [
        f"| {METRICS[key].title} | {board[key]['mean']:.3f} ± {board[key]['sd']:.3f} | {METRICS[key].rewards} |"
        for key in HEADLINE_METRICS
    ]
    fast = " --fast" if recipe["name"] == "fast" else ""
    note = f" ({recipe['note']})" if recipe.get("note") else ""
    how = [
        f"- Recipe: {recipe['name']}{note}; seeds {', '.join(map(str, recipe['seeds']))}; {record['seconds']:.0f} s.",
        f"- Representation: {record['representation']}.",
        f"- Points: {record['points']}.",
        f"- Discretisation: {record['discretisation']}.",
        "- Factors: " + ", ".join(f"{name} ({kind})" for name, kind in record["factor_kinds"].items()) + ".",
        *(f"- {name}: {text}." for name, text in record["classifiers"].items()),
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in record["versions"].items()) + ".",
    ]
    return (
        f"## Disentanglement\n\nMeasured by `python -m train.evaluate checkpoints/{info.name} "
        f"--disentanglement-only{fast}` (written to `{METRICS_NAME}`); the metrics disagree by design, each "
        "rewarding something else.\n\n" + "\n".join(rows) + "\n\nHow each figure was computed:\n\n" + "\n".join(how)
    )


def scoreboard_table(folders: list[Path]) -> str:
    """One row per checkpoint with a disentanglement scoreboard, for the README: every metric's mean ± sd."""
    header = " | ".join(METRICS[key].title for key in HEADLINE_METRICS)
    rows = [f"| checkpoint | {header} |", "| --- |" + " --- |" * len(HEADLINE_METRICS)]
    for folder in folders:
        board = read_metrics(folder).get("disentanglement")
        if board:
            cells = " | ".join(f"{board[key]['mean']:.2f} ± {board[key]['sd']:.2f}" for key in HEADLINE_METRICS)
            rows.append(f"| [{folder.name}]({folder.as_posix()}/README.md) | {cells} |")
    return "\n".join(rows)


def summary_table(folders: list[Path]) -> str:
    """One row per shipped checkpoint, for the README: the figures every user asks about first."""
    rows = [
        "| checkpoint | test NLL (IWAE) | recon. | recon. acc. | recon. IoU | KL | active | MIG | cond. acc. "
        "| sample FD | train min |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    keys = (
        "iwae_nll_nats",
        "reconstruction_nats",
        "reconstruction_accuracy",
        "reconstruction_iou",
        "kl_nats",
        "active_units",
        "mig",
        "conditional_accuracy",
    )
    for folder in folders:
        metrics = read_metrics(folder)
        minutes = metrics["training_seconds"] / 60 if "training_seconds" in metrics else None
        cells = [_cell(metrics.get(key)) for key in (*keys, "sample_frechet_distance")]
        rows.append(f"| [{folder.name}]({folder.as_posix()}/README.md) | {' | '.join(cells)} | {_cell(minutes)} |")
    return "\n".join(rows)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.card", description=__doc__)
    parser.add_argument("folders", type=Path, nargs="+", help="RUN_DIR [DEST], or with --table the shipped folders")
    parser.add_argument("--table", action="store_true", help="print the README's table of the given checkpoints")
    args = parser.parse_args(argv)
    if args.table:
        print(f"{summary_table(args.folders)}\n\n{scoreboard_table(args.folders)}")
        return 0
    if len(args.folders) > 2:
        parser.error("publish takes RUN_DIR and an optional DEST")
    run_dir = args.folders[0]
    try:
        dest = publish(run_dir, args.folders[1] if len(args.folders) == 2 else Path("checkpoints") / run_dir.name)
    except (OSError, KeyError, ValueError, ModelLoadError) as err:
        print(f"error: cannot publish {run_dir}: {err}", file=sys.stderr)
        return 1
    print(f"published {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
