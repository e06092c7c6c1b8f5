"""How much UString's / DSTA's unstable ``np.argsort(Recall)`` moves their published metrics: the largest
quicksort-minus-stable difference per score shape (``benchmarks.ustring_argsort``; docs/evaluation.md quotes it).

    python scripts/measure_ustring_argsort.py [--trials 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks.ustring_argsort import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40, help="random score sets per shape")
    parser.add_argument("--seed", type=int, default=0, help="seed of the score sets")
    args = parser.parse_args(argv)
    run(args.trials, args.seed)


if __name__ == "__main__":
    main()
