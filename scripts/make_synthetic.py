"""Generate (or reuse) the synthetic DoTA-format + BDD-format data set.

    python scripts/make_synthetic.py --root data/synthetic --seed 0
    python scripts/make_synthetic.py --root /tmp/syn --num-crash 8 --num-normal 8 --width 96 --height 56

Prints where the trees are and how long it took. Training with ``data=synthetic`` calls the same
function on first use, so running this script first is optional.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from riskvision.data.sources.synthetic import SyntheticSizes, ensure_synthetic


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line: ``--root``, ``--seed`` and one ``--<size>`` option per :class:`SyntheticSizes` field."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="parent folder of the generated data sets")
    parser.add_argument("--seed", type=int, default=0)
    defaults = SyntheticSizes()
    for f in fields(SyntheticSizes):
        value = getattr(defaults, f.name)
        pair = isinstance(value, tuple)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            default=None,
            type=type(value[0]) if pair else type(value),
            nargs=2 if pair else None,
            metavar=("MIN", "MAX") if pair else None,
            help=f"default: {value}",
        )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = {f.name: getattr(args, f.name) for f in fields(SyntheticSizes) if getattr(args, f.name) is not None}
    paths = ensure_synthetic(args.root, seed=args.seed, **sizes)
    print(f"{'generated' if paths.generated else 'reused'} synthetic data (seed {args.seed}) in {paths.seconds:.1f} s")
    print(f"  dota_root: {paths.dota_root}")
    print(f"  bdd_root:  {paths.bdd_root}")


if __name__ == "__main__":
    main()
