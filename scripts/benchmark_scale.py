"""riskvision at the real datasets' size (issue 28): build a full-size tree from DoTA metadata files (tiny frames,
hard links) plus BDD100K frame folders, and print every scale figure from one run (docs/scale.md).

    python scripts/benchmark_scale.py --metadata /data/DoTA/metadata_train.json /data/DoTA/metadata_val.json
    python scripts/benchmark_scale.py --metadata ... --work-dir /tmp/scale   # keep the tree: a re-run reuses it
    python scripts/benchmark_scale.py --metadata ... --quick                 # small sizes (a smoke run)

The machine's load varies: compare the ratios of one run (``benchmarks.scale`` says how each figure is
measured); the run prints ``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ lies beside scripts/, not installed

from benchmarks.scale import ScaleSettings, TreeSize, run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metadata", type=Path, nargs="+", required=True, help="DoTA metadata_{train,val}.json")
    parser.add_argument("--bdd-folders", type=int, default=2000, help="BDD100K frame folders")
    parser.add_argument("--bdd-frames", type=int, default=400, help="frames per BDD100K folder")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the tree goes (kept; reused)")
    parser.add_argument("--metrics-rows", type=int, default=1_000_000, help="rows of the metrics table")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the metrics")
    parser.add_argument("--missing-clips", type=int, default=10_000, help="clips of the bad metadata file")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--net-size", type=int, default=224, help="frame size of the net and decode timings")
    parser.add_argument("--quick", action="store_true", help="small sizes: nets at 32x32, 20k metric rows")
    args = parser.parse_args(argv)
    quick = {"metrics_rows": 20_000, "n_boot": 50, "missing_clips": 500, "item_videos": (670, 8_000), "net_size": 32}
    settings = ScaleSettings(
        TreeSize(args.metadata, args.bdd_folders, args.bdd_frames),
        args.work_dir,
        metrics_rows=args.metrics_rows,
        n_boot=args.n_boot,
        missing_clips=args.missing_clips,
        threads=args.threads,
        net_size=args.net_size,
        quick=args.quick,
    )
    if args.quick:
        for key, value in quick.items():
            setattr(settings, key, value)
    run(settings)


if __name__ == "__main__":
    main()
