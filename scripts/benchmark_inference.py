"""Inference speed of the streaming engine at the seed settings, and a row per registered model, in one run
(issues 12 and 26).

    python scripts/benchmark_inference.py --threads 2                        # seed rows + every model (long)
    python scripts/benchmark_inference.py --no-seed-rows --models r3d_18,s3d  # the zoo table for two models
    python scripts/benchmark_inference.py --no-seed-rows --size small        # every model at its small clip
    python scripts/benchmark_inference.py --quick --models none              # tiny nets and videos (seconds)

Random weights, nothing downloaded (VideoMAE / V-JEPA 2: a random transformers config in a temporary folder);
every figure is measured in this run (``benchmarks.inference``: the rows and how each is measured).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks import add_zoo_arguments  # noqa: E402
from benchmarks.inference import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny nets and videos (a smoke run, seconds)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the end-to-end video, seconds")
    parser.add_argument("--threads", type=int, default=2, help="torch / onnxruntime intra-op threads")
    add_zoo_arguments(parser, default_size="recipe")
    args = parser.parse_args(argv)
    run(
        args.quick,
        args.seconds,
        args.threads,
        models=args.models,
        size=args.size,
        seed_rows=args.seed_rows,
        results=args.results,
    )


if __name__ == "__main__":
    main()
