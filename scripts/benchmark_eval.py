"""eval.py's sliding scoring of the bilstm at the seed settings: backbone once per frame vs the whole net per window
(issue 13), in one run.

    python scripts/benchmark_eval.py --threads 2      # the seed's 64 frames of 224x224 (~3 minutes on 2 cores)
    python scripts/benchmark_eval.py --quick          # tiny net and videos (seconds)

Random weights, nothing downloaded; every figure is measured in this run (``riskvision.benchmarks.eval_scoring``).
"""

from __future__ import annotations

import sys

from riskvision.benchmarks import command_line
from riskvision.benchmarks.eval_scoring import run

if __name__ == "__main__":
    command_line(run, __doc__, sys.argv[1:])
