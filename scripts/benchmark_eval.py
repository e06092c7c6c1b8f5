"""eval.py's sliding scoring of the bilstm at the seed settings: backbone once per frame vs the whole net per window
(issue 13), in one run.

    python scripts/benchmark_eval.py --threads 2      # the seed's 64 frames of 224x224 (~3 minutes on 2 cores)
    python scripts/benchmark_eval.py --quick          # tiny net and videos (seconds)

Random weights, nothing downloaded; every figure is measured in this run (``benchmarks.eval_scoring``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks import command_line  # noqa: E402
from benchmarks.eval_scoring import run  # noqa: E402

if __name__ == "__main__":
    command_line(run, __doc__, sys.argv[1:])
