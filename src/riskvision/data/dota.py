"""DoTA index builders: the official release layout and the bilstm seed's prepared layout.

Official release (``layout="official"``)::

    <root>/metadata_{train,val}.json        (or <root>/dataset/...)
    <root>/{train,val}_split.txt            (optional; decide which clips exist and their subset)
    <root>/annotations/<clip>.json          (optional; ego_involve, night, ignore)
    <root>/frames/<clip>/images/%06d.jpg    (or <root>/frames/<clip>/%06d.jpg or <root>/<clip>/%06d.jpg)

bilstm seed (``layout="seed"``), DoTA and BDD100K together::

    <root>/final_{train,val}_split.txt      (DoTA and BDD ids mixed)
    <root>/final_metadata_*.json, <root>/metadata_*_bdd.json   (anomaly_class without "ego:/other:")
    <root>/DoTA/DoTA_Frames/<clip>/images/*.jpg
    <root>/BDD100K/BDD_Frames/<id>/*.jpg    (10 fps, numbered from 1)

Frames are numbered from 0 or 1; ``VideoRecord.frame_files[i]`` is native frame ``i`` either way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from riskvision.data.records import DataIssue, VideoRecord, report

DOTA_FPS = 10.0
SEED_BDD_FPS = 10.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SYNTHETIC_MARKER = "synthetic.json"

CATEGORIES = (
    "start_stop_or_stationary", "moving_ahead_or_waiting", "lateral", "oncoming", "turning",
    "pedestrian", "obstacle", "leave_to_right", "leave_to_left", "unknown",
)
#: DoTA paper's short codes (OO, "out of control", covers both leave_to_* classes).
CATEGORY_CODES = {
    "ST": ("start_stop_or_stationary",), "AH": ("moving_ahead_or_waiting",), "LA": ("lateral",),
    "OC": ("oncoming",), "TC": ("turning",), "VP": ("pedestrian",), "VO": ("obstacle",),
    "OO": ("leave_to_right", "leave_to_left"), "UK": ("unknown",),
}

OFFICIAL_LAYOUT = (
    "official DoTA release: <root>/metadata_{train,val}.json (or <root>/dataset/), "
    "<root>/annotations/<clip>.json, <root>/frames/<clip>/images/%06d.jpg (or <root>/<clip>/%06d.jpg)"
)
SEED_LAYOUT = (
    "bilstm seed: <root>/final_{train,val}_split.txt, <root>/final_metadata_*.json, "
    "<root>/DoTA/DoTA_Frames/<clip>/images/*.jpg, <root>/BDD100K/BDD_Frames/<id>/*.jpg"
)


class DataLayoutError(FileNotFoundError):
    """A data root does not match any supported layout."""


# ----------------------------------------------------------------------------- layout detection

def detect_dota_layout(root: str | Path) -> str:
    """``"official"`` or ``"seed"``; raises :class:`DataLayoutError` showing both layouts otherwise."""
    root = Path(root)
    if (root / "DoTA" / "DoTA_Frames").is_dir() or (root / "final_train_split.txt").is_file():
        return "seed"
    if _official_metadata_dir(root) is not None:
        return "official"
    raise DataLayoutError(
        f"DoTA root {root} matches no known layout (exists: {root.is_dir()}). Expected either\n"
        f"  {OFFICIAL_LAYOUT}\n  {SEED_LAYOUT}\nSet data.dota_root to such a folder."
    )


def _official_metadata_dir(root: Path) -> Path | None:
    for folder in (root, root / "dataset"):
        if any((folder / f"metadata_{s}.json").is_file() for s in ("train", "val")):
            return folder
    return None


def build_dota_index(
    root: str | Path, layout: str = "auto", issues: list[DataIssue] | None = None
) -> list[VideoRecord]:
    """Records of every usable clip under ``root`` (``layout``: ``auto``, ``official`` or ``seed``).

    Clips with a missing frame folder or metadata are dropped with a warning; anomaly spans beyond
    the clip are clipped and reported; both go to ``issues`` when given.
    """
    root = Path(root)
    chosen = detect_dota_layout(root) if layout == "auto" else layout
    builders = {"official": _build_official, "seed": _build_seed}
    if chosen not in builders:
        raise ValueError(f"DoTA layout {layout!r} for {root}; use auto, official or seed")
    return builders[chosen](root, issues)


# ----------------------------------------------------------------------------- official layout

def _build_official(root: Path, issues: list[DataIssue] | None) -> list[VideoRecord]:
    meta_dir = _official_metadata_dir(root)
    if meta_dir is None:
        raise DataLayoutError(f"DoTA root {root} has no metadata_train.json/metadata_val.json; expected {OFFICIAL_LAYOUT}")
    metadata: dict[str, dict] = {}
    subsets: dict[str, str] = {}
    for subset in ("train", "val"):
        path = meta_dir / f"metadata_{subset}.json"
        if path.is_file():
            entries = load_json(path)
            metadata.update(entries)
            subsets.update({clip: subset for clip in entries})
    split_subsets = read_official_splits(meta_dir, issues)
    if split_subsets:
        subsets = split_subsets
    frames_dir = root / "frames" if (root / "frames").is_dir() else root
    annotations_dir = root / "annotations"
    if not annotations_dir.is_dir():
        report(issues, DataIssue("missing_annotation", "*", str(annotations_dir),
                                 f"DoTA root {root} has no annotations/ folder: night and ignore are unknown (False) "
                                 f"and ego comes from metadata anomaly_class"))
    synthetic = (root / SYNTHETIC_MARKER).is_file()
    records = []
    for clip, subset in subsets.items():
        if clip not in metadata:
            report(issues, DataIssue("missing_metadata", clip, str(meta_dir),
                                     f"DoTA clip {clip} is in {subset}_split.txt but not in metadata_*.json in {meta_dir}; dropped"))
            continue
        folder = frames_dir / clip / "images"
        if not folder.is_dir():
            folder = frames_dir / clip
        annotation = _load_annotation(annotations_dir / f"{clip}.json", clip, annotations_dir.is_dir(), issues)
        record = _dota_record(clip, folder, metadata[clip], annotation, subset, synthetic, issues)
        if record is not None:
            records.append(record)
    return records


def read_official_splits(folder: Path, issues: list[DataIssue] | None = None) -> dict[str, str]:
    """``{clip: "train"|"val"}`` from ``{train,val}_split.txt`` in ``folder`` (empty when absent).

    A clip listed in both files is reported as a fatal ``duplicate_split`` issue and kept in train.
    """
    subsets: dict[str, str] = {}
    for subset in ("val", "train"):
        path = folder / f"{subset}_split.txt"
        if not path.is_file():
            continue
        for clip in read_id_list(path):
            if clip in subsets:
                report(issues, DataIssue("duplicate_split", clip, str(path),
                                         f"clip {clip} is listed in both train_split.txt and val_split.txt in {folder}",
                                         fatal=True))
            subsets[clip] = subset
    return subsets


def _load_annotation(path: Path, clip: str, expected: bool, issues: list[DataIssue] | None) -> dict | None:
    if path.is_file():
        return load_json(path)
    if expected:
        report(issues, DataIssue("missing_annotation", clip, str(path),
                                 f"DoTA annotation {path} is missing: night/ignore unknown (False), ego from metadata"))
    return None


# ----------------------------------------------------------------------------- seed layout

def _build_seed(root: Path, issues: list[DataIssue] | None) -> list[VideoRecord]:
    subsets: dict[str, str] = {}
    for subset in ("val", "train"):
        path = root / f"final_{subset}_split.txt"
        if not path.is_file():
            raise DataLayoutError(f"seed layout root {root} has no {path.name}; expected {SEED_LAYOUT}")
        for clip in read_id_list(path):
            if clip in subsets:
                report(issues, DataIssue("duplicate_split", clip, str(path),
                                         f"clip {clip} is in both final_train_split.txt and final_val_split.txt",
                                         fatal=True))
            subsets[clip] = subset
    metadata: dict[str, dict] = {}
    for path in sorted(root.glob("*metadata*.json")):
        metadata.update(load_json(path))
    dota_dir, bdd_dir = root / "DoTA" / "DoTA_Frames", root / "BDD100K" / "BDD_Frames"
    synthetic = (root / SYNTHETIC_MARKER).is_file()
    records = []
    for clip, subset in subsets.items():
        meta = metadata.get(clip)
        if (meta is not None and meta.get("anomaly_class") == "normal") or (bdd_dir / clip).is_dir():
            record = _seed_bdd_record(clip, bdd_dir / clip, subset, synthetic, issues)
        elif meta is None:
            report(issues, DataIssue("missing_metadata", clip, str(root),
                                     f"seed clip {clip} has no entry in {root}/*metadata*.json and no BDD frame "
                                     f"folder; dropped"))
            continue
        else:
            folder = dota_dir / clip / "images"
            folder = folder if folder.is_dir() else dota_dir / clip
            record = _dota_record(clip, folder, meta, None, subset, synthetic, issues)
        if record is not None:
            records.append(record)
    return records


def _seed_bdd_record(clip: str, folder: Path, subset: str, synthetic: bool,
                     issues: list[DataIssue] | None) -> VideoRecord | None:
    files = list_frames(folder, clip, None, issues)
    if files is None:
        return None
    return VideoRecord(clip, "bdd", folder, "frames", SEED_BDD_FPS, len(files), frame_files=files,
                       synthetic=synthetic, subset=subset)


# ----------------------------------------------------------------------------- shared

def _dota_record(clip: str, folder: Path, meta: dict, annotation: dict | None, subset: str,
                 synthetic: bool, issues: list[DataIssue] | None) -> VideoRecord | None:
    """One DoTA record from metadata (+ annotation when present), or ``None`` when dropped."""
    expected = int((annotation or meta)["num_frames"])
    files = list_frames(folder, clip, expected, issues)
    if files is None:
        return None
    if annotation is not None and len(annotation.get("labels", [])) != expected:
        report(issues, DataIssue("label_count", clip, str(folder),
                                 f"DoTA clip {clip}: annotation has {len(annotation['labels'])} labels[] entries "
                                 f"for num_frames={expected}; num_frames is used"))
    ego, category = parse_anomaly_class(str(meta.get("anomaly_class", "")))
    if annotation is not None:
        ego = bool(annotation.get("ego_involve", ego))
        category = str(annotation.get("accident_name") or category)
    start, end = clip_span(clip, folder, meta.get("anomaly_start"), meta.get("anomaly_end"), len(files), issues)
    return VideoRecord(
        clip, "dota", folder, "frames", DOTA_FPS, len(files), start, end, category, ego,
        night=bool((annotation or {}).get("night", False)), frame_files=files, synthetic=synthetic,
        subset=subset, ignore=bool((annotation or {}).get("ignore", False)),
    )


def parse_anomaly_class(anomaly_class: str) -> tuple[bool, str]:
    """``"ego: lateral"`` -> ``(True, "lateral")``; the seed's ``"lateral"`` -> ``(False, "lateral")``."""
    who, sep, name = anomaly_class.partition(":")
    if not sep:
        return False, anomaly_class.strip()
    return who.strip() == "ego", name.strip()


def clip_span(clip: str, path: Path, start: int | None, end: int | None, num_frames: int,
              issues: list[DataIssue] | None) -> tuple[int | None, int | None]:
    """Anomaly span ``[start, end)`` clipped into ``[0, num_frames]`` (non-empty), reporting any change."""
    if start is None or end is None:
        return None, None
    new_start = min(max(int(start), 0), num_frames - 1)
    new_end = min(max(int(end), new_start + 1), num_frames)
    if (new_start, new_end) != (start, end):
        report(issues, DataIssue("span_clipped", clip, str(path),
                                 f"clip {clip}: anomaly span [{start}, {end}) does not fit its {num_frames} frames; "
                                 f"clipped to [{new_start}, {new_end})"))
    return new_start, new_end


def list_frames(folder: Path, clip: str, expected: int | None,
                issues: list[DataIssue] | None) -> tuple[str, ...] | None:
    """Sorted image names of ``folder``, index ``i`` = native frame ``i``; ``None`` (dropped) if none.

    With numeric names, a gap in the numbering is filled with the nearest existing frame and
    reported. When ``expected`` is given and fewer frames exist, the clip is shortened and reported;
    extra frames beyond ``expected`` are ignored.
    """
    try:
        names = [e.name for e in os.scandir(folder) if e.name.lower().endswith(IMAGE_SUFFIXES)]
    except (FileNotFoundError, NotADirectoryError):
        names = []
    if not names:
        report(issues, DataIssue("missing_folder", clip, str(folder),
                                 f"frame folder {folder} of {clip} is missing or holds no images; clip dropped"))
        return None
    files = _fill_gaps(sorted(names), clip, folder, issues)
    if expected is not None and len(files) < expected:
        report(issues, DataIssue("missing_frames", clip, str(folder),
                                 f"{folder} has {len(files)} frames, metadata says {expected}; using {len(files)}"))
    return files[:expected] if expected is not None else files


def _fill_gaps(names: list[str], clip: str, folder: Path, issues: list[DataIssue] | None) -> tuple[str, ...]:
    numbers = [re.findall(r"\d+", Path(n).stem) for n in names]
    if not all(numbers):
        return tuple(names)
    by_number = {int(num[-1]): name for num, name in zip(numbers, names)}
    first, last = min(by_number), max(by_number)
    if len(by_number) == last - first + 1:
        return tuple(by_number[k] for k in range(first, last + 1))
    present = sorted(by_number)
    missing = [k for k in range(first, last + 1) if k not in by_number]
    report(issues, DataIssue("missing_frames", clip, str(folder),
                             f"{folder} lacks {len(missing)} numbered frames (first: {missing[0]}); "
                             f"each is replaced by its nearest existing frame"))
    filled = [by_number.get(k) or by_number[min(present, key=lambda p: (abs(p - k), p))] for k in range(first, last + 1)]
    return tuple(filled)


def read_id_list(path: Path) -> list[str]:
    """Non-empty stripped lines of a split file."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def load_json(path: Path) -> dict:
    """Parse ``path``; a malformed file is an error naming it."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); restore it from the data set release") from err


# ----------------------------------------------------------------------------- filters

def resolve_categories(categories: Iterable[str]) -> frozenset[str]:
    """Category names from names or short codes (``ST``, ``lateral``, ...), case-insensitive."""
    names: set[str] = set()
    for item in categories:
        key = str(item).strip()
        if key.upper() in CATEGORY_CODES:
            names.update(CATEGORY_CODES[key.upper()])
        elif key.lower() in CATEGORIES:
            names.add(key.lower())
        else:
            raise ValueError(f"unknown DoTA category {item!r}; use a code {sorted(CATEGORY_CODES)} or a name {CATEGORIES}")
    return frozenset(names)


class RecordFilter:
    """Which DoTA clips to keep (videos without anomaly, e.g. BDD, always pass).

    Args:
        categories: accident categories to keep, names or codes (``[ST, AH, LA, OC, TC]`` for the
            seed); ``None`` keeps all.
        ego_only: keep only clips where the ego vehicle is involved.
        skip_ignore: drop clips whose annotation has ``ignore: true``.
        skip_night: drop night clips.
    """

    def __init__(self, categories: Iterable[str] | None = None, ego_only: bool = False,
                 skip_ignore: bool = True, skip_night: bool = False) -> None:
        self.categories = None if categories is None else resolve_categories(categories)
        self.ego_only = ego_only
        self.skip_ignore = skip_ignore
        self.skip_night = skip_night

    def keep(self, record: VideoRecord) -> bool:
        if record.source != "dota":
            return True
        return not (
            (self.categories is not None and record.category not in self.categories)
            or (self.ego_only and not record.ego)
            or (self.skip_ignore and record.ignore)
            or (self.skip_night and record.night)
        )

    def __call__(self, records: Iterable[VideoRecord]) -> list[VideoRecord]:
        return [r for r in records if self.keep(r)]

    def __repr__(self) -> str:
        cats = None if self.categories is None else sorted(self.categories)
        return (f"RecordFilter(categories={cats}, ego_only={self.ego_only}, "
                f"skip_ignore={self.skip_ignore}, skip_night={self.skip_night})")
