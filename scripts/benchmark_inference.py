"""Inference speed of the streaming engine at the seed settings, in one run (issue 12).

    python scripts/benchmark_inference.py --threads 2            # the full table (~10 minutes on 2 cores)
    python scripts/benchmark_inference.py --quick                # tiny nets and videos (seconds)

Random weights, nothing downloaded; every figure is measured in this run (``benchmarks.inference``:
the rows and how each is measured).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks.inference import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny nets and videos (a smoke run, seconds)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the end-to-end video, seconds")
    parser.add_argument("--threads", type=int, default=2, help="torch / onnxruntime intra-op threads")
    args = parser.parse_args(argv)
    run(args.quick, args.seconds, args.threads)


if __name__ == "__main__":
    main()
