"""Turn raw DoTA / BDD100K downloads into the layout riskvision decodes fastest (``riskvision.data.prepare``).

    python scripts/prepare_data.py --dota-root RAW_DOTA --bdd-root RAW_BDD --out OUT --workers 2

Writes OUT/dota (10 fps JPEG frames, short side 256, boxes rescaled) and OUT/bdd (frame folders at --fps);
a rerun skips finished videos and redoes half-written ones. Failed videos and unreadable annotations are
listed and the exit code is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from riskvision.data.layout import DataLayoutError
from riskvision.data.prepare import Settings, prepare


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, prepare the roots, list the failures; exit code 1 if any video failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dota-root", type=Path, help="raw DoTA release (frames/, annotations/, metadata, splits)")
    parser.add_argument("--bdd-root", type=Path, help="raw BDD100K (videos/100k/{train,val}/*.mov)")
    parser.add_argument("--out", type=Path, required=True, help="output root (gets dota/ and bdd/)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="parallel processes")
    parser.add_argument("--fps", type=float, default=10.0, help="BDD target frame rate (DoTA stays at its 10 fps)")
    parser.add_argument("--short-side", type=int, default=256, help="shorter frame side in pixels")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (1-95)")
    parser.add_argument("--bdd-splits", nargs="+", default=["train", "val"], help="BDD splits to convert")
    args = parser.parse_args(argv)
    if args.dota_root is None and args.bdd_root is None:
        parser.error("give --dota-root and/or --bdd-root")
    settings = Settings(fps=args.fps, short_side=args.short_side, quality=args.quality)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        try:
            failures = prepare(args.dota_root, args.bdd_root, args.out, settings, args.workers, tuple(args.bdd_splits))
        except DataLayoutError as error:
            parser.exit(2, f"error: {error}\n")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures:
        print(
            f"{len(failures)} video(s) or annotation(s) failed; fix or delete them and rerun (finished ones are "
            "skipped).",
            file=sys.stderr,
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
