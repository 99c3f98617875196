"""The Arithmetic tab (explorer.arithmetic.ArithmeticTab): the Traverse code pushed along a learnt
direction (a dSprites factor, or from one class to another), relabelled for the conditional VAE, the
refusals, and the tab refilled for a new model."""

from __future__ import annotations

import pytest
from PIL import Image
from support import CVAE, VANILLA
from tab_helpers import grid_size, refresh_values, user_error

from explorer.arithmetic import BETWEEN_CLASSES

DSPRITES = "betatc_vae-dsprites"


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("arithmetic")


def test_a_factor_direction_gives_a_row_its_r_squared_and_its_gif(tab):
    names = tab.direction_names(DSPRITES)
    assert "move right (posX)" in names and names[-1] == BETWEEN_CLASSES
    row, note, gif = tab.arithmetic(DSPRITES, [], "move right (posX)", None, None, 1.0, 6)
    assert row.size == grid_size(6, 6, 64) and "R²" in note
    with Image.open(gif) as animation:
        assert animation.format == "GIF" and animation.n_frames == 6
    assert "hardly encodes" in tab.arithmetic(DSPRITES, [], "rotate (orientation)", None, None, 1.0, 4).note


def test_between_classes_moves_the_code_or_for_the_conditional_vae_its_label(tab):
    assert "3 → 8" in tab.arithmetic(VANILLA, [], BETWEEN_CLASSES, "3", "8", 1.0, 4).note
    relabelled = tab.arithmetic(CVAE, [], BETWEEN_CLASSES, "3", "8", 1.0, 4)
    assert "3 → 8" in relabelled.note and "the label blends" in relabelled.note
    assert relabelled.row.size == grid_size(4, 4)


@pytest.mark.parametrize(
    ("name", "args", "problem"),
    [
        (DSPRITES, ("fly", None, None, 1.0, 4), "no direction 'fly'"),
        (VANILLA, (BETWEEN_CLASSES, "3", None, 1.0, 4), "pick the From and To classes"),
        (VANILLA, (BETWEEN_CLASSES, "3", "8", 1.0, 1), "2 to 32 steps"),
        (VANILLA, (BETWEEN_CLASSES, "3", "8", 9.0, 4), "strength within ±5"),
    ],
    ids=["direction", "class", "steps", "strength"],
)
def test_arithmetic_refusals(tab, name, args, problem):
    assert problem in user_error(tab.arithmetic, name, [], *args)


def test_a_model_switch_applies_its_first_direction_to_the_origin(tab):
    updates = tab.refresh(DSPRITES, refresh_values(tab))
    assert set(updates) == set(tab.refreshed)
    names = tab.direction_names(DSPRITES)
    assert updates[tab.direction].value == names[0] and [c[0] for c in updates[tab.direction].choices] == names
    assert updates[tab.class_from].value != updates[tab.class_to].value
    assert "How linearly each factor is encoded" in updates[tab.linearity]
    row = tab.arithmetic(DSPRITES, [], names[0], updates[tab.class_from].value, updates[tab.class_to].value).row
    assert updates[tab.row].tobytes() == row.tobytes() and updates[tab.animated].visible
    digits = tab.refresh(VANILLA, refresh_values(tab))
    assert [c[0] for c in digits[tab.direction].choices] == [BETWEEN_CLASSES]  # digits have no factors
    assert "no ordered factors" in digits[tab.linearity] and isinstance(digits[tab.row], Image.Image)
