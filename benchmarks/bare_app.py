"""python -m benchmarks.bare_app --port N [--components N] [--events N] [--chains] [--delete-cache] [--busy-ms MS] [...]

A bare Gradio app: one endpoint, /decode(model, code, class) -> a fresh 192×192 PIL image (PNG),
queued as app.py queues (`default_concurrency_limit=2, max_size=64`). It is the floor that the page's
own /decode is measured against (benchmarks/page.py). Each option adds one trait of the page, so that a
run with it shows what that trait costs a call:

- `--components N`: N more components on the page (the page's config has hundreds);
- `--events N`: N more registered events (the page has about 150);
- `--chains`: /decode followed by `.success` and `.failure` events, as `Page.report` chains them;
- `--delete-cache`: `gr.Blocks(delete_cache=(600, 3600))`, as the page's blocks;
- `--busy-ms MS`: the callback computes for MS ms (the page's decode takes about 2 ms in-process);
- `--state`: a gr.State among /decode's inputs;
- `--analytics-off`: not a trait but a remedy: gradio 6.31's queue rebuilds a pandas summary of every
  event it has recorded (up to 10,000) after each queued event, unless GRADIO_ANALYTICS_CACHE_FREQUENCY
  says to do it less often; this sets it to once in 10^9 events.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import gradio as gr

SIDE, SCALE = 32, 6  # a 32-pixel digit enlarged 6 times, as the page shows a decoded digit: 192×192
QUEUE = {"default_concurrency_limit": 2, "max_size": 64}  # app.py's demo.queue(...)
CACHE_SECONDS = (600, 3600)  # app.py's delete_cache


def picture(code: list[float], rng: np.random.Generator) -> Image.Image:
    """A smooth grey blob with a little noise, like a decoded digit, new pixels each call (the page's
    outputs are unique files too); 192×192 by pixel repetition, as the page enlarges its images."""
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    centre = 0.5 + 0.1 * np.tanh(np.asarray(code[:2] or [0.0, 0.0], dtype=float))
    blob = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / 0.05)
    pixels = np.clip(255 * blob + rng.normal(0, 4, blob.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "L").resize((SIDE * SCALE, SIDE * SCALE), Image.NEAREST)


def busy(seconds: float) -> None:
    """Hold the CPU for `seconds` (the callback's own work)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def build(components: int = 0, events: int = 0, chains: bool = False, delete_cache: bool = False,
          busy_ms: float = 0.0, state: bool = False) -> gr.Blocks:  # fmt: skip
    import gradio as gr

    rng = np.random.default_rng(0)

    def decode(name: str, code: list[float], class_choice: str, *_: Any) -> Image.Image:
        busy(busy_ms / 1000)
        return picture(code, rng)

    with gr.Blocks(title="bare", delete_cache=CACHE_SECONDS if delete_cache else None) as demo:
        model = gr.Textbox("vanilla_vae-digits", label="Model")
        code = gr.JSON([0.5] * 8, label="Code")
        class_choice = gr.Textbox("auto (best fit)", label="Class")
        image = gr.Image(label="Decoded", type="pil", format="png", interactive=False)
        button = gr.Button("Decode")
        kept = [gr.State(None)] if state else []
        extras = [_component(i) for i in range(components)]
        event = button.click(decode, [model, code, class_choice, *kept], [image], api_name="decode")
        if chains:
            note = gr.Markdown()
            event.success(None, None, [note], js="() => ''", queue=False)
            event.failure(lambda: "failed", None, [note], queue=False, api_visibility="undocumented")
        for i in range(events):
            trigger = gr.Button(f"extra {i}", visible=False)
            target = extras[i % len(extras)] if extras else gr.Markdown(visible=False)
            trigger.click(lambda: gr.skip(), None, [target], queue=i % 2 == 0, api_visibility="undocumented")
    return demo


def _component(i: int) -> gr.components.Component:
    """One of the kinds the page is made of, in turn."""
    import gradio as gr

    kinds = (
        lambda: gr.Markdown(f"note {i}"),
        lambda: gr.Slider(-3, 3, value=0, step=0.05, label=f"z{i}"),
        lambda: gr.Image(label=f"image {i}", type="pil", interactive=False),
        lambda: gr.Dropdown(["a", "b", "c"], value="a", label=f"choice {i}"),
        lambda: gr.Number(0, label=f"number {i}"),
    )
    return kinds[i % len(kinds)]()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7861)
    parser.add_argument("--components", type=int, default=0)
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--chains", action="store_true")
    parser.add_argument("--delete-cache", action="store_true")
    parser.add_argument("--busy-ms", type=float, default=0.0)
    parser.add_argument("--state", action="store_true")
    parser.add_argument("--analytics-off", action="store_true")
    args = parser.parse_args(argv)
    if args.analytics_off:  # read when demo.queue() makes the queue
        os.environ["GRADIO_ANALYTICS_CACHE_FREQUENCY"] = str(10**9)
    demo = build(args.components, args.events, args.chains, args.delete_cache, args.busy_ms, args.state)
    demo.queue(**QUEUE)
    demo.launch(server_name=args.host, server_port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
