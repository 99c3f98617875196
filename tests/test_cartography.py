"""Map locations back to codes, directions, palettes and GIFs, against exact answers."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.decomposition import PCA

from benchmarks import arithmetic
from benchmarks.judge import digits_judge
from explorer import animation
from vae_models import cartography
from vae_models.data import load_dataset


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.3, 0.1]) + 1.5


@pytest.fixture(scope="module")
def pca(codes):
    return PCA(n_components=2, random_state=0).fit(codes)


@pytest.mark.parametrize("base_kind", ["mean", "start"])
def test_a_plane_point_maps_back_to_a_code_that_projects_onto_it(pca, codes, base_kind):
    base = pca.mean_ if base_kind == "mean" else codes[7]
    code = cartography.pca_inverse(pca, (1.25, -0.5), base)
    assert np.allclose(pca.transform(code[None])[0], (1.25, -0.5), atol=1e-9)
    # Off the plane, the code keeps the base's own components.
    residual = code - pca.inverse_transform(pca.transform(code[None]))[0]
    base_residual = base - pca.inverse_transform(pca.transform(base[None]))[0]
    assert np.allclose(residual, base_residual, atol=1e-9)


def test_the_plane_origin_is_the_mean_code_and_the_manifold_grid_runs_top_down(pca):
    assert np.allclose(cartography.pca_inverse(pca, (0.0, 0.0), pca.mean_), pca.mean_)
    grid = cartography.manifold_codes(pca, pca.mean_, (-2.0, 2.0, -1.0, 1.0), steps=3)
    projected = pca.transform(grid)
    assert grid.shape == (9, 6)
    assert np.allclose(projected[0], (-2.0, 1.0)) and np.allclose(projected[2], (2.0, 1.0))
    assert np.allclose(projected[4], (0.0, 0.0)) and np.allclose(projected[8], (2.0, -1.0))


def test_a_click_outside_the_map_is_clamped_with_a_note(codes):
    coords = codes[:, :2]
    inside, note = cartography.clamp_to_map((0.0, 1.0), coords)
    assert inside == (0.0, 1.0) and note == ""
    far, note = cartography.clamp_to_map((1e6, -1e6), coords)
    extent = coords.max(0) - coords.min(0)
    assert far[0] == pytest.approx(coords[:, 0].max() + 0.1 * extent[0])
    assert far[1] == pytest.approx(coords[:, 1].min() - 0.1 * extent[1])
    assert "outside the data's range" in note


def test_a_t_sne_location_is_the_inverse_distance_weighted_code_of_its_neighbours():
    coords = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0]])
    codes = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    assert np.array_equal(cartography.nearest_codes_inverse(coords, codes, (1.0, 0.0)), codes[1])
    # At (0.25, 0): distances 0.25, 0.75 and ~13.9; weights 4, 4/3 and ~0.072.
    weights = np.array([4.0, 4.0 / 3.0, 1.0 / np.hypot(9.75, 10.0)])
    expected = (weights[:, None] * codes).sum(0) / weights.sum()
    assert np.allclose(cartography.nearest_codes_inverse(coords, codes, (0.25, 0.0)), expected)


def test_a_factor_direction_moves_a_linearly_encoded_factor_by_one_sd_and_reports_r_squared():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(2000, 4))
    w = np.array([2.0, -1.0, 0.0, 0.5])
    values = codes @ w + 3.0 + rng.normal(size=2000) * 0.01
    direction = cartography.factor_direction(codes, values, "right")
    assert direction.r_squared > 0.999
    assert direction.vector @ w == pytest.approx(values.std(), rel=1e-3)  # one sd of the factor per step
    assert np.allclose(direction.vector / np.linalg.norm(direction.vector), w / np.linalg.norm(w), atol=1e-3)
    unencoded = cartography.factor_direction(codes, rng.normal(size=2000), "noise")
    assert unencoded.r_squared < 0.05
    assert np.linalg.norm(unencoded.vector) <= codes.std(0).max() * 1.01  # never a step far off the prior


def test_a_class_direction_goes_from_one_class_mean_to_the_other_and_strengths_scale_it():
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 6.0]])
    labels = np.array([3, 3, 8, 8])
    direction = cartography.class_direction(codes, labels, 3, 8, "3 → 8")
    assert np.allclose(direction.vector, [-1.0, 5.0]) and direction.r_squared is None
    with pytest.raises(ValueError, match="no codes of class 5"):
        cartography.class_direction(codes, labels, 3, 5, "3 → 5")
    moved = cartography.apply_direction(torch.tensor([1.0, 0.0]), direction, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(moved, torch.tensor([[1.0, 0.0], [0.5, 2.5], [0.0, 5.0]]))


@pytest.mark.parametrize("mode", ["linear", "spherical"])
def test_a_palette_has_its_corners_at_the_corners_and_blends_between(mode):
    corners = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    grid = cartography.palette_codes(corners, 5, mode).reshape(5, 5, 2)
    assert torch.allclose(grid[0, 0], corners[0]) and torch.allclose(grid[0, -1], corners[1])
    assert torch.allclose(grid[-1, 0], corners[2]) and torch.allclose(grid[-1, -1], corners[3], atol=1e-6)
    if mode == "linear":
        assert torch.allclose(grid[2, 2], corners.mean(0), atol=1e-6)
        assert torch.allclose(grid[0, 2], (corners[0] + corners[1]) / 2)
    else:  # along the top edge the codes keep the corners' norm
        assert torch.allclose(grid[0].norm(dim=1), torch.ones(5), atol=1e-6)
    with pytest.raises(ValueError, match="palette mode"):
        cartography.palette_codes(corners, 3, "cubic")


def test_the_gif_has_one_frame_per_image_of_the_asked_size_and_the_frames_are_the_images():
    frames = torch.rand(5, 1, 8, 8)
    frames[3] = frames[2]  # a latent that does nothing still gives one frame per step
    gif = Image.open(io.BytesIO(animation.gif_bytes(frames, scale=3)))
    bar = animation.PROGRESS_BAR_PX
    assert gif.n_frames == 5 and gif.size == (24, 24 + bar) and gif.info["loop"] == 0
    for index in range(5):
        gif.seek(index)
        picture = np.asarray(gif.convert("L"), dtype=float)
        expected = np.kron(np.round(frames[index, 0].numpy() * 255), np.ones((3, 3)))
        assert np.abs(picture[:24] - expected).max() <= 1
        filled = (np.asarray(gif.convert("RGB"))[24:, :, 0] > 100).all(axis=0)
        assert filled.sum() == round(24 * (index + 1) / 5)  # the bar shows how far through the sweep
    bounced = Image.open(io.BytesIO(animation.gif_bytes(frames, bounce=True)))
    assert bounced.n_frames == 8  # forward 5, then back through the 3 in between
    with pytest.raises(ValueError, match="frames"):
        animation.gif_bytes(torch.rand(1, 8, 8))


# --- arithmetic on the shipped models (issue 23's bars) ---------------------------------------------


@pytest.mark.slow
def test_dsprites_factor_directions_move_right_and_grow_the_sprite():
    moves = arithmetic.dsprites_moves()
    assert moves["R² move right"] > 0.9 and moves["R² bigger"] > 0.5
    assert moves["moved right"] >= 0.9 and moves["grew"] >= 0.9


@pytest.mark.slow
def test_digits_three_to_eight_turns_most_threes_into_eights_for_an_independent_judge():
    judge = digits_judge()
    test_images, test_labels = load_dataset("digits", "test", download=False).batch()
    assert (judge.predict(test_images) == test_labels).float().mean() >= 0.95  # a good judge
    assert arithmetic.three_to_eight(judge) >= 0.7


def test_the_map_inverse_clamps_and_says_how_it_found_the_code(pca, codes):
    coords = pca.transform(codes)
    exact = cartography.MapInverse(coords, codes, pca)
    code, point, notes = exact.code_at((0.5, -0.25), pca.mean_)
    assert np.allclose(pca.transform(code[None])[0], (0.5, -0.25)) and point == (0.5, -0.25) and notes == []
    far, point, notes = exact.code_at((1e6, 0.0), pca.mean_)
    assert np.allclose(pca.transform(far[None])[0], point) and point[0] < coords[:, 0].max() * 1.5
    assert "outside" in notes[0]
    approximate = cartography.MapInverse(coords, codes, None)
    code, point, notes = approximate.code_at(tuple(coords[3]), pca.mean_)
    assert np.allclose(code, codes[3]) and "approximation" in notes[-1]
    _, point, notes = approximate.code_at((1e6, 1e6), pca.mean_)  # clamped on t-SNE too, and said
    assert point[0] < 1e3 and "outside" in notes[0]


def test_factor_directions_and_their_sweep_from_strength_zero():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(600, 4))
    factors = np.column_stack([rng.integers(0, 3, 600), 2.0 * codes[:, 1] + 0.01 * rng.normal(size=600)])
    directions = cartography.factor_directions(codes, factors, {1: "move right"})
    assert list(directions) == ["move right"] and directions["move right"].r_squared > 0.99
    sweep = cartography.direction_sweep(torch.zeros(4), directions["move right"], 2.0, 5)
    assert sweep.shape == (5, 4) and torch.allclose(sweep[0], torch.zeros(4))
    assert torch.allclose(sweep[-1], 2.0 * torch.as_tensor(directions["move right"].vector, dtype=torch.float32))
