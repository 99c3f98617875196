"""The explorer's figures (explorer.figures): the latent map, the KL bar chart and the mutual
information heatmap, checked through the plotly objects they return."""

import numpy as np
import plotly.graph_objects as go

from explorer import figures


def test_latent_map_has_one_trace_per_category_present_and_the_highlight():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(30, 2))
    colour = np.array([0, 1, 3] * 10)  # classes 2 and 4 absent
    categories = ["zero", "one", "two", "three", "four"]
    figure = figures.latent_map(
        coords, colour, "label", [f"#{i}" for i in range(30)], categories=categories, highlight=np.array([0.5, -0.5])
    )
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == ["zero", "one", "three", "your image"]
    assert [len(trace.x) for trace in figure.data] == [10, 10, 10, 1]
    assert all(trace.type == "scattergl" for trace in figure.data)
    star = figure.data[-1]
    assert (star.x[0], star.y[0]) == (0.5, -0.5) and star.marker.color == "red"
    assert list(figure.data[2].text) == [f"#{i}" for i in range(2, 30, 3)]


def test_latent_map_in_3d_with_explained_variance_in_the_axis_titles():
    rng = np.random.default_rng(1)
    coords = rng.normal(size=(12, 3))
    figure = figures.latent_map(
        coords,
        np.array([0, 1] * 6),
        "label",
        ["x"] * 12,
        categories=["a", "b"],
        explained=np.array([0.5, 0.25, 0.125]),
        highlight=np.zeros(3),
    )
    assert len(figure.data) == 3 and all(isinstance(trace, go.Scatter3d) for trace in figure.data)
    scene = figure.layout.scene
    titles = [scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text]
    assert titles == ["PC1 (50% of variance)", "PC2 (25% of variance)", "PC3 (12% of variance)"]


def test_latent_map_2d_axis_titles_and_continuous_colour():
    coords = np.arange(20, dtype=float).reshape(10, 2)
    figure = figures.latent_map(coords, np.linspace(0, 1, 10), "scale", ["x"] * 10, explained=np.array([0.9, 0.05]))
    assert figure.layout.xaxis.title.text == "PC1 (90% of variance)"
    assert figure.layout.yaxis.title.text == "PC2 (5% of variance)"
    assert len(figure.data) == 1 and figure.data[0].marker.colorbar.title.text == "scale"
    tsne = figures.latent_map(coords, np.zeros(10, int), "label", ["x"] * 10, categories=["a"])
    assert tsne.layout.xaxis.title.text == "t-SNE 1"


def test_kl_bar_chart_greys_inactive_dimensions():
    figure = figures.kl_bar_chart([2.0, 0.001, 1.5, 0.0], [True, False, True, False], "KL (nats)")
    bar = figure.data[0]
    assert list(bar.x) == ["z0", "z1", "z2", "z3"] and list(bar.y) == [2.0, 0.001, 1.5, 0.0]
    colours = list(bar.marker.color)
    grey = colours[1]
    assert colours[3] == grey and colours[0] == colours[2] != grey
    red, green, blue = (int(grey[i : i + 2], 16) for i in (1, 3, 5))
    assert red == green == blue  # a grey
    assert figure.layout.yaxis.title.text == "KL (nats)"


def test_mutual_information_heatmap_is_normalised_by_entropy():
    matrix = np.array([[0.5, 0.1], [1.0, 0.3]])
    entropy = np.array([2.0, 0.6])
    figure = figures.mutual_information_heatmap(matrix, ["shape", "scale"], entropy)
    heat = figure.data[0]
    assert np.allclose(np.asarray(heat.z), [[0.25, 1 / 6], [0.5, 0.5]])
    assert list(heat.x) == ["shape", "scale"] and list(heat.y) == ["z0", "z1"]
    assert (heat.zmin, heat.zmax) == (0, 1)


def test_scoreboard_chart_has_one_bar_group_per_metric_and_one_trace_per_model():
    boards = {
        name: {"mig": {"mean": m, "sd": 0.1}, "sap": {"mean": s, "sd": 0.05}}
        for name, m, s in (("a", 0.3, 0.6), ("b", 0.5, 0.2))
    }
    figure = figures.scoreboard_chart(boards, ["mig", "sap"], {"mig": "MIG", "sap": "SAP"})
    assert [trace.name for trace in figure.data] == ["a", "b"]
    assert list(figure.data[1].x) == ["MIG", "SAP"] and list(figure.data[1].y) == [0.5, 0.2]
    assert list(figure.data[0].error_y.array) == [0.1, 0.05] and figure.layout.barmode == "group"
