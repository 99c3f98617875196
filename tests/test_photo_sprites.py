"""benchmarks.photo_sprites: its measures on constructed cases whose answers are known (a sprite moved
by 3 px, a sprite two scale steps smaller), and a few of its photos read into the dSprites domain."""

import math

import numpy as np
import pytest
import torch

from benchmarks.photo_sprites import (
    POSITION_BAR,
    SCALE_BAR,
    SpritePhoto,
    errors,
    make_photos,
    meets_bar,
    position_error,
    read_all,
    scale_error,
    summary,
)
from vae_models.data import render_dsprites

SHAPES = [0, 1, 2]  # square, ellipse, heart


def sprite(shape: int, scale: int = 3, orientation: int = 5, x: int = 16, y: int = 16) -> np.ndarray:
    return render_dsprites([[shape, scale, orientation, x, y]])[0, 0].numpy() > 0


@pytest.mark.parametrize("shape", SHAPES)
def test_a_sprite_moved_by_3_px_is_3_px_off(shape):
    truth = sprite(shape)
    assert position_error(truth, truth) == 0
    assert position_error(np.roll(truth, 3, axis=1), truth) == pytest.approx(3)
    assert position_error(np.roll(truth, (-2, 3), axis=(0, 1)), truth) == pytest.approx(3)  # the larger of the two
    assert position_error(np.roll(truth, (3, 1), axis=(0, 1)), truth) == pytest.approx(3)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_sprite_two_steps_smaller_or_larger_is_two_steps_off(shape):
    small, large = sprite(shape, scale=2), sprite(shape, scale=4)
    assert scale_error(4, large, large) == 0
    assert scale_error(4, small, large) == 2
    assert scale_error(2, large, small) == 2
    assert scale_error(0, sprite(shape, scale=5), sprite(shape, scale=0)) == 5


def test_nothing_seen_is_off_both_bars():
    truth = sprite(0)
    nothing = np.zeros_like(truth)
    assert position_error(nothing, truth) == math.inf and scale_error(3, nothing, truth) == math.inf


def test_reconstructions_are_cut_at_one_half():
    photos = [SpritePhoto((2, 3, 5, 16, 16), "drawn", "", b"")]
    truth = render_dsprites([photos[0].factors])
    blurred = 0.4 + 0.2 * truth  # 0.6 on the sprite, 0.4 around it: the sprite, once cut at one half
    assert errors(blurred, truth, photos).tolist() == [[0.0, 0.0]]
    assert errors(0.4 + 0 * truth, truth, photos).tolist() == [[math.inf, math.inf]]


def test_the_bar_needs_both_shares():
    judged = np.array([[0.5, 0]] * 19 + [[3.0, 0]])  # 95% within 2 px, all within a step
    assert meets_bar(summary(judged))
    assert not meets_bar(summary(np.array([[0.5, 0]] * 18 + [[3.0, 0]] * 2)))
    assert not meets_bar(summary(np.array([[0.5, 0]] * 18 + [[0.5, 2]] * 2)))


@pytest.mark.slow
def test_the_photos_are_the_same_for_a_seed_and_take_turns():
    first, again = make_photos(2, seed=5), make_photos(2, seed=5)
    assert [photo.data for photo in first] == [photo.data for photo in again]
    assert [photo.shape for photo in first] == ["square", "ellipse", "heart"] * 2
    assert [photo.way for photo in first] == ["photographed"] * 3 + ["drawn"] * 3


@pytest.fixture(scope="module")
def read_photos():
    """Two photographed and two drawn images of each shape, read, with their errors."""
    photos = make_photos(4, seed=1)
    views, refused = read_all(photos)
    assert not refused
    truths = render_dsprites([photo.factors for photo in photos])
    assert set(torch.unique(views).tolist()) <= {0.0, 1.0}
    return photos, errors(views, truths, photos)


@pytest.mark.slow
def test_photographed_sprites_keep_their_position_and_scale(read_photos):
    photos, judged = read_photos
    for photo, (px, steps) in zip(photos, judged, strict=True):
        if photo.way == "photographed":
            assert px <= POSITION_BAR and steps <= SCALE_BAR, str(photo)


def test_drawn_sprites_keep_their_position(read_photos):
    photos, judged = read_photos
    for photo, (px, _) in zip(photos, judged, strict=True):
        if photo.way == "drawn":
            assert px <= POSITION_BAR, str(photo)


def test_drawn_sprites_keep_their_scale(read_photos):
    photos, judged = read_photos
    for photo, (_, steps) in zip(photos, judged, strict=True):
        if photo.way == "drawn":
            assert steps <= SCALE_BAR, str(photo)
