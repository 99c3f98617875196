"""The Conditional tab (explorer.conditional.ConditionalTab): one class's samples, every class in the
same styles, the refusals, and the panel it shows for a model that is not conditional."""

from __future__ import annotations

import pytest
from PIL import Image
from support import CVAE, VANILLA
from tab_helpers import grid_size, refresh_values, user_error

from explorer.common import AUTO_CLASS

AUTO = AUTO_CLASS


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("conditional")


def test_generate_and_class_style(tab):
    assert tab.generate(CVAE, "3", 16, 0, 1.0).size == grid_size(16, 4)
    assert tab.generate(CVAE, 3, 6, 0, 1.0).size == grid_size(6, 3)
    classes = len(tab.explorer.catalog.info(CVAE).class_names)
    assert tab.class_style(CVAE, 4, 0, 1.0).size == grid_size(4 * classes, 4)


@pytest.mark.parametrize(
    ("name", "choice", "problem"),
    [
        (CVAE, "eleven", "unknown class 'eleven'"),
        (CVAE, "12", "class index 12 is out of range"),
        (CVAE, "-1", "class index -1 is out of range"),
        (CVAE, AUTO, "pick a class to generate"),
        (CVAE, None, "pick a class to generate"),
        (VANILLA, "3", "not a conditional VAE"),
        ("no-such-model", "3", "no model named 'no-such-model'"),
    ],
)
def test_generate_refusals(tab, name, choice, problem):
    message = user_error(tab.generate, name, choice, 4, 0, 1.0)
    assert problem in message
    if problem.startswith("unknown class"):
        assert "['0', '1'" in message  # names the model's classes


def test_class_style_needs_a_conditional_model(tab):
    assert "not a conditional VAE; pick a cvae" in user_error(tab.class_style, VANILLA, 4, 0, 1.0)


def test_the_conditional_tab_explains_itself_for_other_models(tab):
    controls, why, switch, grid = tab.panel(VANILLA)
    assert not controls.visible and why.visible and "not conditioned on a class" in why.value
    assert switch.visible and switch.value == f"Switch to {CVAE}" and grid is None
    assert tab.switch_to_conditional(VANILLA)["value"] == CVAE
    controls, why, switch, grid = tab.panel(CVAE)
    assert controls.visible and not why.visible and isinstance(grid, Image.Image)


def test_a_model_switch_fills_the_panel_by_name(tab):
    for name, conditional in ((VANILLA, False), (CVAE, True)):
        updates = tab.refresh(name, refresh_values(tab))
        assert set(updates) == set(tab.refreshed) == {tab.controls, tab.why, tab.switch, tab.grid}
        assert updates[tab.controls].visible == conditional and updates[tab.why].visible != conditional
        assert isinstance(updates[tab.grid], Image.Image) == conditional
