"""Training speed of both models at the seed settings and the quickstart's: fp32, bf16 autocast, channels_last,
torch.compile, cached features (the bilstm's frozen backbone: extraction vs the backbone's bound, then the epochs),
the loader, and the model-only bound, in one run (issue 13).

    python scripts/benchmark_train.py --threads 2      # both models, both settings (long on 2 cores: ~40 minutes)
    python scripts/benchmark_train.py --quick          # tiny nets and data (about a minute)

Random weights, nothing downloaded; every figure is measured in this run (``benchmarks.training``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks import command_line  # noqa: E402
from benchmarks.training import run  # noqa: E402

if __name__ == "__main__":
    command_line(run, __doc__, sys.argv[1:])
