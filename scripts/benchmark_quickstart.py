"""The README's measured figures: each command README shows, run as a user runs it and timed, written to
``docs/results.json`` and rendered into README's results table (``benchmarks.quickstart``).

    python scripts/benchmark_quickstart.py                      # re-measure every entry (~35 min on 2 cores)
    python scripts/benchmark_quickstart.py --only train_bilstm  # one entry (see benchmarks.quickstart.ENTRIES)
    python scripts/benchmark_quickstart.py --render             # README's table from docs/results.json, nothing run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks.quickstart import ENTRIES, run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and measure (or only render)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=ENTRIES, default=list(ENTRIES))
    parser.add_argument("--render", action="store_true", help="only render README's table from docs/results.json")
    args = parser.parse_args(argv)
    run(args.only, args.render)


if __name__ == "__main__":
    main()
