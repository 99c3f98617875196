"""The Palette tab (explorer.palette.PaletteTab): four corners, classes or images, blended in latent
space; an empty corner named; and the tab refilled for a new model."""

from __future__ import annotations

import pytest
from support import CVAE, NAMES, VANILLA
from tab_helpers import grid_size, refresh_values, user_error


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("palette")


@pytest.mark.parametrize("name", NAMES)
def test_palettes_of_classes_and_of_images(tab, uploads, name):
    grid, notes = tab.palette(name, "classes", 5, "linear", "0", "1", "6", "7", None, None, None, None)
    assert grid.size == grid_size(25, 5) and notes == ""
    images = [uploads[key] for key in ("digit1", "digit0", "digit0", "digit1")]
    grid, notes = tab.palette(name, "images", 3, "spherical", None, None, None, None, *images)
    assert grid.size == grid_size(9, 3) and notes == ""
    _, notes = tab.palette(name, "images", 3, "linear", None, None, None, None, uploads["drawn.png"], *images[1:])
    assert "dark on light" in notes


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("classes", 5, "linear", "0", None, "6", "7"), "top right corner is empty"),
        (("classes", 5, "linear", "0", None, None, "7"), "top right and bottom left corners are empty"),
        (("classes", 1, "linear", "0", "1", "6", "7"), "2 to 16 steps"),
        (("classes", 5, "linear", "0", "1", "6"), "four classes and four images"),
        (("faces", 5, "linear", "0", "1", "6", "7"), "'images' or 'classes'"),
        (("classes", 5, "linear", "0", "1", "6", "eleven"), "pick a class from"),
    ],
    ids=["empty", "two-empty", "steps", "three", "source", "class"],
)
def test_palette_refusals(tab, args, problem):
    assert problem in user_error(tab.palette, VANILLA, *args)


def test_a_model_switch_puts_four_classes_at_the_corners_and_blends_them(tab):
    updates = tab.refresh(CVAE, refresh_values(tab))
    assert set(updates) == set(tab.refreshed)
    corners = [updates[dropdown].value for dropdown in tab.classes]
    assert corners == ["0", "1", "2", "3"]
    grid, _ = tab.palette(CVAE, "classes", 7, "linear", *corners)
    assert updates[tab.grid].tobytes() == grid.tobytes()
