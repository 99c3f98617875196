"""The Train tab's callbacks: start, watch, stop and resume training runs (train.live), and make an
evaluated run one of the page's models.

Each visitor's runs are theirs: the service keys them by the browser session, and a run joins the
catalog as a private model that only its session's model picker lists. Small pure functions turn
a run into what the tab shows; the methods of `TrainingTab` are thin.
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from typing import Any

import gradio as gr
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from callbacks import Explorer, display, output_file, user_errors
from train.hub import UPLOAD_IGNORE, push_folder
from train.live import (
    ENDED,
    OUTPUT_NAME,
    PRESETS,
    QUEUED,
    STOPPED,
    TRAINING,
    LiveRun,
    RunRequest,
    TrainingService,
    default_weight,
    progress_line,
)
from vae_models import MODEL_TYPES
from vae_models.catalog import read_info
from vae_models.checkpoint import load_latent_cache
from vae_models.metrics import latents_in_use

LOSS_COLUMNS_SKIPPED = ("step", "epoch", "lr", "images_per_sec")
RUN_HEADERS = ["run", "state", "saved at step", "test reconstruction (nats)", "KL (nats)", "latents in use", "as asked"]
TRAINING_DATASETS = {"digits": "digits", "dSprites": "dsprites", "your images": "folder"}


def weight_label(model_type: str) -> str:
    """The name of the regulariser weight the form sets for this kind of model."""
    return MODEL_TYPES[model_type].regulariser_weight[1]


def weight_field(model_type: str, dataset: str) -> gr.Number:
    """The regulariser weight's field for this model and data: its name and its usual value."""
    value = default_weight(model_type, TRAINING_DATASETS.get(dataset, dataset))
    return gr.Number(value, label=weight_label(model_type))


def loss_figure(log: dict[str, list[float]]) -> go.Figure:
    """Every loss term against the step, each on its own scale (the terms differ by orders)."""
    terms = [key for key in log if key not in LOSS_COLUMNS_SKIPPED]
    figure = make_subplots(rows=1, cols=max(len(terms), 1), subplot_titles=terms or ["waiting for the first steps"])
    for column, term in enumerate(terms, start=1):
        figure.add_trace(go.Scatter(x=log["step"], y=log[term], mode="lines", name=term), row=1, col=column)
    figure.update_layout(height=260, showlegend=False, margin={"t": 40, "b": 30, "l": 40, "r": 10})
    if not terms:  # before the first steps: the title alone, not axes with nothing on them
        figure.update_xaxes(visible=False).update_yaxes(visible=False)
        figure.update_layout(plot_bgcolor="rgba(0,0,0,0)")
    return figure


def information_figure(information: list[float], active: list[bool], unit: str) -> go.Figure:
    colours = ["#3b6fb6" if on else "#b0b0b0" for on in active]
    figure = go.Figure(go.Bar(x=[f"z{i}" for i in range(len(information))], y=information, marker_color=colours))
    figure.update_layout(
        title=f"{unit} per latent (grey: not in use)",
        height=260,
        margin={"t": 40, "b": 30, "l": 40, "r": 10},
    )
    return figure


def run_row(run: LiveRun) -> list[Any]:
    """One run's line in the table of runs: its state and its figures once evaluated."""
    metrics = run.metrics()
    asked = metrics.get("conditional_accuracy")
    return [
        run.title,
        run.state,
        run.saved_step,
        _rounded(metrics.get("reconstruction_nats")),
        _rounded(metrics.get("kl_nats")),
        sum(latents_in_use(metrics.get("kl_per_dim"), metrics["code_variance_per_dim"])) if metrics else "",
        "" if asked is None else f"{asked:.1%}",
    ]


def _rounded(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def runs_figure(runs: list[LiveRun]) -> go.Figure:
    """Evaluated runs side by side: their information per latent above, their test codes (the first
    two principal components, or the two latents themselves) below, over the prior's 1 and 2 sd."""
    shown = [run for run in runs if run.has_model][-4:]
    titles = [run.title for run in shown] + [""] * len(shown)
    figure = make_subplots(
        rows=2,
        cols=max(len(shown), 1),
        subplot_titles=titles or ["no evaluated run yet"],
        row_heights=[0.35, 0.65],
        vertical_spacing=0.08,
    )
    for column, run in enumerate(shown, start=1):
        metrics = run.metrics()
        information = metrics.get("kl_per_dim") or metrics["code_variance_per_dim"]
        names = [f"z{i}" for i in range(len(information))]
        figure.add_trace(go.Bar(x=names, y=information, marker_color="#3b6fb6"), row=1, col=column)
        figure.add_trace(_codes_trace(run, column), row=2, col=column)
        for radius in (1, 2):
            angle = np.linspace(0, 2 * np.pi, 90)
            ring = go.Scatter(x=radius * np.cos(angle), y=radius * np.sin(angle), mode="lines", line={"color": "grey"})
            figure.add_trace(ring, row=2, col=column)
        figure.update_yaxes(title_text="nats" if "kl_per_dim" in metrics else "code variance", row=1, col=column)
        figure.update_yaxes(scaleanchor=f"x{len(shown) + column}", row=2, col=column)  # rings stay round
    figure.update_layout(height=620, showlegend=False, margin={"t": 60, "b": 30, "l": 50, "r": 10})
    figure.update_annotations(font_size=11)
    return figure


def _codes_trace(run: LiveRun, column: int) -> go.Scattergl:
    """The run's test codes coloured by class, with one colour bar for the whole figure."""
    latents = load_latent_cache(run.folder)
    codes = latents["codes"] if latents["codes"].shape[1] == 2 else latents["pca2"]
    marker = {"size": 3, "color": latents["labels"], "colorscale": "Turbo", "showscale": column == 1}
    marker["colorbar"] = {"title": "class", "len": 0.6, "y": 0.3}
    return go.Scattergl(x=codes[:, 0], y=codes[:, 1], mode="markers", marker=marker)


def run_archive(run: LiveRun) -> str:
    """The run's checkpoint as a zip: what load_model and the card need, and its log (not its
    resume state, per-epoch grids, uploaded images or process output)."""
    skipped = (*UPLOAD_IGNORE, OUTPUT_NAME)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(run.folder.iterdir()):
            if path.is_file() and not any(fnmatch.fnmatch(path.name, pattern) for pattern in skipped):
                archive.write(path, f"vae-run-{run.id}/{path.name}")
    return output_file(buffer.getvalue(), ".zip")


class TrainingTab:
    """The Train tab over a `TrainingService`; evaluated runs join the explorer's catalog."""

    def __init__(self, explorer: Explorer, service: TrainingService) -> None:
        self.explorer, self.service = explorer, service
        self.model_names: dict[str, str] = {}  # run id -> its name in the catalog, as last evaluated
        service.on_delete.append(self._forget)

    @user_errors
    def start(
        self,
        model_type: str,
        dataset: str,
        uploads: list[str] | None,
        latent_dim: int,
        weight: float | None,
        steps: int,
        batch_size: int,
        lr: float,
        request: gr.Request,
    ) -> tuple[str, gr.Timer]:
        """Queue one run from the form; it starts when no other run on this server is training."""
        form = RunRequest(
            model_type=model_type,
            dataset=TRAINING_DATASETS.get(dataset, dataset),
            latent_dim=int(latent_dim),
            weight=weight,
            steps=int(steps),
            batch_size=int(batch_size),
            lr=float(lr),
        )
        run = self.service.submit(request.session_hash, form, uploads=uploads or ())
        line = " · ".join([progress_line(run, {}, self.service.place(run)), *run.notes])
        return line, gr.Timer(active=True)

    @user_errors
    def start_preset(self, preset: str, request: gr.Request) -> tuple[str, gr.Timer]:
        """Queue every run of a preset, one after another."""
        if preset not in PRESETS:
            raise ValueError(f"pick a preset from {list(PRESETS)}")
        for form in PRESETS[preset].runs:
            self.service.submit(request.session_hash, form, group=preset)
        return f"queued {len(PRESETS[preset].runs)} runs: {PRESETS[preset].description}", gr.Timer(active=True)

    @user_errors
    def stop(self, request: gr.Request) -> str:
        """Stop the run in training (it keeps what it learned) and take the rest off the queue."""
        runs = [run for run in self.service.runs_of(request.session_hash) if run.state in (QUEUED, TRAINING)]
        if not runs:
            return "nothing of yours is training or queued"
        return " · ".join(self.service.stop(request.session_hash, run.id) for run in reversed(runs))

    @user_errors
    def resume(self, request: gr.Request) -> tuple[str, gr.Timer]:
        """Resume every stopped run, in the order they were started."""
        owner = request.session_hash
        stopped = [run for run in self.service.runs_of(owner) if run.state == STOPPED]
        if not stopped:
            return "no stopped run to resume", gr.skip()
        messages = [self.service.resume(owner, run.id) for run in stopped]
        return messages[-1], gr.Timer(active=True)

    def view(self, request: gr.Request) -> tuple[Any, ...]:
        """Everything live: the current run's line, curves, bars and grids; the table and side-by-side
        figure of the visitor's runs; the model picker once a run is evaluated; and whether to keep polling."""
        runs = self.service.runs_of(request.session_hash)
        if not runs:
            return ("no run yet", *[gr.skip()] * 7, gr.Timer(active=False))
        current = next((run for run in runs if run.state not in ENDED), runs[-1])
        log = current.log()
        snapshot = self.service.snapshot(current)
        live = [gr.skip()] * 3
        if snapshot is not None:
            live = [
                information_figure(snapshot.information, snapshot.active, snapshot.unit),
                display(snapshot.samples, nrow=6),
                display(snapshot.reconstructions, nrow=4),
            ]
        busy = any(run.state not in ENDED for run in runs)
        joined = [self._register(run) for run in runs if run.has_model and run.state in ENDED]
        return (
            f"**{current.title}**  \n{progress_line(current, log, self.service.place(current))}",
            loss_figure(log),
            *live,
            [run_row(run) for run in runs],
            *((self._picker(runs), gr.Plot(runs_figure(runs), visible=True)) if any(joined) else [gr.skip()] * 2),
            gr.Timer(active=busy),
        )

    def close(self, request: gr.Request) -> None:
        """The visitor's page has closed: stop what it was training and drop what it queued."""
        self.service.close_owner(request.session_hash)

    @user_errors
    def download(self, request: gr.Request) -> str:
        return run_archive(self._latest_evaluated(request.session_hash))

    @user_errors
    def push(self, repo_id: str, token: str, request: gr.Request) -> str:
        """Upload the latest evaluated run to the Hub with the visitor's token (never stored)."""
        if not repo_id or "/" not in repo_id:
            raise ValueError("name the Hub repo as OWNER/NAME")
        if not token:
            raise ValueError("paste a Hugging Face token with write access")
        run = self._latest_evaluated(request.session_hash)
        try:
            return f"pushed to {push_folder(run.folder, repo_id.strip(), token=token.strip())}"
        except Exception as err:  # any Hub or network failure is the visitor's to read, not a traceback
            raise ValueError(f"could not push to {repo_id}: {err}") from err

    # --- the catalog ----------------------------------------------------------------------------

    def _latest_evaluated(self, owner: str) -> LiveRun:
        evaluated = [run for run in self.service.runs_of(owner) if run.has_model and run.state in ENDED]
        if not evaluated:
            raise ValueError("no evaluated run yet: train one, or wait for its evaluation to end")
        return evaluated[-1]

    def _picker(self, runs: list[LiveRun]) -> gr.Dropdown:
        """The model picker with this visitor's evaluated runs added."""
        catalog = self.explorer.catalog
        names = catalog.names + [self.model_names[run.id] for run in runs if run.id in self.model_names]
        return gr.Dropdown(choices=[(catalog.info(name).summary(), name) for name in names])

    def _register(self, run: LiveRun) -> bool:
        """Add an evaluated run to the catalog under a name that holds its step (a resumed run
        evaluated again is a new model); True if it joined just now."""
        name = f"{run.name} · step {run.saved_step}"
        if self.model_names.get(run.id) == name:
            return False
        self._forget(run)
        self.explorer.catalog.add(read_info(run.folder, name))
        self.model_names[run.id] = name
        return True

    def _forget(self, run: LiveRun) -> None:
        if (name := self.model_names.pop(run.id, None)) is not None:
            self.explorer.forget(name)
