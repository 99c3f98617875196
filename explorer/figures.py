"""Interactive plotly figures of a model's latent space: the map, KL per dimension, and MI.

Plain functions from arrays to `plotly.graph_objects.Figure`; nothing here knows the app.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

MARKER_SIZE = 4
# Tableau 10: ten hues a reader tells apart (plotly's default put 0/3 and 6/8 side by side in hue).
CATEGORY_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#edc948",
    "#76b7b2",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
    "#1f1f7a",
)


def latent_map(
    coords: np.ndarray,
    colour: np.ndarray,
    colour_name: str,
    hover: Sequence[str],
    *,
    categories: Sequence[str] | None = None,
    explained: np.ndarray | None = None,
    highlight: np.ndarray | None = None,
    title: str = "",
) -> go.Figure:
    """A 2-D or 3-D scatter of codes. Categorical colours get one legend entry per category;
    continuous ones a colour bar. `highlight` ([dims]) is drawn as its own marker (the upload)."""
    dims = coords.shape[1]
    axes = [f"{'PC' if explained is not None else 't-SNE '}{i + 1}" for i in range(dims)]
    if explained is not None:
        axes = [f"{name} ({share:.0%} of variance)" for name, share in zip(axes, explained, strict=True)]
    hover = np.asarray(hover, dtype=object)
    if categories is not None:
        traces = [
            _scatter(coords[colour == k], name=str(name), text=hover[colour == k], marker={"color": _colour(k)})
            for k, name in enumerate(categories)
            if (colour == k).any()
        ]
    else:
        colourbar = {"title": {"text": colour_name, "side": "right"}, "x": 1.02}
        marker = {"color": colour, "colorscale": "Viridis", "colorbar": colourbar}
        traces = [_scatter(coords, name=colour_name, text=hover, marker=marker, showlegend=False)]
    if highlight is not None:
        traces.append(_scatter(highlight[None, :], name="your image", text=["your image"], marker=_star(dims)))
    figure = go.Figure(traces)
    axis_titles = {f"{axis}axis": {"title": {"text": label}} for axis, label in zip("xyz", axes, strict=False)}
    figure.update_layout(scene=axis_titles) if dims == 3 else figure.update_layout(**axis_titles)
    figure.update_layout(title=title, legend=_legend(colour_name, categories is not None), height=560)
    return figure


def _colour(index: int) -> str:
    return CATEGORY_COLOURS[index % len(CATEGORY_COLOURS)]


def _star(dims: int) -> dict:
    """The upload's marker: a star in 2-D; WebGL's 3-D scatter has no star, and its "x" is drawn as a
    thin stretched bar, so a diamond with a dark outline there."""
    if dims == 3:
        return {"size": 9, "symbol": "diamond", "color": "red", "opacity": 1, "line": {"width": 2, "color": "black"}}
    return {"size": 18, "symbol": "star", "color": "red", "opacity": 1, "line": {"width": 1, "color": "black"}}


def _legend(colour_name: str, categorical: bool) -> dict:
    """Categories get a titled legend; a continuous colour's title is on its colour bar, so the legend
    (only the upload's marker) goes under the plot, untitled, where it cannot cover the bar."""
    if categorical:
        return {"title": {"text": colour_name}, "itemsizing": "constant"}
    return {"orientation": "h", "y": -0.12, "x": 0, "itemsizing": "constant"}


def _scatter(coords: np.ndarray, name: str, text: Sequence[str], marker: dict | None = None, **kwargs) -> go.Trace:
    marker = {"size": MARKER_SIZE, "opacity": 0.8} | (marker or {})
    common = {"mode": "markers", "name": name, "text": text, "hoverinfo": "text", "marker": marker, **kwargs}
    if coords.shape[1] == 3:
        return go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], **common)
    return go.Scattergl(x=coords[:, 0], y=coords[:, 1], **common)


def kl_bar_chart(kl_per_dim: Sequence[float], active: Sequence[bool], unit: str = "nats") -> go.Figure:
    """KL (or code variance, for the WAE) per latent dimension, inactive ones greyed."""
    names = [f"z{i}" for i in range(len(kl_per_dim))]
    colours = ["#3b6fb6" if on else "#b0b0b0" for on in active]
    figure = go.Figure(go.Bar(x=names, y=list(kl_per_dim), marker_color=colours))
    figure.update_layout(
        title="Information per latent dimension (grey: inactive)", yaxis_title=unit, xaxis_title="latent", height=360
    )
    return figure


def mutual_information_heatmap(matrix: np.ndarray, factor_names: Sequence[str], entropy: np.ndarray) -> go.Figure:
    """Latent × factor mutual information, as a share of each factor's entropy."""
    shares = np.asarray(matrix) / np.asarray(entropy)[None, :]
    latents = [f"z{i}" for i in range(len(shares))]
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=list(factor_names),
            y=latents,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=np.round(shares, 2),
            texttemplate="%{text}",
            colorbar={"title": {"text": "I(z; v) / H(v)", "side": "right"}},  # on top it covered the 1 tick
        )
    )
    figure.update_layout(title="Mutual information: latent × factor", yaxis_autorange="reversed", height=420)
    return figure


def scoreboard_chart(boards: dict[str, dict], metrics: Sequence[str], titles: dict[str, str]) -> go.Figure:
    """Grouped bars: one group per metric, one bar per model, with the seeds' sd as error bars."""
    figure = go.Figure()
    for name, board in boards.items():
        figure.add_bar(
            name=name,
            x=[titles[key] for key in metrics],
            y=[board[key]["mean"] for key in metrics],
            error_y={"type": "data", "array": [board[key]["sd"] for key in metrics]},
        )
    figure.update_layout(
        barmode="group",
        yaxis={"title": "score (mean ± sd over seeds)", "range": [0, 1.05]},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 30},
    )
    return figure
