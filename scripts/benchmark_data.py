"""Decoding speed of riskvision's loader against the seed's per-frame path, in one run (issue 2, item 8).

    python scripts/benchmark_data.py                 # JPEG + video rows (~1 minute)
    python scripts/benchmark_data.py --train-fps     # + frames/s the two nets consume per training step

Everything runs on one thread; each comparison interleaves its contenders and reports the ratio of medians
from the same run (``benchmarks.data``: the rows and how each is measured).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks.data import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24, help="JPEG frames per timed clip")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions (median reported)")
    parser.add_argument("--train-fps", action="store_true", help="also time a training step of each net")
    parser.add_argument("--train-steps", type=int, default=2, help="timed training steps per net")
    args = parser.parse_args(argv)
    run(args.frames, args.repeats, args.train_fps, args.train_steps)


if __name__ == "__main__":
    main()
