"""python -m train CONFIG.yaml [key.sub=value ...] [--resume] [--no-eval] [--judge-cache DIR] [--push-to-hub REPO_ID]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vae_models.checkpoint import METRICS_NAME
from vae_models.data import DatasetUnavailableError

from .config import ConfigError, load_config
from .trainer import Run, TrainingError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__)
    parser.add_argument("config", help="a YAML file in train/configs/")
    parser.add_argument("overrides", nargs="*", help="key.sub=value, e.g. train.epochs=5 model.latent_dim=8")
    parser.add_argument("--resume", action="store_true", help="continue the run in output_dir exactly")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the output folder to this Hub repo")
    parser.add_argument("--no-eval", action="store_true", help=f"skip writing {METRICS_NAME} at the end")
    parser.add_argument(
        "--judge-cache",
        type=Path,
        metavar="DIR",
        help="keep the evaluation's judge classifier here, and read it back for later runs of the same data",
    )
    return parser.parse_intermixed_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
        run = Run(config, resume=args.resume)
        out = run.fit()
        if run.stopped:
            print(f"stopped at step {run.progress.step}; continue with --resume", file=sys.stderr)
            return 0
        if run.is_main and not args.no_eval:
            from .evaluate import evaluate_checkpoint

            evaluate_checkpoint(out, config=config.to_dict(), judges=args.judge_cache)
        if run.is_main and args.push_to_hub:
            from .hub import push_folder

            print(f"pushed to {push_folder(out, args.push_to_hub)}")
    except (ConfigError, TrainingError, DatasetUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; continue with --resume from the last checkpoint", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
