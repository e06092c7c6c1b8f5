"""eval.py's sliding scoring of the bilstm at the seed settings: backbone once per frame vs the whole net per window
(issue 13), in one run.

    python scripts/benchmark_eval.py --threads 2      # the seed's 64 frames of 224x224 (~3 minutes on 2 cores)
    python scripts/benchmark_eval.py --quick          # tiny net and videos (seconds)

Random weights, nothing downloaded; every figure is measured in this run (``riskvision.benchmarks.eval_scoring``).
"""

from __future__ import annotations

import argparse

from riskvision.benchmarks.eval_scoring import run


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny net and videos (a smoke run, seconds)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)
    run(args.quick, args.threads)


if __name__ == "__main__":
    main()
