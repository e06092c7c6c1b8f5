"""Train/val/test splits of a list of records. Every strategy is a callable
``records -> {"train": [...], "val": [...], "test": [...]}`` built from config with ``_target_``.

- :class:`SubsetSplit`: the data sets' own splits (DoTA ``metadata_val`` / BDD ``val`` / the seed's
  ``final_val_split.txt`` -> our test; a held-out part of their train -> our val, grouped by source
  video so no YouTube video straddles train and val).
- :class:`FileSplit`: id lists from files (e.g. the seed's ``final_{train,val}_split.txt`` on any layout).
- :class:`RandomSplit`: seeded random split by fractions, per clip or grouped by source video.

Random parts are drawn per data source (stratified), so DoTA and BDD keep their proportions in
every split.

The group of a record is :attr:`VideoRecord.group`, set by its source (DoTA: the id before the last ``_``,
the YouTube video a clip was cut from; otherwise the video's own id).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from riskvision.data.layout import read_id_list
from riskvision.data.records import VideoRecord

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
Splits = dict[str, list[VideoRecord]]


def _key(record: VideoRecord, grouped: bool) -> str:
    return record.group if grouped else record.video_id


def partition(records: Sequence[VideoRecord], fractions: Mapping[str, float], seed: int, grouped: bool) -> Splits:
    """Seeded split of ``records`` into ``fractions`` (normalised to sum 1), per source (``grouped``)
    or per clip. Groups are shuffled, then assigned in order until each split's share is reached;
    the result does not depend on the order of ``records``. A split with a fraction > 0 that the shares leave
    empty (0.1 of 6 groups rounds to 0) takes the last group of the largest split when there are >= 2 groups, as
    sklearn rounds the held-out side up: a small data set still gets one group of each source in validation."""
    if not fractions or any(f < 0 for f in fractions.values()) or sum(fractions.values()) <= 0:
        raise ValueError(f"split fractions {dict(fractions)} must be >= 0 and not all 0")
    groups: dict[str, list[VideoRecord]] = defaultdict(list)
    for record in records:
        groups[_key(record, grouped)].append(record)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    total, names = sum(fractions.values()), list(fractions)
    bounds, acc = [], 0.0
    for name in names:
        acc += fractions[name] / total
        bounds.append(acc * len(records))
    out: dict[str, list[str]] = {name: [] for name in names}  # group keys per split
    placed, index = 0, 0
    for key in keys:
        while index < len(names) - 1 and placed >= bounds[index] - 1e-9:
            index += 1
        out[names[index]].append(key)
        placed += len(groups[key])
    for name in names:
        if fractions[name] > 0 and not out[name] and len(keys) >= 2:
            largest = max(names, key=lambda other: len(out[other]))
            out[name].append(out[largest].pop())
    return {name: [record for key in chosen for record in groups[key]] for name, chosen in out.items()}


def stratified(records: Sequence[VideoRecord], fractions: Mapping[str, float], seed: int, grouped: bool) -> Splits:
    """:func:`partition` run separately on each source (``dota``, ``bdd``), so every split gets
    each source in the same proportions (for the crash task, the classes too)."""
    out: Splits = {name: [] for name in fractions}
    for source in sorted({r.source for r in records}):
        part = partition([r for r in records if r.source == source], fractions, seed, grouped)
        for name, chosen in part.items():
            out[name].extend(chosen)
    return out


def hold_out_val(
    train: Sequence[VideoRecord],
    val_fraction: float,
    seed: int,
    grouped: bool,
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """(train, val): ``val_fraction`` of ``train`` held out per source (:func:`stratified`); logs how many
    groups (source videos, or clips when not ``grouped``) went to validation."""
    held = stratified(train, {"train": 1 - val_fraction, "val": val_fraction}, seed, grouped)
    groups = {name: len({_key(r, grouped) for r in held[name]}) for name in held}
    log.info(
        f"val_fraction={val_fraction}: {groups['val']} of {groups['train'] + groups['val']} "
        f"{'groups' if grouped else 'clips'} ({len(held['val'])} videos) held out for validation"
    )
    return held["train"], held["val"]


def _by_subset(records: Sequence[VideoRecord]) -> dict[str | None, list[VideoRecord]]:
    out: dict[str | None, list[VideoRecord]] = defaultdict(list)
    for record in records:
        out[record.subset].append(record)
    return out


class SubsetSplit:
    """The data sets' own split: their ``val`` becomes our test, ``val_fraction`` of their ``train``
    (grouped by source video unless ``grouped=False``) becomes our val.

    Records without a subset raise: use :class:`RandomSplit` for such data.
    """

    def __init__(self, val_fraction: float = 0.1, seed: int = 0, grouped: bool = True) -> None:
        self.val_fraction, self.seed, self.grouped = val_fraction, seed, grouped

    def __repr__(self) -> str:
        return f"SubsetSplit(val_fraction={self.val_fraction}, seed={self.seed}, grouped={self.grouped})"

    def __call__(self, records: Sequence[VideoRecord]) -> Splits:
        subsets = _by_subset(records)
        unknown = set(subsets) - {"train", "val"}
        if unknown:
            example = subsets[next(iter(unknown))][0]
            raise ValueError(
                f"SubsetSplit needs records whose subset is train or val; {example.video_id} "
                f"({example.path}) has {example.subset!r}. Use data.split=RandomSplit instead"
            )
        train, val = hold_out_val(subsets["train"], self.val_fraction, self.seed, self.grouped)
        return {"train": train, "val": val, "test": list(subsets["val"])}


class FileSplit:
    """Splits from id-list files (one id per line). Ids in no file are left out.

    Args:
        train, test: files listing train / test ids (the seed: final_train / final_val_split.txt).
        val: file listing val ids; when ``None``, ``val_fraction`` of train is held out by source.
    """

    def __init__(
        self,
        train: str | Path,
        test: str | Path,
        val: str | Path | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.files = {"train": Path(train), "test": Path(test)} | ({"val": Path(val)} if val else {})
        self.val_fraction, self.seed = val_fraction, seed

    def __repr__(self) -> str:
        files = ", ".join(f"{k}={str(v)!r}" for k, v in self.files.items())
        return f"FileSplit({files}, val_fraction={self.val_fraction}, seed={self.seed})"

    def __call__(self, records: Sequence[VideoRecord]) -> Splits:
        by_id = {r.video_id: r for r in records}
        out: Splits = {}
        for name, path in self.files.items():
            if not path.is_file():
                raise FileNotFoundError(f"split file {path} for {name} does not exist; fix data.split.{name}")
            out[name] = [by_id[i] for i in read_id_list(path) if i in by_id]
        if "val" not in out:
            out["train"], out["val"] = hold_out_val(out["train"], self.val_fraction, self.seed, grouped=True)
        return {name: out[name] for name in SPLITS}


class RandomSplit:
    """Seeded random split; ``grouped=True`` keeps every clip of one source video in one split."""

    def __init__(self, fractions: Mapping[str, float] | None = None, seed: int = 0, grouped: bool = False) -> None:
        self.fractions = dict(fractions or {"train": 0.8, "val": 0.1, "test": 0.1})
        unknown = set(self.fractions) - set(SPLITS)
        if unknown:
            raise ValueError(f"RandomSplit fractions name unknown splits {sorted(unknown)}; use {SPLITS}")
        self.seed, self.grouped = seed, grouped

    def __repr__(self) -> str:
        return f"RandomSplit(fractions={self.fractions}, seed={self.seed}, grouped={self.grouped})"

    def __call__(self, records: Sequence[VideoRecord]) -> Splits:
        out = stratified(records, self.fractions, self.seed, self.grouped)
        return {name: out.get(name, []) for name in SPLITS}


def duplicates(splits: Mapping[str, Sequence[VideoRecord]]) -> dict[str, list[str]]:
    """``{video_id: [split, ...]}`` for every id found in more than one split."""
    seen: dict[str, list[str]] = defaultdict(list)
    for name, records in splits.items():
        for video_id in {r.video_id for r in records}:
            seen[video_id].append(name)
    return {k: v for k, v in seen.items() if len(v) > 1}


def shared_groups(splits: Mapping[str, Sequence[VideoRecord]]) -> dict[str, list[str]]:
    """``{source group: [split, ...]}`` for every source video with clips in more than one split."""
    seen: dict[str, set[str]] = defaultdict(set)
    for name, records in splits.items():
        for record in records:
            seen[record.group].add(name)
    return {k: sorted(v) for k, v in seen.items() if len(v) > 1}


def require_nonempty(splits: Mapping[str, Sequence[VideoRecord]], names: Sequence[str], context: str) -> None:
    """Raise naming the split and ``context`` (the filters, the split strategy) if one is empty."""
    for name in names:
        if not splits.get(name):
            raise ValueError(
                f"split {name!r} has zero clips after {context}; relax the filters or change "
                f"data.split (sizes: { {k: len(v) for k, v in splits.items()} })"
            )
