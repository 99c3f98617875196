"""python -m train.evaluate CHECKPOINT_DIR [--fast] [--disentanglement-only]: write metrics.json
and the app's latent cache.

The dataset comes from the run's training_config.json. Every figure in a model card
comes from this command. On data with generative factors (dSprites) it also computes the
disentanglement scoreboard over three seeds, with the full recipe or, with --fast, on small
samples that are labelled as such; --disentanglement-only adds the scoreboard to an evaluated
checkpoint and leaves its other figures as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from vae_models import BaseVAE, ModelLoadError, load_model
from vae_models.checkpoint import METRICS_NAME, read_metrics, read_training_config, save_latent_cache, write_json
from vae_models.classifier import ImageClassifier, train_classifier
from vae_models.data import DatasetUnavailableError, ImageDataset
from vae_models.disentanglement import FAST_RECIPE, FULL_RECIPE, Recipe, factor_encoder, provenance, scoreboard
from vae_models.latent import pca_projection, tsne_projection
from vae_models.metrics import (
    aggregate_posterior_mmd,
    decode_all,
    encode_all,
    frechet_distance,
    is_binary,
    likelihood_metrics,
    mig,
    overlap,
)

from .checkpointing import write_atomically
from .config import DataSection

MAX_CLASSIFIER_IMAGES = 20_000
MAX_LIKELIHOOD_IMAGES = 2_000
FRECHET_SAMPLES = 2_000


def stack(dataset: ImageDataset, limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to `limit` images and labels of a dataset as two tensors (a seeded random subset)."""
    if limit is None or limit >= len(dataset):
        return dataset.batch()
    return dataset.batch(torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:limit])


def evaluate_checkpoint(
    folder: str | Path,
    *,
    config: dict[str, Any] | None = None,
    device: str = "auto",
    recipe: Recipe = FULL_RECIPE,
    judges: Path | None = None,
) -> dict:
    """Every metric of a checkpoint, written to its metrics.json, and its latent cache; the
    disentanglement scoreboard (with `recipe`) for data with generative factors. The judge is
    kept in and read back from `judges` when given (`judge_classifier`)."""
    folder = Path(folder)
    config = config or read_training_config(folder)
    started = time.perf_counter()
    torch.manual_seed(config["seed"])
    model = load_model(folder, device=device)
    data = DataSection(**config["data"])
    train_set = data.load("train", download=False)
    test_set = data.load("test", download=False)
    test_images, test_labels = stack(test_set)

    metrics: dict[str, Any] = {
        "dataset": data.name,
        "class_names": list(test_set.class_names),
        "test_images": len(test_images),
    }
    subset = slice(0, MAX_LIKELIHOOD_IMAGES)
    metrics |= likelihood_metrics(model, test_images[subset], test_labels[subset])
    metrics["mmd_aggregate_posterior"] = aggregate_posterior_mmd(model, test_images, test_labels)
    codes = encode_all(model, test_images, test_labels)
    if test_set.factors is not None:
        metrics |= mig(codes.numpy(), test_set.factors.numpy())
        metrics["factor_names"] = list(test_set.factor_names)
        metrics |= disentanglement_metrics(model, test_set, recipe)
    classifier = judge_classifier(train_set, seed=config["seed"], cache=judges)
    reconstructions = decode_all(model, codes, test_labels)
    num_classes = len(test_set.class_names)
    if data.name != "dsprites":
        # On dSprites the judge, trained on exact binary sprites, calls a square with softened
        # corners a heart, and so any blob: it cannot say there whether a reconstruction is faithful.
        metrics |= reconstruction_verdicts(classifier.predict(reconstructions), test_labels, num_classes)
    if is_binary(test_images):
        metrics |= reconstruction_overlap(test_images, reconstructions, test_labels, num_classes)
    metrics |= classifier_verdicts(model, classifier, test_images, test_labels, seed=config["seed"])
    metrics["evaluation_seconds"] = round(time.perf_counter() - started, 1)

    write_latent_cache(folder, codes.numpy(), test_labels.numpy(), test_set.factors)
    metrics |= _published_training_time(folder)
    write_json(folder / METRICS_NAME, metrics)
    return metrics


def disentanglement_metrics(model: BaseVAE, dataset: ImageDataset, recipe: Recipe) -> dict[str, Any]:
    """The scoreboard of every disentanglement metric over the recipe's seeds, and how it was made."""
    started = time.perf_counter()
    encode = factor_encoder(model, dataset.render_factors, dataset.label_factor)
    board = scoreboard(encode, dataset.factor_sizes, dataset.continuous_factors, recipe)
    record = provenance(recipe, dataset.factor_names, dataset.continuous_factors)
    record["seconds"] = round(time.perf_counter() - started, 1)
    return {"disentanglement": board, "disentanglement_provenance": record}


def add_disentanglement(folder: str | Path, *, device: str = "auto", recipe: Recipe = FULL_RECIPE) -> dict:
    """Compute the scoreboard of an evaluated checkpoint and add it to its metrics.json, leaving every
    other figure as it was (evaluating again would redraw them with a judge trained anew)."""
    folder = Path(folder)
    config = read_training_config(folder)
    torch.manual_seed(config["seed"])
    data = DataSection(**config["data"])
    test_set = data.load("test", download=False)
    if not test_set.factor_sizes:
        raise ValueError(f"{data.name} has no generative factors, so it has no disentanglement metrics")
    metrics = read_metrics(folder) | disentanglement_metrics(load_model(folder, device=device), test_set, recipe)
    write_json(folder / METRICS_NAME, metrics)
    return metrics


def judge_classifier(train_set: ImageDataset, seed: int, cache: Path | None = None) -> ImageClassifier:
    """An independent classifier, trained on (up to 20,000) real training images only.

    Training is deterministic, so with `cache` the judge is kept there under a digest of its
    training images and seed, and read back for the next model of the same data: the page
    evaluates every run it trains, and training the judge took most of that time."""
    images, labels = stack(train_set, MAX_CLASSIFIER_IMAGES, seed)
    num_classes = len(train_set.class_names)
    if cache is None:
        return train_classifier(images, labels, num_classes, seed=seed)
    digest = hashlib.sha256(images.numpy().tobytes() + labels.numpy().tobytes() + str(seed).encode())
    path = Path(cache) / f"judge-{digest.hexdigest()[:20]}.safetensors"
    if path.exists():
        judge = ImageClassifier(images.shape[1], num_classes)
        judge.load_state_dict(safetensors.torch.load_file(str(path)))
        return judge.eval()
    judge = train_classifier(images, labels, num_classes, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: safetensors.torch.save_file(judge.state_dict(), str(tmp)))
    return judge


def reconstruction_verdicts(judged: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict[str, Any]:
    """The share of test reconstructions the judge gives their image's class, overall and by class
    (None for a class the test set lacks)."""
    correct = (judged == labels).float()
    return {
        "reconstruction_accuracy": correct.mean().item(),
        "reconstruction_accuracy_per_class": per_class_means(correct, labels, num_classes),
    }


def reconstruction_overlap(
    images: torch.Tensor, reconstructions: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> dict[str, Any]:
    """The mean pixel overlap (IoU) of test reconstructions with their images, overall and by class."""
    iou = overlap(images, reconstructions)
    return {
        "reconstruction_iou": iou.mean().item(),
        "reconstruction_iou_per_class": per_class_means(iou, labels, num_classes),
    }


def per_class_means(values: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float | None]:
    """The mean of a per-image figure over each class's images; None for a class with none."""
    return [values[labels == c].mean().item() if (labels == c).any() else None for c in range(num_classes)]


def classifier_verdicts(
    model: BaseVAE, classifier: ImageClassifier, test_images: torch.Tensor, test_labels: torch.Tensor, seed: int
) -> dict[str, float]:
    """The judge's accuracy on real test images; for a conditional model, the share of its samples
    it gives the class asked for; and the Fréchet distance of prior samples to test images in its
    features. Every model is asked for the classes in turn; an unconditional one ignores them."""
    asked = torch.arange(FRECHET_SAMPLES) % classifier.head.out_features
    result = {"classifier_test_accuracy": _accuracy(classifier.predict(test_images), test_labels)}
    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        samples = model.sample(FRECHET_SAMPLES, model.device, labels=asked.to(model.device), generator=generator).cpu()
    if model.is_conditional:
        result["conditional_accuracy"] = _accuracy(classifier.predict(samples), asked)
    real = classifier.embed(test_images).numpy()
    fake = classifier.embed(samples.float()).numpy()
    result["sample_frechet_distance"] = frechet_distance(real, fake)
    return result


def _accuracy(predicted: torch.Tensor, expected: torch.Tensor) -> float:
    return (predicted == expected).float().mean().item()


def _published_training_time(folder: Path) -> dict[str, float]:
    """A shipped checkpoint's metrics.json also holds its training wall time, which evaluating
    again must keep: it cannot be measured again without retraining."""
    previous = read_metrics(folder)
    return {"training_seconds": previous["training_seconds"]} if "training_seconds" in previous else {}


def write_latent_cache(folder: Path, codes: np.ndarray, labels: np.ndarray, factors: torch.Tensor | None) -> None:
    pca2, explained2, _ = pca_projection(codes, 2)
    pca3, explained3, _ = pca_projection(codes, 3)
    arrays = {
        "codes": codes.astype(np.float32),
        "labels": labels,
        "pca2": pca2.astype(np.float32),
        "pca2_explained": explained2.astype(np.float32),
        "pca3": pca3.astype(np.float32),
        "pca3_explained": explained3.astype(np.float32),
        "tsne": tsne_projection(codes).astype(np.float32),
    }
    if factors is not None:
        arrays["factors"] = factors.numpy()
    save_latent_cache(folder, **arrays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__)
    parser.add_argument("checkpoint", help="a folder written by python -m train")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--fast", action="store_true", help="the disentanglement metrics on small samples (for CI; labelled as such)"
    )
    parser.add_argument(
        "--disentanglement-only",
        action="store_true",
        help="add the disentanglement scoreboard to an evaluated checkpoint, keeping its other figures",
    )
    parser.add_argument("--judge-cache", type=Path, metavar="DIR", help="keep the judge classifier here, for reuse")
    args = parser.parse_args(argv)
    recipe = FAST_RECIPE if args.fast else FULL_RECIPE
    try:
        if args.disentanglement_only:
            metrics = add_disentanglement(args.checkpoint, device=args.device, recipe=recipe)
        else:
            metrics = evaluate_checkpoint(args.checkpoint, device=args.device, recipe=recipe, judges=args.judge_cache)
    except (ModelLoadError, DatasetUnavailableError, OSError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, list | dict)}, indent=2))
    if "disentanglement" in metrics:
        print(json.dumps({k: v["mean"] for k, v in metrics["disentanglement"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
