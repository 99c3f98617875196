"""python -m benchmarks.arithmetic: is latent arithmetic real on the shipped models?

- dSprites (`betatc_vae-dsprites`): directions "move right" (posX) and "bigger" (scale) are learnt by
  least squares from test codes 500 onwards; applied at one standard deviation to the first 500
  test images, how often does the decoded sprite's centre of mass move right, and its area grow?
  Each factor's R² on held-out codes is printed too.
- digits (`vanilla_vae-digits`): the "3 → 8" class direction, learnt from the training codes, at
  full strength on the test 3s: how often does the independent digits judge (benchmarks.judge,
  never used to train or pick a model) call the result an 8?
"""

from __future__ import annotations

from pathlib import Path

import torch

from vae_models import cartography, explore, load_model
from vae_models.checkpoint import load_latent_cache
from vae_models.classifier import ImageClassifier
from vae_models.data import DSPRITES_FACTOR_NAMES, load_dataset
from vae_models.data.dsprites import DSPRITES_FACTOR_MOVES

from .judge import digits_judge

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
MOVED = 500  # test images moved; the directions come from the others


def centre_of_mass_x(images: torch.Tensor) -> torch.Tensor:
    columns = torch.arange(images.shape[-1], dtype=torch.float32)
    return (images[:, 0].sum(1) * columns).sum(1) / images[:, 0].sum((1, 2)).clamp_min(1e-6)


def dsprites_moves(name: str = "betatc_vae-dsprites") -> dict[str, float]:
    """Shares of the moved test images whose sprite moved right / grew, and every factor's R²."""
    model, cache = load_model(CHECKPOINTS / name, device="cpu"), load_latent_cache(CHECKPOINTS / name)
    codes, labels = torch.as_tensor(cache["codes"][:MOVED]), torch.as_tensor(cache["labels"][:MOVED])
    moves = {k: DSPRITES_FACTOR_MOVES[n] for k, n in enumerate(DSPRITES_FACTOR_NAMES) if n in DSPRITES_FACTOR_MOVES}
    directions = cartography.factor_directions(cache["codes"][MOVED:], cache["factors"][MOVED:], moves)
    before = explore.decode(model, codes, labels)

    def moved(direction: str) -> torch.Tensor:
        return explore.decode(model, codes + torch.as_tensor(directions[direction].vector).float(), labels)

    result = {f"R² {n}": d.r_squared for n, d in directions.items()}
    result["moved right"] = float((centre_of_mass_x(moved("move right")) > centre_of_mass_x(before)).float().mean())
    result["grew"] = float((moved("bigger").sum((1, 2, 3)) > before.sum((1, 2, 3))).float().mean())
    return result


def three_to_eight(judge: ImageClassifier, name: str = "vanilla_vae-digits") -> float:
    """Share of the test 3s that the judge calls an 8 after the full "3 → 8" step."""
    model = load_model(CHECKPOINTS / name, device="cpu")
    train_images, train_labels = load_dataset("digits", "train", download=False).batch()
    codes = explore.encode(model, train_images)
    direction = cartography.class_direction(codes.numpy(), train_labels.numpy(), 3, 8, "3 → 8")
    test_images, test_labels = load_dataset("digits", "test", download=False).batch()
    threes = explore.encode(model, test_images[test_labels == 3])
    eights = explore.decode(model, threes + torch.as_tensor(direction.vector, dtype=torch.float32))
    return float((judge.predict(eights) == 8).float().mean())


def main() -> None:
    torch.manual_seed(0)
    for key, value in dsprites_moves().items():
        print(f"betatc_vae-dsprites {key}: {value:.3f}")
    judge = digits_judge()
    test_images, test_labels = load_dataset("digits", "test", download=False).batch()
    print(f"judge test accuracy: {float((judge.predict(test_images) == test_labels).float().mean()):.3f}")
    print(f"vanilla_vae-digits 3 → 8 read as 8: {three_to_eight(judge):.3f}")


if __name__ == "__main__":
    main()
