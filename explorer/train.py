"""Train: start, watch, stop and resume training runs (train.live), and make an evaluated run one of
the page's models.

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

from .common import display, output_file, user_errors
from .components import IMAGE_TYPES, UI_ONLY, Tab, picture, reveal
from .page import Page
from .state import Explorer

LIVE_SECONDS = 1.5  # how often the Train tab asks for news of a run: updates stay under 3 s apart with jitter
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


class TrainingTab(Tab):
    """The Train tab over a `TrainingService`; evaluated runs join the explorer's catalog."""

    id, title = "train", "Train"

    def __init__(self, explorer: Explorer, service: TrainingService) -> None:
        super().__init__(explorer)
        self.service = service
        self.model_names: dict[str, str] = {}  # run id -> its name in the catalog, as last evaluated
        # run id -> (log rows, checkpoint time) its page was last sent: each poll sends the curves and
        # the grids only when they changed, so a training run costs the sliders little
        self.sent: dict[str, tuple] = {}
        service.on_delete.append(self._forget)

    def layout(self, page: Page) -> None:
        gr.Markdown(
            "Train a VAE here and watch it learn. A run takes one core; one run trains at a time on this server "
            "and others wait their turn. Your runs are yours alone, and an evaluated run joins the model picker "
            "above, so every tab works on it."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                self.preset = gr.Dropdown(list(PRESETS), value=None, label="Preset: runs that teach one thing")
                self.preset_button = gr.Button("Train the preset's runs")
                self.form = training_form()
                with gr.Row():
                    self.start_button = gr.Button("Train", variant="primary")
                    self.stop_button = gr.Button("Stop")
                    self.resume_button = gr.Button("Resume")
                self.status = page.status()
                self.line = gr.Markdown("no run yet", elem_id="training-line")
            with gr.Column(scale=2):
                # A figure from the start, so the browser loads plotly when the tab opens, not while
                # the first steps arrive (it held the page's thread 1.3 s then, and the timer's ticks).
                self.curves = gr.Plot(loss_figure({}), label="Loss terms", elem_id="training-curves")
                self.bars = gr.Plot(label="Information per latent")
                with gr.Row():
                    self.samples = picture("Prior samples", height=300)
                    self.reconstructions = picture("Test images and their reconstructions", height=300)
        self.runs = gr.Dataframe(headers=RUN_HEADERS, label="Your runs", interactive=False, elem_id="training-runs")
        self.compared = gr.Plot(label="Your evaluated runs side by side", visible=False)
        with gr.Row():
            self.download_button = gr.Button("Download the latest evaluated run (zip)")
            self.archive = gr.File(label="Run", visible=False)
        with gr.Accordion("Push the latest evaluated run to the Hugging Face Hub", open=False):
            self.repo_id = gr.Textbox(label="Repo (OWNER/NAME)")
            self.token = gr.Textbox(label="Token with write access (used once, never stored)", type="password")
            self.push_button = gr.Button("Push")
            self.pushed = gr.Markdown()
        self.timer = gr.Timer(LIVE_SECONDS, active=False)
        self.picker = page.model

    def wire(self, page: Page) -> None:
        started = [self.line, self.timer]
        page.report(self.start_button.click(self.start, self.form, started, api_name="train"), self.status)
        preset = self.preset_button.click(self.start_preset, [self.preset], started, api_name="train_preset")
        page.report(preset, self.status)
        page.report(self.stop_button.click(self.stop, None, [self.line], api_name="train_stop"), self.status)
        page.report(self.resume_button.click(self.resume, None, started, api_name="train_resume"), self.status)
        live = [self.line, self.curves, self.bars, self.samples, self.reconstructions, self.runs, self.picker]
        self.timer.tick(self.view, None, [*live, self.compared, self.timer], api_name="train_status", queue=False)
        download = self.download_button.click(self.download, None, [self.archive], api_name="train_download")
        page.report(download, self.status)
        reveal([self.download_button.click], self.archive)
        pushed = self.push_button.click(self.push, [self.repo_id, self.token], [self.pushed], api_name="train_push")
        page.report(pushed, self.status)
        page.demo.unload(self.close)

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

    def view(self, request: gr.Request) -> dict:
        """Everything live: the current run's line, curves, bars and grids; the table and side-by-side
        figure of the visitor's runs; the model picker once a run is evaluated; and whether to keep polling."""
        runs = self.service.runs_of(request.session_hash)
        if not runs:
            return {self.line: "no run yet", self.timer: gr.Timer(active=False)}
        current = next((run for run in runs if run.state not in ENDED), runs[-1])
        log = current.log()
        updates = {
            self.line: f"**{current.title}**  \n{progress_line(current, log, self.service.place(current))}",
            self.runs: [run_row(run) for run in runs],
            self.timer: gr.Timer(active=any(run.state not in ENDED for run in runs)),
        }
        return updates | self._changed(current, log) | self._joined(runs)

    def _changed(self, run: LiveRun, log: dict[str, list[float]]) -> dict:
        """The curves and the grids, where they changed since the page was last sent them."""
        snapshot = self.service.snapshot(run)
        stamp = (len(log.get("step", [])), run.snapshot_cache[0] if run.snapshot_cache else None)
        sent, self.sent[run.id] = self.sent.get(run.id, (None, None)), stamp
        updates = {self.curves: loss_figure(log)} if stamp[0] != sent[0] else {}
        if snapshot is not None and stamp[1] != sent[1]:
            updates[self.bars] = information_figure(snapshot.information, snapshot.active, snapshot.unit)
            updates[self.samples] = display(snapshot.samples, nrow=6)
            updates[self.reconstructions] = display(snapshot.reconstructions, nrow=4)
        return updates

    def _joined(self, runs: list[LiveRun]) -> dict:
        """The model picker and the side-by-side figure, once a run has just joined the catalog."""
        if any([self._register(run) for run in runs if run.has_model and run.state in ENDED]):
            return {self.picker: self._picker(runs), self.compared: gr.Plot(runs_figure(runs), visible=True)}
        return {}

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
        self.sent.pop(run.id, None)
        if (name := self.model_names.pop(run.id, None)) is not None:
            self.explorer.forget(name)


def training_form() -> list[gr.components.Component]:
    """The model, its data and the optimiser: the defaults train a digits model in about a minute."""
    model_type = gr.Dropdown(sorted(MODEL_TYPES), value="vanilla_vae", label="Model")
    dataset = gr.Radio(list(TRAINING_DATASETS), value="digits", label="Data")
    uploads = gr.File(
        label="Your images: a zip (one folder per class, or none) or several files",
        file_count="multiple",
        file_types=[".zip", *IMAGE_TYPES],
        type="filepath",
        visible=False,
    )
    latent_dim = gr.Slider(2, 32, value=8, step=1, label="Latents")
    weight = gr.Number(default_weight("vanilla_vae", "digits"), label=weight_label("vanilla_vae"))
    with gr.Row():
        steps = gr.Number(RunRequest.steps, label="Steps", precision=0)
        batch_size = gr.Number(RunRequest.batch_size, label="Batch size", precision=0)
        lr = gr.Number(RunRequest.lr, label="Learning rate")
    dataset.change(lambda d: gr.File(visible=d == "your images"), [dataset], [uploads], **UI_ONLY)
    gr.on([model_type.change, dataset.change], weight_field, [model_type, dataset], [weight], **UI_ONLY)
    return [model_type, dataset, uploads, latent_dim, weight, steps, batch_size, lr]
