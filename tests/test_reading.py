"""An outside image read the way each data set was made (vae_models.data.reading), on synthetic photos
whose answers are known: where the ink is, how thick it is, where its mass lies; and the conditional
VAE's class posterior against a brute-force integral on a tiny model."""

import io
import math
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from scipy import ndimage
from support import CHECKPOINTS, CVAE

from benchmarks.photo_digits import make_photos, on_paper
from vae_models.cvae import ConditionalVAE
from vae_models.data import load_dataset, read_into_domain, render_dsprites
from vae_models.data.reading import DIGITS_INK_COVERAGE
from vae_models.distributions import gaussian_kl
from vae_models.images import ImageInputError, read_image, to_model_input
from vae_models.loading import load_model

Drawing = Callable[[ImageDraw.ImageDraw, float], None]  # draws ink (255) on a mask; the float is a scale


def photo(
    draw: Drawing,
    size: tuple[int, int] = (800, 600),
    *,
    dark_ink: bool = True,
    uneven: bool = True,
    noise: float = 3.0,
    seed: int = 0,
) -> Image.Image:
    """An RGB photo of what `draw` draws, in coordinates of an 800-pixel-wide photo scaled to `size`:
    dark ink on off-white paper (or light on dark), lit from one side with a vignette, with noise."""
    mask = Image.new("L", size)
    draw(ImageDraw.Draw(mask), size[0] / 800)
    ink = np.asarray(mask, dtype=np.float32)[..., None] / 255
    width, height = size
    columns, rows = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    light = (0.45 + 0.55 * columns) * (1 - 0.3 * ((columns - 0.6) ** 2 + (rows - 0.4) ** 2)) if uneven else 1.0
    paper, pen = (np.array([232.0, 228, 215]), 40.0) if dark_ink else (np.array([35.0, 40, 38]), 225.0)
    pixels = (paper * (1 - ink) + pen * ink) * np.asarray(light)[..., None]
    pixels += np.random.default_rng(seed).normal(0, noise, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def box(left: float, top: float, width: float, height: float, pen: float = 4) -> Drawing:
    """A rectangle's outline: a "0" whose every answer is known (its extent, its loop, its centre)."""

    def draw(canvas: ImageDraw.ImageDraw, scale: float) -> None:
        corners = [(left, top), (left + width, top), (left + width, top + height), (left, top + height)]
        points = [(x * scale, y * scale) for x, y in corners]
        canvas.line([*points, points[0]], fill=255, width=max(1, round(pen * scale)), joint="curve")

    return draw


def together(*drawings: Drawing) -> Drawing:
    def draw(canvas: ImageDraw.ImageDraw, scale: float) -> None:
        for drawing in drawings:
            drawing(canvas, scale)

    return draw


def counts(image: Image.Image) -> tuple[np.ndarray, list[str]]:
    """The digits reading at img_size 8, where no resize follows: the UCI counts 0..16 themselves."""
    x, steps = read_into_domain(image, "digits", 1, 8)
    assert x.shape == (1, 1, 8, 8)
    return (x[0, 0].numpy() * 16).round().astype(int), steps


def centre_of_mass(picture: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(picture.shape)
    return np.array([(rows * picture).sum(), (cols * picture).sum()]) / picture.sum()


def said(steps: list[str], *words: str) -> bool:
    return any(all(word in step for word in words) for step in steps)


# --- digits: the UCI recipe ---------------------------------------------------------------------------

TALL_BOX = box(420, 120, 150, 300)  # off-centre, half as wide as it is tall


def test_the_training_coverage_is_the_training_splits():
    train = load_dataset("digits", "train", download=False)
    assert abs(train.pixels.float().mean().item() / 16 - DIGITS_INK_COVERAGE) < 0.002


def test_the_training_digits_fill_the_box_s_height_and_at_most_20_of_its_32_columns():
    train = load_dataset("digits", "train", download=False)
    grids = train.pixels.float().reshape(-1, 8, 8)
    assert bool((grids.amax(dim=2) > 0).all())  # every digit inks all eight rows
    columns = grids.sum(dim=(0, 1))
    assert columns[[0, 7]].sum() / columns.sum() < 0.005  # 20 pixels centred leave columns 0 and 7 bare


def ring(width: float, height: float) -> Drawing:
    def draw(canvas: ImageDraw.ImageDraw, scale: float) -> None:
        corners = (400 - width / 2, 300 - height / 2, 400 + width / 2, 300 + height / 2)
        canvas.ellipse([value * scale for value in corners], outline=255, width=max(1, round(12 * scale)))

    return draw


@pytest.mark.parametrize("width", [200, 300, 400])
def test_a_zero_of_any_width_reads_like_the_training_zeros(width):
    train = load_dataset("digits", "train", download=False)
    zeros = train.pixels.float().reshape(-1, 8, 8)[train.labels == 0].numpy()
    grid, steps = counts(photo(ring(width, 300)))
    assert (grid.max(axis=1) > 0).all()  # the full height, though a wide ring kept its aspect would not be
    profile, training_profile = grid.mean(axis=0), zeros.mean(axis=(0, 1))
    assert not profile[[0, 7]].any() and np.abs(profile - training_profile)[[1, 6]].max() < 1.5  # as wide
    assert np.abs(profile - training_profile).max() < 2.5
    assert said(steps, "squeezed to 20 pixels wide")


def test_a_digit_is_cropped_fitted_to_the_box_keeping_its_aspect_and_centred():
    grid, steps = counts(photo(TALL_BOX))
    assert grid[0].any() and grid[7].any()  # the height fills the box
    assert not grid[:, 0].any() and not grid[:, 7].any()  # half as wide: columns 1..6 at the most
    assert np.abs(centre_of_mass(grid) - 3.5).max() < 0.3  # centred, though drawn off-centre
    assert not grid[2:6, 3:5].any()  # its loop stays open
    assert said(steps, "cropped to the ink", "keeping its aspect") and said(steps, "dark on light")


def test_thin_and_thick_strokes_are_both_brought_to_the_training_ink_coverage():
    thin, thin_steps = counts(photo(box(300, 150, 150, 300, pen=2)))
    thick, _ = counts(photo(box(300, 150, 150, 300, pen=30)))
    for grid in (thin, thick):
        assert abs(grid.sum() / 1024 - DIGITS_INK_COVERAGE) < 0.03
    assert said(thin_steps, "thickened")
    assert np.abs(thin - thick).mean() < 2.0  # the same digit, whatever the pen


def test_thickening_stops_short_of_closing_a_loop():
    def narrow_zero(canvas: ImageDraw.ImageDraw, scale: float) -> None:  # at 30% coverage its hole would close
        canvas.ellipse((370, 150, 440, 450), outline=255, width=2)

    grid, steps = counts(photo(narrow_zero))
    assert said(steps, "thickened", "to keep its loops open")
    assert grid[2:6, 3:5].max() < 16  # the middle cells are not solid ink: the loop is open
    assert grid.sum() / 1024 > 0.15  # yet thickened well beyond the pen's 2%


def test_light_on_dark_reads_as_dark_on_light():
    dark, dark_steps = counts(photo(TALL_BOX))
    light, light_steps = counts(photo(TALL_BOX, dark_ink=False))
    assert said(dark_steps, "dark on light") and said(light_steps, "light on dark")
    assert np.abs(dark - light).mean() < 1.0


@pytest.mark.parametrize("seed", [112, 1464])
def test_a_bold_digit_large_in_a_vignetted_photo_is_dark_on_light(seed):
    # A bold "0" covering up to 80% of the photo, lit by the benchmark's paper (seeds where a median
    # over a quarter of the photo followed the strokes and the reading took the paper for light ink).
    rng = np.random.default_rng(seed)
    height = rng.uniform(0.35, 0.8) * 600
    width, pen = height * rng.uniform(0.6, 0.8), height * rng.uniform(0.08, 0.16)
    left, top = rng.uniform(0, 800 - width), rng.uniform(0, 600 - height)
    mask = Image.new("L", (800, 600))
    ImageDraw.Draw(mask).ellipse((left, top, left + width, top + height), outline=255, width=int(pen))
    grid, steps = counts(read_image(on_paper(mask, rng))[0])
    assert said(steps, "dark on light")
    assert grid[3:5, 3:5].max() < 8  # the ring's hole is paper, read as no ink


def test_uneven_light_is_evened_out():
    even, _ = counts(photo(TALL_BOX, uneven=False))
    uneven, steps = counts(photo(TALL_BOX, noise=6))
    assert np.abs(even - uneven).mean() < 1.0 and not said(steps, "blobs")


def test_the_largest_of_two_digits_is_kept_and_said():
    alone, _ = counts(photo(TALL_BOX))
    small_one = box(60, 60, 60, 100)
    both, steps = counts(photo(together(TALL_BOX, small_one)))
    assert said(steps, "largest of 2")
    assert np.abs(both - alone).mean() < 0.5


def test_a_digit_in_two_strokes_stays_whole():
    def open_box(canvas: ImageDraw.ImageDraw, scale: float) -> None:  # "[ ]", a gap of 4% of the height
        canvas.line([(500, 120), (420, 120), (420, 420), (500, 420)], fill=255, width=4)
        canvas.line([(512, 120), (570, 120), (570, 420), (512, 420)], fill=255, width=4)

    grid, steps = counts(photo(open_box))
    whole, _ = counts(photo(TALL_BOX))
    assert not said(steps, "blobs") and np.abs(grid - whole).mean() < 1.0


def test_ink_touching_the_edge_is_read_as_it_is_and_said():
    grid, steps = counts(photo(box(600, 150, 250, 300)))
    assert said(steps, "edge") and grid.sum() > 0


def test_blank_paper_and_an_untouched_canvas_are_refused():
    blank = photo(lambda canvas, scale: None, noise=5)
    with pytest.raises(ImageInputError, match="no ink found"):
        read_into_domain(blank, "digits", 1, 32)
    with pytest.raises(ImageInputError, match="no ink found"):
        read_into_domain(Image.new("L", (300, 300), 255), "digits", 1, 32)


def test_a_speck_is_refused_with_a_clear_message():
    def dot(canvas: ImageDraw.ImageDraw, scale: float) -> None:
        canvas.ellipse((400, 300, 406, 306), fill=255)

    with pytest.raises(ImageInputError, match="almost no ink"):
        read_into_domain(photo(dot), "digits", 1, 32)


@pytest.mark.slow
def test_a_12_megapixel_photo_reads_the_same_and_fast():
    small, _ = counts(photo(TALL_BOX))
    big = photo(TALL_BOX, size=(4000, 3000))
    read_into_domain(big, "digits", 1, 32)
    start = time.perf_counter()
    grid, _ = counts(big)
    assert time.perf_counter() - start < 0.3  # the benchmark measures it: about 20 ms
    assert np.abs(grid - small).mean() < 1.0


def test_the_camera_orientation_tag_is_followed():
    def seven(canvas: ImageDraw.ImageDraw, scale: float) -> None:  # no symmetry: a turn would show
        canvas.line([(300, 150), (480, 150), (360, 450)], fill=255, width=6)

    upright = photo(seven)
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: what a phone held upright writes
    upright.transpose(Image.Transpose.ROTATE_90).save(buffer, "JPEG", quality=95, exif=exif)
    image, _ = read_image(buffer.getvalue())
    turned, steps = counts(image)
    assert said(steps, "upright") and np.abs(turned - counts(upright)[0]).mean() < 1.0


def test_the_counts_are_resized_to_the_model_exactly_as_training_resizes_them():
    image = photo(TALL_BOX)
    eight, _ = read_into_domain(image, "digits", 1, 8)
    x, _ = read_into_domain(image, "digits", 1, 32)
    expected = F.interpolate(eight, size=32, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    assert torch.equal(x, expected) and x.shape == (1, 1, 32, 32)


# --- MNIST: fitted to 20x20, its centre of mass at the centre of 28x28 ---------------------------------


def test_mnist_fits_the_ink_to_20_and_centres_its_mass():
    def ell(canvas: ImageDraw.ImageDraw, scale: float) -> None:  # an "L": its mass is off its box's centre
        canvas.line([(300, 100), (300, 500), (460, 500)], fill=255, width=12)

    x, steps = read_into_domain(photo(ell), "mnist", 1, 32)
    field = x[0, 0, 2:30, 2:30].numpy()  # the 28x28 field within the 32x32 frame
    assert not x[0, 0, :2].any() and not x[0, 0, 30:].any() and not x[0, 0, :, :2].any() and not x[0, 0, :, 30:].any()
    rows, cols = np.nonzero(field > 0.05)
    assert 19 <= rows.max() - rows.min() + 1 <= 21  # the long side is 20
    assert np.abs(centre_of_mass(field) - 13.5).max() < 0.6
    assert cols.min() + cols.max() > 2 * 13.5 + 2  # the box sits right of centre, so that the mass is centred
    assert said(steps, "centre of mass")


def test_fashion_mnist_fills_a_solid_item():
    def bag(canvas: ImageDraw.ImageDraw, scale: float) -> None:
        canvas.ellipse((250, 150, 550, 450), outline=255, width=6)

    x, _ = read_into_domain(photo(bag), "fashion_mnist-full", 1, 32)
    assert x[0, 0, 16, 16] > 0.9  # the middle of the item is inked, not a hole


# --- dSprites: kept where it is and at its size -------------------------------------------------------


def sprite_photo(sprite: np.ndarray, size: tuple[int, int] = (640, 640), **options) -> Image.Image:
    """A dSprites frame drawn large on paper, the frame filling the photo's height, centred."""
    side = size[1]
    big = Image.fromarray((sprite * 255).astype(np.uint8)).resize((side, side), Image.Resampling.NEAREST)

    def draw(canvas: ImageDraw.ImageDraw, scale: float) -> None:
        canvas.bitmap(((size[0] - side) // 2, 0), big, fill=255)

    return photo(draw, size, **options)


@pytest.mark.parametrize(
    ("shape", "scale", "orientation", "x", "y", "dark_ink"),
    [(0, 5, 7, 3, 25, True), (1, 0, 20, 28, 10, False), (2, 3, 33, 16, 16, True), (2, 5, 0, 30, 2, True)],
)
def test_dsprites_keeps_the_shape_where_it_is_and_at_its_size(shape, scale, orientation, x, y, dark_ink):
    sprite = render_dsprites([[shape, scale, orientation, x, y]])[0, 0].numpy()
    frame, steps = read_into_domain(sprite_photo(sprite, dark_ink=dark_ink), "dsprites", 1, 64)
    read = frame[0, 0].numpy()
    assert set(np.unique(read)) <= {0.0, 1.0}
    assert np.abs(centre_of_mass(read) - centre_of_mass(sprite)).max() < 2
    # dSprites' scales are 0.5, 0.6, ... 1.0: the side, the root of the area, within half a step
    assert abs(math.sqrt(read.sum() / sprite.sum()) - 1) < 0.05 / (0.5 + 0.1 * scale)
    assert (read * sprite).sum() / np.maximum(read, sprite).sum() > 0.8
    assert said(steps, "where it is")


def test_a_drawn_outline_is_filled_and_a_wide_photo_keeps_the_position():
    sprite = render_dsprites([[2, 5, 0, 8, 20]])[0, 0].numpy()
    outline = sprite * ~ndimage.binary_erosion(sprite > 0)  # a line one sprite pixel wide
    frame, steps = read_into_domain(sprite_photo(outline, size=(800, 640)), "dsprites", 1, 64)
    read = frame[0, 0].numpy()
    expected = np.zeros((80, 80))  # the 640-high frame in the middle of an 800-wide photo padded to 800x800
    expected[8:72, 8:72] = sprite
    expected = np.asarray(Image.fromarray(expected.astype(np.float32)).resize((64, 64), Image.Resampling.BOX))
    assert said(steps, "outline filled") and said(steps, "padded")
    assert np.abs(centre_of_mass(read) - centre_of_mass(expected)).max() < 2
    assert abs(read.sum() / expected.sum() - 1) < 0.25


def test_an_upright_square_traced_with_a_thick_pen_keeps_its_size():
    """The pen's centre line is the edge: the filled outline is cut back by half the pen, also where
    the outline runs along the ink's box (the box's edge is paper, not more ink)."""
    centred = Image.new("L", (256, 256), 255)  # a 14-px pen centred on the edge of a square 80 px a side
    ImageDraw.Draw(centred).rectangle((81, 81, 175, 175), outline=0, width=14)
    frame, steps = read_into_domain(centred, "dsprites", 1, 64)
    side = math.sqrt(frame[0, 0].sum().item())
    assert abs(side - 80 * 64 / 256) < 1.5 and said(steps, "centre line")  # 20 frame pixels, within a pixel or so


# --- natural images, and reading as it is -------------------------------------------------------------


def test_rgb_data_is_centre_cropped_and_resized():
    stripes = np.zeros((200, 400, 3), dtype=np.uint8)
    stripes[:, :100, 0] = stripes[:, 100:300, 1] = stripes[:, 300:, 2] = 255  # red | green | blue
    x, steps = read_into_domain(Image.fromarray(stripes), "folder", 3, 64)
    assert x.shape == (1, 3, 64, 64) and said(steps, "centre-cropped")
    middle = x[0, :, :, 2:-2]  # the middle square is green; its outer columns blend with red and blue
    assert middle[1].min() > 0.95 and middle[0].max() < 0.05 and middle[2].max() < 0.05
    grey, _ = read_into_domain(Image.fromarray(stripes), "celeba", 1, 32)
    assert grey.shape == (1, 1, 32, 32)


@pytest.mark.parametrize("dataset", ["digits", None, "unknown"])
def test_as_is_and_data_without_a_recipe_fit_the_image_to_the_frame(dataset):
    image = photo(TALL_BOX)
    x, steps = read_into_domain(image, dataset, 1, 32, as_is=dataset == "digits")
    expected, _ = to_model_input(image, 1, 32, dark_background=dataset == "digits")
    assert torch.equal(x, expected) and said(steps, "as it is")


# --- the conditional VAE reads the class --------------------------------------------------------------

GRID = torch.linspace(-12, 12, 6001, dtype=torch.float64)[:, None]  # z, for integrals over a 1-d latent


@pytest.fixture(scope="module")
def tiny() -> tuple[ConditionalVAE, torch.Tensor]:
    """An untrained 3-class CVAE with one latent, in float64, and two binary images."""
    torch.manual_seed(0)
    model = ConditionalVAE(in_channels=1, latent_dim=1, img_size=16, num_classes=3).double().eval()
    return model, (torch.rand(2, 1, 16, 16, dtype=torch.float64) > 0.7).double()


@torch.inference_mode()
def log_evidence(model: ConditionalVAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x | y) = log ∫ p(x|z, y) N(z; 0, 1) dz by brute force on a grid, [B, classes]."""
    step = float(GRID[1] - GRID[0])
    log_prior = -0.5 * GRID[:, 0] ** 2 - 0.5 * math.log(2 * math.pi)
    result = torch.empty(len(x), model.num_classes, dtype=torch.float64)
    for i, image in enumerate(x):
        for label in range(model.num_classes):
            log_px = -model.reconstruction_nll(model.decode_logits(GRID, label), image.expand(len(GRID), -1, -1, -1))
            result[i, label] = torch.logsumexp(log_px + log_prior, 0) + math.log(step)
    return result


@torch.inference_mode()
def elbo(model: ConditionalVAE, x: torch.Tensor) -> torch.Tensor:
    """E_q[log p(x|z, y)] - KL(q || p) with the expectation integrated on the grid, [B, classes]."""
    step = float(GRID[1] - GRID[0])
    result = torch.empty(len(x), model.num_classes, dtype=torch.float64)
    for i, image in enumerate(x):
        for label in range(model.num_classes):
            mu, log_var = model.encode(image[None], label)
            q = torch.exp(-0.5 * (GRID[:, 0] - mu[0, 0]) ** 2 / log_var.exp()[0, 0]) / torch.sqrt(
                2 * math.pi * log_var.exp()[0, 0]
            )
            log_px = -model.reconstruction_nll(model.decode_logits(GRID, label), image.expand(len(GRID), -1, -1, -1))
            result[i, label] = (q * log_px).sum() * step - gaussian_kl(mu, log_var)[0]
    return result


@pytest.mark.slow
def test_one_sample_gives_the_elbo_on_average(tiny):
    model, x = tiny
    draws = model.class_log_likelihoods(x.repeat_interleave(2000, 0), samples=1).view(2, 2000, -1)
    mean, error = draws.mean(1), draws.std(1) / math.sqrt(2000)
    assert ((mean - elbo(model, x)).abs() < 4 * error).all()


@pytest.mark.slow
def test_many_samples_reach_the_brute_force_evidence_that_bounds_the_elbo(tiny):
    model, x = tiny
    truth = log_evidence(model, x)
    assert (elbo(model, x) <= truth).all()
    assert (model.class_log_likelihoods(x, samples=4096) - truth).abs().max() < 0.02


@pytest.mark.slow
def test_the_posterior_is_the_brute_force_posterior(tiny):
    model, x = tiny
    posterior = model.class_posterior(x, samples=4096)
    assert (posterior >= 0).all() and torch.allclose(posterior.sum(1), torch.ones(2, dtype=torch.float64))
    assert (posterior - torch.softmax(log_evidence(model, x), dim=1)).abs().max() < 0.01


def test_an_untrained_model_gives_a_distribution_and_the_same_one_each_time():
    torch.manual_seed(1)
    model = ConditionalVAE(latent_dim=4, img_size=16, num_classes=10).eval()
    x = torch.rand(3, 1, 16, 16)
    posterior = model.class_posterior(x)
    assert posterior.shape == (3, 10) and torch.isfinite(posterior).all() and (posterior >= 0).all()
    assert torch.allclose(posterior.sum(1), torch.ones(3)) and torch.equal(posterior, model.class_posterior(x))
    assert model.class_posterior(x[:0]).shape == (0, 10)


@pytest.mark.slow
def test_the_shipped_cvae_reads_the_class_of_test_digits():
    model = load_model(CHECKPOINTS / CVAE, device="cpu")
    images, labels = load_dataset("digits", "test", download=False).batch()
    assert (model.class_posterior(images[:100]).argmax(1) == labels[:100]).float().mean() >= 0.95


@pytest.mark.slow
def test_the_photo_digits_benchmark_makes_the_same_readable_photos_for_a_seed():
    first, again = make_photos(10, seed=3), make_photos(10, seed=3)
    assert [photo.jpeg for photo in first] == [photo.jpeg for photo in again]
    assert [photo.label for photo in first] == list(range(10))
    views = [read_into_domain(read_image(photo.jpeg)[0], "digits", 1, 32)[0] for photo in first]
    assert all(view.shape == (1, 1, 32, 32) and view.amax() > 0.5 for view in views)
