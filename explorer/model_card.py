"""Model card: what the model is, its information per latent, its metrics on the test set, and for
data with labelled factors the disentanglement scoreboard of every model of that data."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from vae_models.catalog import ModelInfo
from vae_models.disentanglement import HEADLINE_METRICS, disagreements, scoreboard_rows
from vae_models.metric_registry import METRICS

from . import figures, text
from .common import user_errors
from .components import Tab
from .page import Page

SCOREBOARD_HEADERS = ["model", "recipe", *(METRICS[key].title for key in HEADLINE_METRICS)]
SCOREBOARD_TITLES = {key: METRICS[key].title for key in HEADLINE_METRICS}


def information_chart(info: ModelInfo) -> Any:
    """Each latent's information (KL, or code variance for the WAE), inactive ones greyed; None unevaluated."""
    if info.information_per_latent is None:
        return None
    values, axis_title = info.information_per_latent
    return figures.kl_bar_chart(values, [not inactive for inactive in info.inactive], axis_title)


def mutual_information_chart(info: ModelInfo) -> Any:
    """The latent × factor mutual information, for data with labelled factors (dSprites); else None."""
    if info.mutual_information is None:
        return None
    matrix, entropy = info.mutual_information
    return figures.mutual_information_heatmap(matrix, info.factor_names, entropy)


def scoreboard_table(infos: list[ModelInfo]) -> list[list[Any]]:
    """One row per model of the dataset: its recipe and "mean ± sd" per metric, or "not evaluated"."""
    boards = {info.name: info.scoreboard for info in infos if info.scoreboard}
    rows = {row[0]: row for row in scoreboard_rows(boards)}
    missing = ["not evaluated"] + ["–"] * (len(HEADLINE_METRICS) - 1)
    return [
        [info.name, text.recipe_name(info), *rows[info.name][1:]] if info.name in rows else [info.name, "–", *missing]
        for info in infos
    ]


class Card(NamedTuple):
    heading: str
    information: Any
    mutual_information: Any
    metrics: str
    configs: str


class Scores(NamedTuple):
    table: Any
    chart: Any
    note: str
    provenance: str


class FactorPanels(NamedTuple):
    """Whether to show the panels only data with factors fills (hidden, never left empty)."""

    scoreboard: bool
    mutual_information: bool
    chart: bool


class ModelCardTab(Tab):
    id, title = "model-card", "Model card"

    def layout(self, page: Page) -> None:
        self.heading = gr.Markdown()
        with gr.Row():
            self.information = gr.Plot(label="Information per latent")
            self.mutual_information = gr.Plot(label="Latent × factor mutual information")
        with gr.Column(visible=False) as self.scoreboard_box:
            gr.Markdown("#### Disentanglement scoreboard: every model of this data")
            # Model and recipe wide enough to read, then the eight metrics side by side (no scrolling at 1400 px).
            widths = ["14%", "6%", *["10%"] * 8]
            self.table = gr.Dataframe(
                label="Scoreboard", interactive=False, wrap=True, column_widths=widths, elem_classes="scoreboard"
            )
            self.chart = gr.Plot(label="Scoreboard chart")
            self.note = gr.Markdown()
            with gr.Accordion("How the scoreboard was computed (provenance)", open=False):
                self.provenance = gr.Markdown()
        gr.Markdown("#### Metrics on the test set")
        self.metrics = gr.Markdown()
        with gr.Accordion("Model and training configs", open=False):
            self.configs = gr.Markdown()
        self.card_endpoint, self.scores_endpoint = gr.Button(visible=False), gr.Button(visible=False)
        self.refreshed = [*self.panels(Card), *self.panels(Scores), self.scoreboard_box]

    def wire(self, page: Page) -> None:
        public = {"api_visibility": "public"}
        self.card_endpoint.click(
            self.as_panels(self.model_card), [page.model], self.panels(Card), api_name="model_card", **public
        )
        self.scores_endpoint.click(
            self.as_panels(self.scores), [page.model], self.panels(Scores), api_name="scoreboard", **public
        )

    @user_errors
    def model_card(self, name: str) -> Card:
        """The card: heading, the two charts, the metrics with their meaning, and the configs."""
        info = self.explorer.catalog.info(name)
        return Card(
            text.card_heading(info),
            information_chart(info),
            mutual_information_chart(info),
            text.metrics_markdown(info.metrics),
            text.configs_markdown(info),
        )

    @user_errors
    def scores(self, name: str) -> Scores:
        """Every model of `name`'s data side by side on the disentanglement metrics: the table, the
        chart, a note (recipe, where the metrics disagree, who is not evaluated) and the provenance."""
        infos = [self.explorer.catalog.info(n) for n in self.explorer.catalog.same_data(name)]
        boards = {info.name: info.scoreboard for info in infos if info.scoreboard}
        if not self.has_scoreboard(name):
            return Scores(
                None, None, f"_{infos[0].dataset} has no labelled factors: no disentanglement scoreboard._", ""
            )
        chart = figures.scoreboard_chart(boards, HEADLINE_METRICS, SCOREBOARD_TITLES) if boards else None
        note = text.scoreboard_note(infos, disagreements(boards) if boards else "")
        table = {"headers": SCOREBOARD_HEADERS, "data": scoreboard_table(infos)}
        return Scores(table, chart, note, text.provenance_markdown(infos))

    def factor_panels(self, name: str) -> FactorPanels:
        infos = [self.explorer.catalog.info(n) for n in self.explorer.catalog.same_data(name)]
        scored = any(info.scoreboard for info in infos)
        has_mi = self.explorer.catalog.info(name).mutual_information is not None
        return FactorPanels(self.has_scoreboard(name), has_mi, scored)

    def has_scoreboard(self, name: str) -> bool:
        """Whether `name`'s data has labelled factors, so that its models can be scored on them."""
        catalog = self.explorer.catalog
        return any(catalog.info(n).factor_names for n in catalog.same_data(name))

    def refresh(self, name: str, values: dict) -> dict:
        shown, card, scores = self.factor_panels(name), self.model_card(name), self.scores(name)
        mutual_information = gr.Plot(card.mutual_information, visible=shown.mutual_information)
        return (
            self.named(card._replace(mutual_information=mutual_information))
            | self.named(scores._replace(chart=gr.Plot(scores.chart, visible=shown.chart)))
            | {self.scoreboard_box: gr.Column(visible=shown.scoreboard)}
        )
