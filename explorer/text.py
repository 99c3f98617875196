"""What the page says, as Markdown: the model card's metrics with their meaning, the scoreboard's
notes, a latent code in one line, the notes a tab shows when the model changes, and (in HTML) what
shows beside the drawing canvas.

Pure functions of `ModelInfo` and plain values; nothing here touches a model or gradio.
"""

from __future__ import annotations

import html
import json
from typing import Any

from vae_models.cartography import Direction
from vae_models.catalog import ModelInfo
from vae_models.disentanglement import HEADLINE_METRICS
from vae_models.metric_registry import METRICS, TEST_SET_METRICS

PAGE_METRICS = ("test_images", *TEST_SET_METRICS, "training_seconds")  # the card's, with its size and time


def number(value: Any) -> str:
    """A figure as a reader writes it: integers with thousands separators (10,000, not 1e+04), other
    numbers to four significant digits, never in exponent form above 0.001."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) >= 0.001 or value == 0 else f"{value:.2e}"


def metrics_markdown(metrics: dict[str, Any]) -> str:
    """Every metric a reader is shown, with its unit and a line on what it means."""
    rows = ["| metric | value | what it means |", "| --- | --- | --- |"]
    for key in PAGE_METRICS:
        if key in metrics:
            metric, value = METRICS[key], _value(key, metrics[key], metrics.get("class_names"))
            rows.append(f"| {metric.heading} | {value} | {metric.explained} |")
    return "\n".join(rows) if len(rows) > 2 else "_This checkpoint has no metrics.json: it has not been evaluated._"


def _value(key: str, value: Any, class_names: list[str] | None) -> str:
    if key == "training_seconds":
        return number(round(value / 60, 1))
    if isinstance(value, list):  # one figure per class
        pairs = zip(class_names or [], value, strict=False)
        return ", ".join(f"{name}: {number(v)}" for name, v in pairs if v is not None)
    return number(value)


def configs_markdown(info: ModelInfo) -> str:
    text = f"**Model config** (`config.json`)\n\n```json\n{json.dumps(info.config, indent=1)}\n```\n"
    if info.training_config:
        text += f"\n**Training config**\n\n```json\n{json.dumps(info.training_config, indent=1)}\n```\n"
    return text


def card_heading(info: ModelInfo) -> str:
    return f"### {info.summary()}"


# --- the scoreboard -----------------------------------------------------------------------------


def recipe_name(info: ModelInfo) -> str:
    """The scoreboard's recipe as the page labels it ("full", "fast (...)"), or "" without one."""
    provenance = info.scoreboard_provenance or {}
    return str(provenance.get("recipe", {}).get("name", "unrecorded recipe"))


def not_evaluated(infos: list[ModelInfo]) -> str:
    """A line per model of the dataset without a scoreboard, with the command that computes it."""
    return "\n".join(
        f"- **{info.name}**: not evaluated yet: run `python -m train.evaluate {info.folder}`" for info in infos
    )


def scoreboard_note(infos: list[ModelInfo], sentence: str) -> str:
    """Under the scoreboard: which recipe each figure comes from, where the metrics disagree, and
    which models of the dataset have no scoreboard yet."""
    scored = [info for info in infos if info.scoreboard]
    lines = []
    if scored:
        recipes = sorted({recipe_name(info) for info in scored})
        lines.append(f"Mean ± sd over seeds, recipe: {'; '.join(f'**{r}**' for r in recipes)}.")
        if any(r.startswith("fast") for r in recipes):
            lines.append("⚠️ The *fast* recipe uses small samples: its figures are not comparable with the full one.")
        lines.append(sentence)
    missing = [info for info in infos if not info.scoreboard]
    if missing:
        lines.append(not_evaluated(missing))
    return "\n\n".join(lines)


def provenance_markdown(infos: list[ModelInfo]) -> str:
    """Each scored model's provenance (representation, points, discretisation, classifiers, versions)."""
    parts = [
        f"**{info.name}**\n\n```json\n{json.dumps(info.scoreboard_provenance, indent=1)}\n```"
        for info in infos
        if info.scoreboard and info.scoreboard_provenance
    ]
    glossary = "\n".join(f"- **{METRICS[key].title}**: {METRICS[key].rewards}" for key in HEADLINE_METRICS)
    return f"What each metric rewards:\n\n{glossary}\n\n" + ("\n\n".join(parts) or "_No provenance recorded._")


# --- Traverse and the notes of a model switch -----------------------------------------------------


def code_text(code: list[float]) -> str:
    """A latent code in one line, two decimals each: `z = [0.12, −1.30, …]` (not a tall JSON list)."""
    return "Current code: `z = [" + ", ".join(f"{v:.2f}" for v in code) + "]`"


def slider_note(info: ModelInfo) -> str:
    order = "KL" if info.information_name == "KL" else "code variance (this model has no KL)"
    return (
        f"Sliders are ordered by {order}, most informative first; *inactive* ones do nothing. "
        "Labels name the factor a latent moves most (two when the runner-up moves at least half as much)."
    )


def switched(name: str, what: str) -> str:
    """The word a tab shows where the model changed and a result of the previous one was cleared
    (or, on a fresh page, where there is nothing yet)."""
    return f"_Nothing shown for **{name}** yet: {what}_"


def point_text(method: str, base: str, notes: list[str]) -> str:
    """How a clicked map point became a code (through the PCA plane, its other components from
    `base`; on t-SNE the notes say how), then the notes, one sentence each."""
    lead = [f"Decoded through the PCA plane; the other components come from the **{base}**."] if method == "PCA" else []
    return " ".join([*lead, *(f"{note[0].upper()}{note[1:]}." for note in notes)])


def direction_note(direction: Direction, strength: float, weak: float) -> str:
    """What the arithmetic row shows, with the direction's R² and a warning when it is weak."""
    text = f"**{direction.name}**, strength 0 to {strength:+.2f}"
    if direction.r_squared is None:
        return text + " (the difference of the two classes' mean test codes)."
    text += f"; R² of its linear fit on held-out test codes: {direction.r_squared:.2f}."
    if direction.r_squared < weak:
        text += " ⚠️ This model hardly encodes that factor linearly, so the direction is close to aimless."
    return text


def linearity_text(directions: dict[str, Direction], weak: float) -> str:
    """How linearly each factor is encoded, for the model's data (empty when it has no factors)."""
    if not directions:
        return "_This model's data has classes but no ordered factors: use a direction between classes._"
    parts = [f"{name} **{d.r_squared:.2f}**{' ⚠️' if d.r_squared < weak else ''}" for name, d in directions.items()]
    return "How linearly each factor is encoded (R² on held-out test codes): " + " · ".join(parts)


def relabel_note(source: str, target: str) -> str:
    return (
        f"**{source} → {target}**: the conditional VAE holds the class in its label, so the code (the style) "
        "stays and the label blends from one class to the other; the strength does not apply."
    )


def class_reading(class_names: list[str], label: int, probability: float) -> str:
    """What the conditional VAE read an image as, by its own likelihood: "read as a 7, p = 0.93"."""
    name = class_names[label]
    article = "an" if name[:1].lower() in "aeiou8" or name in ("11", "18") else "a"
    return f"read as {article} {name}, p = {probability:.2f} (the model's own likelihood of each class)"


EMPTY_CANVAS = "<p>Draw on the canvas: how the model sees it and its reconstruction appear here.</p>"
CANVAS_BUSY = "<p>The server is busy: this drawing's reconstruction will appear in the panels below.</p>"


def canvas_problem(message: str) -> str:
    """Beside the canvas, why the drawing could not be read."""
    return f"<p class='canvas-problem'>⚠️ {html.escape(message)}</p>"


def canvas_preview(view_url: str, reconstruction_url: str, reading: str) -> str:
    """Beside the canvas: the model's view of the drawing and its reconstruction (image URLs), and
    for the conditional VAE the class it read."""
    figures = "".join(
        f"<figure><img src='{url}' alt='{caption}'><figcaption>{caption}</figcaption></figure>"
        for url, caption in ((view_url, "as the model sees it"), (reconstruction_url, "reconstruction"))
    )
    return f"<div class='canvas-preview'>{figures}</div>" + (f"<p>{html.escape(reading)}</p>" if reading else "")
