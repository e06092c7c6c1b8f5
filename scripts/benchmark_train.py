"""Training speed of both models at the seed settings and the quickstart's: fp32, bf16 autocast, channels_last,
torch.compile, the loader, and the model-only bound, in one run (issue 13).

    python scripts/benchmark_train.py --threads 2      # both models, both settings (long on 2 cores: ~40 minutes)
    python scripts/benchmark_train.py --quick          # tiny nets and data (about a minute)

Random weights, nothing downloaded; every figure is measured in this run (``riskvision.benchmarks.training``).
"""

from __future__ import annotations

import argparse

from riskvision.benchmarks.training import run


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny nets and data (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)
    run(args.quick, args.threads)


if __name__ == "__main__":
    main()
