"""VAE Latent Explorer: reconstruct, sample, traverse and map what a VAE has learned.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--device auto|cpu|cuda]
                  [--checkpoints checkpoints/] [--hub OWNER/NAME ...] [--hub-timeout 5]

Hub models can also be listed in VAE_EXPLORER_HUB_MODELS (comma-separated). This
file is also the Hugging Face Space entry point.

This file lays out the page and starts the app; what each event does is in callbacks.py
(`Explorer`: parse the page's values, ask vae_models, present the result).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import itertools
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from callbacks import AUTO_CLASS, MAP_METHODS, MAX_SLIDERS, SLIDER_SPAN, Explorer
from vae_models import resolve_device
from vae_models.catalog import Catalog
from vae_models.data import DatasetUnavailableError, load_dataset
from vae_models.images import MAX_FILE_BYTES, to_pil

IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"]
HUB_ENV = "VAE_EXPLORER_HUB_MODELS"


# --- examples -------------------------------------------------------------------------------


def write_examples(catalog: Catalog, folder: Path, per_dataset: int = 8) -> dict[str, list[str]]:
    """A few test images per dataset, one per class where possible, as PNG files for gr.Examples."""
    examples: dict[str, list[str]] = {}
    for dataset in sorted({info.dataset for info in catalog.infos.values()}):
        try:
            test = load_dataset(dataset, "test", download=False)
        except (DatasetUnavailableError, ValueError):
            continue
        labels = np.asarray(test.labels)
        picks = [int(np.flatnonzero(labels == k)[0]) for k in np.unique(labels)][:per_dataset]
        paths = []
        for index in picks:
            path = folder / f"{dataset}-test{index}.png"
            to_pil(test[index][0], scale=max(1, 128 // test.img_size)).save(path)
            paths.append(str(path))
        examples[dataset] = paths
    return examples


# --- the page ---------------------------------------------------------------------------------

CSS = ".grid-image img { image-rendering: pixelated; }"
UI_ONLY = {"api_visibility": "undocumented"}


def build_app(explorer: Explorer, examples: dict[str, list[str]]) -> gr.Blocks:
    catalog = explorer.catalog
    choices = [(catalog.info(name).summary(), name) for name in catalog.names]
    with gr.Blocks(title="VAE Latent Explorer") as demo:
        gr.Markdown(
            "# VAE Latent Explorer\nReconstruct an image, sample the prior, drag the latents, and map the latent "
            "space of four kinds of VAE. Every action is also an API endpoint (see *Use via API* below)."
        )
        gr.Markdown("\n".join(f"⚠️ {w}" for w in catalog.warnings), visible=bool(catalog.warnings))
        with gr.Row():
            model = gr.Dropdown(choices, value=catalog.names[0] if choices else None, label="Model", scale=3)
            class_choice = _free_dropdown("Class (conditional VAE)", [AUTO_CLASS], scale=1)
        with gr.Tabs():
            upload = _reconstruct_tab(explorer, model, class_choice, examples)
            _sample_tab(explorer, model)
            wanted = _conditional_tab(explorer, model)
            _traverse_tab(explorer, model, class_choice, upload, demo)
            _latent_map_tab(explorer, model, upload)
            _interpolate_tab(explorer, model, examples)
            _model_card_tab(explorer, model, demo)
        gr.on([demo.load, model.change], explorer.class_dropdown, [model], [class_choice], **UI_ONLY)
        demo.load(explorer.plain_class_dropdown, [model], [wanted], **UI_ONLY)
    return demo


def _free_dropdown(label: str, choices: list[str] = (), **kwargs: Any) -> gr.Dropdown:
    """A dropdown whose choices follow the model; the callbacks check the value, so API callers
    get the model's own list in the error rather than the page's first list."""
    choices = list(choices)
    return gr.Dropdown(choices, value=choices[0] if choices else None, label=label, allow_custom_value=True, **kwargs)


def _image(label: str) -> gr.Image:
    return gr.Image(label=label, type="pil", format="png", interactive=False, elem_classes="grid-image")


def _seed_and_temperature() -> tuple[gr.Number, gr.Slider]:
    seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
    temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature (std of z)")
    return seed, temperature


def _reconstruct_tab(
    explorer: Explorer, model: gr.Dropdown, class_choice: gr.Dropdown, examples: dict[str, list[str]]
) -> gr.File:
    with gr.Tab("Reconstruct"):
        with gr.Row():
            upload = gr.File(label="Image (PNG, JPEG, WebP, GIF, BMP)", file_types=IMAGE_TYPES, type="filepath")
            converted = _image("Input as the model sees it")
            recon = _image("Reconstruction")
        with gr.Row():
            reconstruct = gr.Button("Reconstruct", variant="primary")
            compare = gr.Button("Compare models")
        for dataset, paths in examples.items():
            gr.Examples([[p] for p in paths], inputs=[upload], label=f"{dataset} test images")
        gallery = gr.Gallery(label="Every model trained on the same data", columns=6, height="auto")
    gr.on(
        [reconstruct.click, upload.upload],
        explorer.reconstruct,
        [model, upload, class_choice],
        [converted, recon],
        api_name="reconstruct",
    )
    compare.click(explorer.compare, [model, upload], [gallery], api_name="compare")
    return upload


def _sample_tab(explorer: Explorer, model: gr.Dropdown) -> None:
    with gr.Tab("Sample"):
        with gr.Row():
            count = gr.Slider(1, 256, value=64, step=1, label="Samples")
            seed, temperature = _seed_and_temperature()
        button = gr.Button("Sample the prior", variant="primary")
        grid = _image("Prior samples")
    button.click(explorer.sample, [model, count, seed, temperature], [grid], api_name="sample")


def _conditional_tab(explorer: Explorer, model: gr.Dropdown) -> gr.Dropdown:
    with gr.Tab("Conditional"):
        gr.Markdown("For the conditional VAE: pick a class, or see every class written in the same styles.")
        with gr.Row():
            wanted = _free_dropdown("Class")
            count = gr.Slider(1, 64, value=16, step=1, label="Samples")
            seed, temperature = _seed_and_temperature()
        with gr.Row():
            generate = gr.Button("Generate this class", variant="primary")
            styles = gr.Slider(1, 16, value=8, step=1, label="Styles (columns)")
            class_style = gr.Button("Class × style grid")
        grid = _image("Samples")
    generate.click(explorer.generate, [model, wanted, count, seed, temperature], [grid], api_name="generate")
    class_style.click(explorer.class_style, [model, styles, seed, temperature], [grid], api_name="class_style")
    model.change(explorer.plain_class_dropdown, [model], [wanted], **UI_ONLY)
    return wanted


def _traverse_tab(
    explorer: Explorer, model: gr.Dropdown, class_choice: gr.Dropdown, upload: gr.File, demo: gr.Blocks
) -> None:
    with gr.Tab("Traverse"):
        with gr.Row():
            source = gr.Radio(["zero", "test image", "uploaded image"], value="zero", label="Start from")
            index = gr.Number(0, label="Test image index", precision=0, minimum=0)
            set_start = gr.Button("Set start point")
        start = gr.JSON([], label="Start code (z)")
        start_label = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2):
                gr.Markdown("Sliders are ordered by KL, most informative first; *inactive* ones do nothing.")
                sliders = [
                    gr.Slider(-SLIDER_SPAN, SLIDER_SPAN, value=0, step=0.05, visible=False) for _ in range(MAX_SLIDERS)
                ]
            with gr.Column(scale=1):
                decoded = _image("Decoded")
        with gr.Row():
            steps = gr.Slider(3, 15, value=9, step=1, label="Steps per row")
            span = gr.Slider(0.5, 5, value=SLIDER_SPAN, step=0.5, label="Sweep ±")
            traverse = gr.Button("Traversal grid", variant="primary")
        grid = _image("Each row sweeps one latent from −span to +span")
        code = gr.JSON(visible=False)
        decode = gr.Button(visible=False)
    set_start.click(
        explorer.set_start,
        [model, source, index, upload, class_choice],
        [start, start_label, decoded, *sliders],
        api_name="set_start",
    )
    reset = gr.on([demo.load, model.change], explorer.sliders, [model], sliders, **UI_ONLY)
    reset.then(lambda: ([], None), None, [start, start_label], **UI_ONLY)
    gr.on(
        [slider.input for slider in sliders],
        explorer.decode_sliders,
        [model, start, start_label, class_choice, *sliders],
        [decoded],
        trigger_mode="always_last",
        show_progress="hidden",
        **UI_ONLY,
    )
    decode.click(explorer.decode, [model, code, class_choice], [decoded], api_name="decode")
    traverse.click(explorer.traverse, [model, start, steps, span, class_choice], [grid], api_name="traverse")


def _latent_map_tab(explorer: Explorer, model: gr.Dropdown, upload: gr.File) -> None:
    with gr.Tab("Latent map"):
        with gr.Row():
            method = gr.Radio(list(MAP_METHODS), value="PCA", label="Projection")
            colour_by = _free_dropdown("Colour by", ["label"])
            show = gr.Button("Show map", variant="primary")
            recompute = gr.Button("Recompute")
        gr.Markdown("The image uploaded on the *Reconstruct* tab appears as a red star.")
        plot = gr.Plot(label="Latent space")
        info = gr.Markdown()
    inputs = [model, method, colour_by, upload]
    show.click(explorer.latent_map, inputs, [plot, info], api_name="latent_map")
    recompute.click(explorer.recompute_map, inputs, [plot, info], api_name="recompute_map")
    model.change(explorer.colour_dropdown, [model], [colour_by], **UI_ONLY)


def _interpolate_tab(explorer: Explorer, model: gr.Dropdown, examples: dict[str, list[str]]) -> None:
    with gr.Tab("Interpolate"):
        source = gr.Radio(["images", "classes"], value="images", label="Between two")
        with gr.Row():
            image_a = gr.File(label="Image A", file_types=IMAGE_TYPES, type="filepath")
            image_b = gr.File(label="Image B", file_types=IMAGE_TYPES, type="filepath")
        for dataset, paths in examples.items():
            gr.Examples([list(pair) for pair in itertools.pairwise(paths)], [image_a, image_b], label=dataset)
        with gr.Row():
            class_a, class_b = _free_dropdown("Class A"), _free_dropdown("Class B")
            steps = gr.Slider(3, 16, value=8, step=1, label="Steps")
            mode = gr.Radio(["linear", "spherical"], value="linear", label="Path")
        button = gr.Button("Interpolate", variant="primary")
        row = _image("From A to B")
    button.click(
        explorer.interpolate,
        [model, source, image_a, image_b, class_a, class_b, steps, mode],
        [row],
        api_name="interpolate",
    )
    for dropdown in (class_a, class_b):
        model.change(explorer.plain_class_dropdown, [model], [dropdown], **UI_ONLY)


def _model_card_tab(explorer: Explorer, model: gr.Dropdown, demo: gr.Blocks) -> None:
    with gr.Tab("Model card"):
        card = gr.Markdown()
        with gr.Row():
            information = gr.Plot(label="Information per latent")
            mutual_information = gr.Plot(label="Latent × factor mutual information")
    gr.on(
        [demo.load, model.change],
        explorer.model_card,
        [model],
        [card, information, mutual_information],
        api_name="model_card",
    )


# --- start-up ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--checkpoints", default="checkpoints", help="folder of checkpoint folders")
    parser.add_argument("--hub", action="append", default=[], metavar="REPO_ID", help="a Hub model (repeatable)")
    parser.add_argument("--hub-timeout", type=float, default=5.0, help="seconds to wait for the Hub at start-up")
    return parser.parse_args(argv)


def hub_repos(flags: list[str]) -> list[str]:
    from_env = [r.strip() for r in os.environ.get(HUB_ENV, "").split(",") if r.strip()]
    return list(dict.fromkeys(flags + from_env))


def create_app(
    checkpoints: str | Path = "checkpoints", hub: list[str] = (), device: str = "auto", hub_timeout: float = 5.0
) -> gr.Blocks:
    try:
        resolve_device(device)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    catalog = Catalog.build(checkpoints, hub_repos(list(hub)), device=device, hub_timeout=hub_timeout)
    for warning in catalog.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not catalog.names:
        raise SystemExit(f"no models: {checkpoints} holds no checkpoint folders and no Hub model was reachable")
    examples = write_examples(catalog, Path(tempfile.mkdtemp(prefix="vae-explorer-examples-")))
    return build_app(Explorer(catalog), examples)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def tune_malloc(arenas: int = 2, mmap_threshold: int = 128 * 1024) -> None:
    """Keep RSS flat under many concurrent requests (`python -m benchmarks.load` measures it).

    glibc gives each busy thread its own heap arena, and it raises its mmap threshold each
    time a large block is freed, so image-sized tensors end up in the heaps, which fragment
    and are not given back: RSS keeps growing under load. Capping the arenas bounds how many
    heaps can fragment; a fixed threshold (which also turns the raising off) puts every block
    over 128 KiB in its own mapping, returned to the system when freed, which also lowers the
    baseline. The README gives the measured growth with and without this."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to tune
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, mmap_threshold)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    tune_malloc()
    demo = create_app(args.checkpoints, args.hub, args.device, args.hub_timeout)
    # Two cores: two requests at a time, each with both threads, beat four fighting for them.
    demo.queue(default_concurrency_limit=2, max_size=64)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=MAX_FILE_BYTES,
        css=CSS,
    )


if __name__ == "__main__":
    main()
