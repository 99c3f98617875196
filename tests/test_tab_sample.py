"""The Sample tab (explorer.sample.SampleTab): prior samples, seeded, and the grid refilled for a new model."""

from __future__ import annotations

import pytest
from support import NAMES
from tab_helpers import grid_size, refresh_values, user_error


@pytest.fixture(scope="module")
def tab(page):
    return page.tab("sample")


@pytest.mark.parametrize("name", NAMES)
def test_sample(tab, name):
    picture = tab.sample(name, 16, 3, 1.0)
    assert picture.size == grid_size(16, 4)
    assert tab.sample(name, 16, 3, 1.0).tobytes() == picture.tobytes()
    assert tab.sample(name, 16, 4, 1.0).tobytes() != picture.tobytes()
    assert tab.sample(name, 1, 0, 0.5).size == grid_size(1, 1)
    assert "num_samples must be between" in user_error(tab.sample, name, 0, 0, 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_a_model_switch_samples_the_new_model_with_the_tabs_settings(tab, name):
    values = refresh_values(tab, count=9, seed=5)
    updates = tab.refresh(name, values)
    assert set(updates) == {tab.grid} == set(tab.refreshed)
    assert updates[tab.grid].tobytes() == tab.sample(name, 9, 5, values[tab.temperature]).tobytes()
