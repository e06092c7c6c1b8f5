"""Speed benchmarks: each prints ratios measured in one run (never a timing assert; scripts/benchmark_*.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

__all__ = ["command_line"]


def command_line(run: Callable[[bool, int], object], doc: str, argv: Sequence[str] | None = None) -> None:
    """The command line of a benchmark script: ``--quick`` (tiny sizes, a smoke run) and ``--threads N``, then
    ``run(quick, threads)``. ``doc``: the script's docstring (its first paragraph is the description)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny nets and data (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)
    run(args.quick, args.threads)
