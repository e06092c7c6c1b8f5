"""Speed benchmarks: each prints ratios measured in one run (never a timing assert; scripts/benchmark_*.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

__all__ = ["add_zoo_arguments", "command_line"]


def command_line(run: Callable[[bool, int], object], doc: str, argv: Sequence[str] | None = None) -> None:
    """The command line of a benchmark script: ``--quick`` (tiny sizes, a smoke run) and ``--threads N``, then
    ``run(quick, threads)``. ``doc``: the script's docstring (its first paragraph is the description)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny nets and data (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)
    run(args.quick, args.threads)


def add_zoo_arguments(parser: argparse.ArgumentParser, default_size: str) -> None:
    """The zoo options of ``benchmark_inference`` / ``benchmark_train``: ``--models`` (``all``: every registered
    model, the default; ``none``; or a list ``r3d_18,mvit_v2_s``; a misspelt name is refused with the registered
    ones), ``--size`` (``recipe`` | ``small``, the clip each model is built for:
    ``benchmarks.inference.ZOO_SIZES``), ``--results`` (per model) and ``--no-seed-rows``."""

    def models(text: str) -> list[str]:
        from benchmarks.inference import zoo_models

        try:
            return zoo_models(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser.add_argument(
        "--models",
        type=models,
        default="all",
        help="registered models with a row each: all (default), none, or a comma-separated list (r3d_18,s3d)",
    )
    parser.add_argument(
        "--size",
        choices=("recipe", "small"),
        default=default_size,
        help="recipe: each model's own clip (conf/model/<model>.yaml, its weights'); small: what train.py trains "
        f"on the built-in data (conf/data_model/synthetic_<model>.yaml where there is one). Default: {default_size}",
    )
    parser.add_argument(
        "--results",
        type=int,
        default=None,
        help="per model: inference results (target frames streamed) / training steps; default 8 / 3 (quick: 2 / 1)",
    )
    parser.add_argument(
        "--seed-rows",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the seed models' detailed rows before the zoo table (--no-seed-rows: the zoo table alone)",
    )
