"""Training speed of both models at the seed settings and the quickstart's: fp32, bf16 autocast, channels_last,
torch.compile, cached features (the bilstm's frozen backbone: extraction vs the backbone's bound, then the epochs),
the loader, and the model-only bound, in one run (issue 13); then a row per registered model: its fp32 training
loop against its model-only bound (issue 26).

    python scripts/benchmark_train.py --threads 2                        # seed rows + every model (long on 2 cores)
    python scripts/benchmark_train.py --no-seed-rows --models r3d_18,s3d  # the zoo rows for two models
    python scripts/benchmark_train.py --quick --models none              # tiny nets and data (about a minute)

Random weights, nothing downloaded; every figure is measured in this run (``benchmarks.training``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks import add_zoo_arguments  # noqa: E402
from benchmarks.training import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny nets and data (a smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    add_zoo_arguments(parser, default_size="small")
    args = parser.parse_args(argv)
    run(args.quick, args.threads, zoo=args.models, size=args.size, seed_rows=args.seed_rows, zoo_steps=args.results)


if __name__ == "__main__":
    main()
