"""Live input vs file input under CPU load, in one run (issue 31).

    python scripts/benchmark_live.py --seconds 6 --busy 2        # two spinning processes as the synthetic load

Random weights, nothing downloaded; every figure is measured in this run (``benchmarks.live_load``:
the rows and how each is measured).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks.live_load import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the stream, seconds")
    parser.add_argument("--busy", type=int, default=2, help="processes spinning on the CPU during the run")
    parser.add_argument("--frame-size", type=int, default=224, help="the net's input size (pixels)")
    args = parser.parse_args(argv)
    run(args.seconds, args.busy, args.frame_size)


if __name__ == "__main__":
    main()
