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

import numpy as np
import safetensors
import torch
from torchvision.utils import save_image

from vae_models import load_model
from vae_models.data import load_dataset
from vae_models.latent import traversal_codes
from vae_models.metrics import dominant_factors, kl_order

from .checkpointing import STATE_NAME
from .trainer import TRAINING_CONFIG_NAME, save_reconstructions

SHIPPED_FILES = ("config.json", "model.safetensors", "metrics.json", "latents.safetensors", TRAINING_CONFIG_NAME)
TRAVERSAL_STEPS = 9

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
METRIC_ROWS = (
    ("reconstruction_nats", "test reconstruction error (nats/image)"),
    ("negative_elbo_nats", "test negative ELBO (nats/image)"),
    ("iwae_nll_nats", "test NLL, importance-weighted (nats/image)"),
    ("kl_nats", "KL(q(z\\|x) ‖ p(z)) (nats/image)"),
    ("active_units", "active units (code variance > 0.01)"),
    ("mmd_aggregate_posterior", "MMD² of aggregate posterior vs prior"),
    ("mig", "MIG (disentanglement_lib protocol)"),
    ("reconstruction_accuracy", "test reconstructions the judge gives their image's class"),
    ("reconstruction_accuracy_per_class", "… by class"),
    ("reconstruction_iou", "test reconstructions' pixel overlap with their image (IoU)"),
    ("reconstruction_iou_per_class", "… by class"),
    ("conditional_accuracy", "class-conditioned samples classified as asked"),
    ("sample_frechet_distance", "sample Fréchet distance (classifier features)"),
    ("classifier_test_accuracy", "judge classifier's test accuracy"),
)


def training_seconds(run_dir: Path) -> float:
    with safetensors.safe_open(str(run_dir / STATE_NAME), framework="pt") as f:
        return json.loads(f.metadata()["progress"])["elapsed_seconds"]


def last_grid(run_dir: Path, kind: str) -> Path:
    grids = sorted(run_dir.glob(f"{kind}_epoch*.png"))
    if not grids:
        raise FileNotFoundError(f"no {kind}_epoch*.png in {run_dir}")
    return grids[-1]


def write_traversal(model: Any, metrics: dict, path: Path) -> list[int]:
    """One row per active latent (most informative first), swept over ±3 from the zero code."""
    ranked = kl_order(metrics.get("kl_per_dim") or metrics["code_variance_per_dim"])
    dims = [d for d in ranked if metrics["code_variance_per_dim"][d] > 0.01] or ranked[:1]
    codes = traversal_codes(torch.zeros(model.latent_dim), dims, TRAVERSAL_STEPS)
    extra = {"labels": torch.zeros(len(codes), dtype=torch.long)} if model.model_type == "cvae" else {}
    with torch.inference_mode():
        images = model.decode(codes, **extra)
    save_image(images.float(), path, nrow=TRAVERSAL_STEPS, pad_value=0.5)
    return dims


def publish(run_dir: Path, dest: Path) -> Path:
    """Copy a finished run into `dest` and write its card. With `dest` the run folder itself (a shipped
    checkpoint evaluated again), only the reconstruction and traversal grids and the card are rewritten."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / TRAINING_CONFIG_NAME).read_text())
    if not (dest.exists() and dest.samefile(run_dir)):
        metrics["training_seconds"] = round(training_seconds(run_dir), 1)
        dest.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED_FILES:
            shutil.copyfile(run_dir / name, dest / name)
        (dest / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        shutil.copyfile(last_grid(run_dir, "samples"), dest / "samples.png")
    model = load_model(dest, device="cpu")
    data = config["data"]
    test_set = load_dataset(data["name"], "test", root=data["root"], download=False)
    save_reconstructions(model, test_set, dest / "reconstructions.png")
    dims = write_traversal(model, metrics, dest / "traversal.png")
    card = model_card(dest.name, config, metrics, metrics["training_seconds"], dims)
    (dest / "README.md").write_text(card, encoding="utf-8")
    return dest


def training_length(train: dict) -> str:
    """What bounded the run: `max_steps`, when set, ends it before `epochs` would."""
    if train.get("max_steps"):
        return f"{train['max_steps']:,} steps"
    return f"{train['epochs']} epochs"


def model_card(name: str, config: dict, metrics: dict, seconds: float, traversal_dims: list[int]) -> str:
    model_type, dataset = config["model"]["type"], config["data"]["name"]
    title, paper = MODEL_NAMES[model_type]
    train = config["train"]
    sections = [
        _front_matter(model_type, dataset),
        f"# {name}\n\nA {title} ({paper}) trained on {DATASET_TEXT.get(dataset, dataset)}.",
        "## Use\n\n```python\nfrom vae_models import load_model\n\n"
        f'model = load_model("checkpoints/{name}")  # or a Hub repo id\n```\n\n'
        "Only `config.json` and `model.safetensors` are read; nothing is unpickled.",
        "## Training\n\n"
        # training_config.json is the whole resolved config, overrides included, so this is exact.
        f"```bash\npython -m train checkpoints/{name}/{TRAINING_CONFIG_NAME}\n```\n\n"
        f"Model: `{json.dumps(config['model'])}`.  \n"
        f"Optimiser: Adam, lr {train['lr']}, {train['schedule']} schedule, batch {train['batch_size']}, "
        f"{training_length(train)}, seed {config['seed']}, precision `{train['precision']}`.  \n"
        f"Wall time: **{seconds / 60:.1f} minutes** of training on 2 CPU cores, measured while other jobs "
        "shared them (an upper bound; `python -m benchmarks` has throughput on an idle machine).",
        "## Metrics\n\nOn the test set, measured by `python -m train.evaluate runs/"
        f"{name}` (written to `metrics.json`).\n\n{_metrics_table(metrics)}",
        "## Samples\n\n![prior samples](samples.png)\n\n"
        "## Reconstructions\n\nEach input is followed by its reconstruction.\n\n"
        "![reconstructions](reconstructions.png)",
        _latents_section(metrics, traversal_dims),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _front_matter(model_type: str, dataset: str) -> str:
    tags = ["vae", model_type, dataset, "pytorch_model_hub_mixin", "model_hub_mixin"]
    lines = ["---", "library_name: pytorch", "license: mit", "tags:", *(f"- {t}" for t in tags), "---"]
    return "\n".join(lines)


def _metrics_table(metrics: dict) -> str:
    rows = ["| metric | value |", "| --- | --- |"]
    for key, label in METRIC_ROWS:
        if key in metrics:
            rows.append(f"| {label} | {_metric_value(metrics[key], metrics.get('class_names'))} |")
    return "\n".join(rows)


def _metric_value(value: Any, class_names: list[str] | None) -> str:
    if isinstance(value, list):  # one figure per class
        return ", ".join(f"{name}: {v:.2f}" for name, v in zip(class_names or [], value, strict=True) if v is not None)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


ENTANGLED_SHARE = 0.5  # below this, no latent can be said to "be" a factor
COLLAPSED_KL = 0.1  # nats: a latent below this says next to nothing about the image


def _latents_section(metrics: dict, traversal_dims: list[int]) -> str:
    header = (
        "## Latents\n\nEach row of the grid sweeps one active latent from −3 to +3 (most informative first, "
        f"the others at 0): latents {', '.join(f'z{d}' for d in traversal_dims)}.\n\n![traversal](traversal.png)"
    )
    if "mutual_information" not in metrics:
        return header
    names = metrics["factor_names"]
    variances = metrics["code_variance_per_dim"]
    kl = metrics.get("kl_per_dim") or [float("nan")] * len(variances)
    dominant = dominant_factors(np.array(metrics["mutual_information"]), np.array(metrics["factor_entropy"]))
    rows = [
        "| latent | KL (nats) | moves most | share of that factor's entropy | runner-up, its share |",
        "| --- | --- | --- | --- | --- |",
    ]
    for dim in traversal_dims:
        factor, share, runner_up, second = dominant[dim]
        runner_up_text = "–" if runner_up is None else f"{names[runner_up]} {second:.2f}"
        rows.append(f"| z{dim} | {kl[dim]:.2f} | {names[factor]} | {share:.2f} | {runner_up_text} |")
    others = [d for d in range(len(variances)) if d not in traversal_dims]
    quiet = [d for d in others if kl[d] >= COLLAPSED_KL]
    collapsed = [f"z{d}" for d in others if d not in quiet]
    note = ""
    if quiet:
        described = ", ".join(
            f"z{d} (KL {kl[d]:.2f} nats; {names[dominant[d][0]]} {dominant[d][1]:.2f})" for d in quiet
        )
        note += (
            "\n\nInformative, but with means that barely move (code variance ≤ 0.01), so left out of the "
            f"±3 sweep: {described}."
        )
    if collapsed:
        note += f"\n\nInactive (collapsed to the prior): {', '.join(collapsed)}."
    largest = max(dominant[dim][1] for dim in traversal_dims)
    if largest < ENTANGLED_SHARE:
        note += (
            f"\n\nNo latent holds more than {largest:.0%} of any factor's entropy: the factors are entangled, "
            "so each slider moves several of them at once."
        )
    return (
        f"{header}\n\nWhat each active latent encodes, from the latent × factor mutual information "
        f"(normalised by the factor's entropy):\n\n" + "\n".join(rows) + note
    )


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
        metrics = json.loads((folder / "metrics.json").read_text())
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
        print(summary_table(args.folders))
        return 0
    if len(args.folders) > 2:
        parser.error("publish takes RUN_DIR and an optional DEST")
    run_dir = args.folders[0]
    try:
        dest = publish(run_dir, args.folders[1] if len(args.folders) == 2 else Path("checkpoints") / run_dir.name)
    except (OSError, KeyError, ValueError) as err:
        print(f"error: cannot publish {run_dir}: {err}", file=sys.stderr)
        return 1
    print(f"published {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
