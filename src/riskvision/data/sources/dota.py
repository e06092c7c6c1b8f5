"""The DoTA source (Yao et al., Detection of Traffic Anomaly): the official release layout and the bilstm
seed's prepared layout, which also holds the seed's BDD100K frames.

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
Records are labelled ``source="dota"`` (the seed layout's normal videos ``"bdd"``); a DoTA clip's group is
the YouTube video it was cut from (the id before the last ``_``), so grouped splits keep them together.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from riskvision.data.layout import (
    INDEX_PROGRESS_S,
    DataFileError,
    DataLayoutError,
    check_fields,
    clip_span,
    is_synthetic,
    list_frames,
    load_json,
    read_subset_lists,
    require_folder,
)
from riskvision.data.records import DataIssue, VideoRecord, report
from riskvision.data.sources.base import RecordSource
from riskvision.progress import ProgressLine

DOTA_FPS = 10.0
SEED_BDD_FPS = 10.0

CATEGORIES = (
    "start_stop_or_stationary",
    "moving_ahead_or_waiting",
    "lateral",
    "oncoming",
    "turning",
    "pedestrian",
    "obstacle",
    "leave_to_right",
    "leave_to_left",
    "unknown",
)
#: DoTA paper's short codes (OO, "out of control", covers both leave_to_* classes).
CATEGORY_CODES = {
    "ST": ("start_stop_or_stationary",),
    "AH": ("moving_ahead_or_waiting",),
    "LA": ("lateral",),
    "OC": ("oncoming",),
    "TC": ("turning",),
    "VP": ("pedestrian",),
    "VO": ("obstacle",),
    "OO": ("leave_to_right", "leave_to_left"),
    "UK": ("unknown",),
}

OFFICIAL_LAYOUT = (
    "official DoTA release: <root>/metadata_{train,val}.json (or <root>/dataset/), "
    "<root>/annotations/<clip>.json, <root>/frames/<clip>/images/%06d.jpg (or <root>/<clip>/%06d.jpg)"
)
SEED_LAYOUT = (
    "bilstm seed: <root>/final_{train,val}_split.txt, <root>/final_metadata_*.json, "
    "<root>/DoTA/DoTA_Frames/<clip>/images/*.jpg, <root>/BDD100K/BDD_Frames/<id>/*.jpg"
)
ROOT_KEY = "data.dota_root"
ROOT_HOLDS = f"one of the DoTA layouts ({OFFICIAL_LAYOUT}; or {SEED_LAYOUT})"

#: ``{field: (type, required)}`` of a clip's entry in metadata_{train,val}.json (the seed's final_metadata_*.json).
METADATA_FIELDS = {
    "num_frames": (int, True),
    "anomaly_start": (int, True),
    "anomaly_end": (int, True),
    "anomaly_class": (str, False),
}
#: ``{field: (type, required)}`` of annotations/<clip>.json (the fields riskvision reads or checks).
ANNOTATION_FIELDS = {
    "num_frames": (int, True),
    "anomaly_start": (int, False),
    "anomaly_end": (int, False),
    "ego_involve": (bool, False),
    "night": (bool, False),
    "ignore": (bool, False),
    "accident_name": (str, False),
    "labels": (list, False),
}


# ----------------------------------------------------------------------------- layout detection


def detect_dota_layout(root: str | Path) -> str:
    """``"official"`` or ``"seed"``; raises :class:`DataLayoutError` showing both layouts otherwise."""
    root = require_folder(root, ROOT_KEY, ROOT_HOLDS)
    if (root / "DoTA" / "DoTA_Frames").is_dir() or (root / "final_train_split.txt").is_file():
        return "seed"
    if _official_metadata_dir(root) is not None:
        return "official"
    raise DataLayoutError(
        f"DoTA root {root} matches no known layout (exists: {root.is_dir()}). Expected either\n"
        f"  {OFFICIAL_LAYOUT}\n  {SEED_LAYOUT}\nSet data.dota_root (data.sources.dota.root) to such a folder."
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

    A clip whose metadata entry or annotation is unusable, or whose frames are missing, unreadable or
    fewer than its ``num_frames``, is dropped with a warning and a fatal issue; anomaly spans beyond the
    clip are clipped and reported; all go to ``issues`` when given.

    Raises:
        DataLayoutError: ``root`` is not a readable folder, matches no layout, or a file listing every clip
            (metadata, split file) cannot be used.
    """
    root = require_folder(root, ROOT_KEY, ROOT_HOLDS)
    chosen = detect_dota_layout(root) if layout == "auto" else layout
    builders = {"official": _build_official, "seed": _build_seed}
    if chosen not in builders:
        raise ValueError(f"DoTA layout {layout!r} for {root}; use auto, official or seed")
    return builders[chosen](root, issues)


# ----------------------------------------------------------------------------- official layout


def _build_official(root: Path, issues: list[DataIssue] | None) -> list[VideoRecord]:
    meta_dir = _official_metadata_dir(root)
    if meta_dir is None:
        raise DataLayoutError(
            f"DoTA root {root} has no metadata_train.json/metadata_val.json; expected {OFFICIAL_LAYOUT}"
        )
    metadata: dict[str, tuple[Path, object]] = {}
    subsets: dict[str, str] = {}
    for subset in ("train", "val"):
        path = meta_dir / f"metadata_{subset}.json"
        if path.is_file():
            entries = load_json(path)
            metadata.update({clip: (path, entry) for clip, entry in entries.items()})
            subsets.update({clip: subset for clip in entries})
    split_subsets = read_official_splits(meta_dir, issues)
    if split_subsets:
        subsets = split_subsets
    frames_dir = root / "frames" if (root / "frames").is_dir() else root
    annotations_dir = root / "annotations"
    annotations = annotations_dir.is_dir()
    if not annotations:
        report(
            issues,
            DataIssue(
                "missing_annotation",
                "*",
                str(annotations_dir),
                f"DoTA root {root} has no annotations/ folder: night and ignore are unknown (False) "
                f"and ego comes from metadata anomaly_class",
            ),
        )
    synthetic = is_synthetic(root)
    records = []
    progress = ProgressLine(f"indexing DoTA clips in {root}", len(subsets), "clips")
    for clip, subset in subsets.items():
        progress.advance()
        if clip not in metadata:
            report(
                issues,
                DataIssue(
                    "missing_metadata",
                    clip,
                    str(meta_dir),
                    f"DoTA clip {clip} is in {subset}_split.txt but not in metadata_*.json in {meta_dir}; dropped",
                ),
            )
            continue
        annotation = annotations_dir / f"{clip}.json" if annotations else None
        record = _dota_record(
            clip, clip_frame_folder(frames_dir / clip), metadata[clip], annotation, subset, synthetic, issues
        )
        if record is not None:
            records.append(record)
    progress.close(min_elapsed_s=INDEX_PROGRESS_S)
    return records


def read_official_splits(folder: Path, issues: list[DataIssue] | None = None) -> dict[str, str]:
    """``{clip: "train"|"val"}`` from ``{train,val}_split.txt`` in ``folder`` (empty when absent).

    A clip listed in both files is reported as a fatal ``duplicate_split`` issue and kept in train.
    """
    paths = {subset: folder / f"{subset}_split.txt" for subset in ("val", "train")}
    return read_subset_lists({subset: path for subset, path in paths.items() if path.is_file()}, issues)


def clip_frame_folder(clip_dir: Path) -> Path:
    """The folder holding a clip's frames: ``<clip_dir>/images`` when it is a folder, else ``clip_dir``
    (never raises: an unreadable or looping ``clip_dir`` is reported when its frames are listed)."""
    images = clip_dir / "images"
    return images if os.path.isdir(images) else clip_dir


# ----------------------------------------------------------------------------- seed layout


def _build_seed(root: Path, issues: list[DataIssue] | None) -> list[VideoRecord]:
    paths = {subset: root / f"final_{subset}_split.txt" for subset in ("val", "train")}
    for path in paths.values():
        if not path.is_file():
            raise DataLayoutError(f"seed layout root {root} has no {path.name}; expected {SEED_LAYOUT}")
    subsets = read_subset_lists(paths, issues)
    metadata: dict[str, tuple[Path, object]] = {}
    for path in sorted(root.glob("*metadata*.json")):
        metadata.update({clip: (path, entry) for clip, entry in load_json(path).items()})
    dota_dir, bdd_dir = root / "DoTA" / "DoTA_Frames", root / "BDD100K" / "BDD_Frames"
    synthetic = is_synthetic(root)
    records = []
    progress = ProgressLine(f"indexing seed-layout clips in {root}", len(subsets), "clips")
    for clip, subset in subsets.items():
        progress.advance()
        meta = metadata.get(clip)
        normal = meta is not None and isinstance(meta[1], dict) and meta[1].get("anomaly_class") == "normal"
        if normal or os.path.isdir(bdd_dir / clip):
            record = _seed_bdd_record(clip, bdd_dir / clip, subset, synthetic, issues)
        elif meta is None:
            report(
                issues,
                DataIssue(
                    "missing_metadata",
                    clip,
                    str(root),
                    f"seed clip {clip} has no entry in {root}/*metadata*.json and no BDD frame folder; dropped",
                ),
            )
            continue
        else:
            record = _dota_record(clip, clip_frame_folder(dota_dir / clip), meta, None, subset, synthetic, issues)
        if record is not None:
            records.append(record)
    progress.close(min_elapsed_s=INDEX_PROGRESS_S)
    return records


def _seed_bdd_record(
    clip: str, folder: Path, subset: str, synthetic: bool, issues: list[DataIssue] | None
) -> VideoRecord | None:
    files = list_frames(folder, clip, None, issues)
    if files is None:
        return None
    return VideoRecord(
        clip, "bdd", folder, "frames", SEED_BDD_FPS, len(files), frame_files=files, synthetic=synthetic, subset=subset
    )


# ----------------------------------------------------------------------------- shared


def _dota_record(
    clip: str,
    folder: Path,
    meta: tuple[Path, object],
    annotation_path: Path | None,
    subset: str,
    synthetic: bool,
    issues: list[DataIssue] | None,
) -> VideoRecord | None:
    """One DoTA record from its metadata entry ``(file, entry)`` and its annotation file (when the layout has
    annotations), or ``None`` when dropped.

    Every problem with either file (see :func:`_read_clip_files`) drops the clip with one fatal
    ``bad_clip_file`` issue naming the clip, the file and the fix.
    """
    try:
        entry, annotation = _read_clip_files(clip, meta, annotation_path, issues)
    except DataFileError as err:
        report(issues, DataIssue("bad_clip_file", clip, str(err.path), f"DoTA clip {clip} dropped: {err}", fatal=True))
        return None
    expected = (annotation or entry)["num_frames"]
    files = list_frames(folder, clip, expected, issues)
    if files is None:
        return None
    annotation = annotation or {}
    if "labels" in annotation and len(annotation["labels"]) != expected:
        report(
            issues,
            DataIssue(
                "label_count",
                clip,
                str(annotation_path),
                f"DoTA clip {clip}: annotation has {len(annotation['labels'])} labels[] entries "
                f"for num_frames={expected}; num_frames is used",
            ),
        )
    ego, category = parse_anomaly_class(entry.get("anomaly_class") or "")
    ego = annotation.get("ego_involve", ego)
    category = annotation.get("accident_name") or category
    start, end = clip_span(clip, folder, entry["anomaly_start"], entry["anomaly_end"], len(files), issues)
    return VideoRecord(
        clip,
        "dota",
        folder,
        "frames",
        DOTA_FPS,
        len(files),
        start,
        end,
        category,
        ego,
        night=annotation.get("night", False),
        frame_files=files,
        synthetic=synthetic,
        subset=subset,
        ignore=annotation.get("ignore", False),
        group=clip.rsplit("_", 1)[0],
    )


def _read_clip_files(
    clip: str, meta: tuple[Path, object], annotation_path: Path | None, issues: list[DataIssue] | None
) -> tuple[dict, dict | None]:
    """A clip's checked metadata entry and annotation (``None`` without one; a missing file is reported).

    Raises:
        DataFileError: an entry or annotation that is not a JSON object, a file that cannot be read or is
            not UTF-8 JSON, a missing or mistyped field (:data:`METADATA_FIELDS`, :data:`ANNOTATION_FIELDS`),
            ``num_frames < 1`` or ``anomaly_start > anomaly_end``.
    """
    meta_path, entry = meta
    entry = _check_clip_entry(entry, METADATA_FIELDS, meta_path, f"the entry of clip {clip}")
    if annotation_path is None:
        return entry, None
    try:
        annotation = load_json(annotation_path)
    except DataFileError:
        raise  # a DataLayoutError, so a FileNotFoundError too, but the file is there
    except FileNotFoundError:
        report(
            issues,
            DataIssue(
                "missing_annotation",
                clip,
                str(annotation_path),
                f"DoTA annotation {annotation_path} is missing: night/ignore unknown (False), ego from metadata",
            ),
        )
        return entry, None
    return entry, _check_clip_entry(annotation, ANNOTATION_FIELDS, annotation_path, f"the annotation of clip {clip}")


def _check_clip_entry(entry: object, fields: dict[str, tuple[type, bool]], path: Path, what: str) -> dict:
    """``entry`` with ``fields`` checked, ``num_frames >= 1`` and ``anomaly_start <= anomaly_end`` (when both
    are given); :class:`DataFileError` naming ``path`` and ``what`` otherwise."""
    entry = check_fields(entry, fields, path, what)
    if entry["num_frames"] < 1:
        raise DataFileError(
            path,
            f"says num_frames={entry['num_frames']} for {what}; a clip has at least 1 frame",
            "set num_frames to the number of frames the clip has, or remove the clip from the split files",
        )
    start, end = entry.get("anomaly_start"), entry.get("anomaly_end")
    if start is not None and end is not None and start > end:
        raise DataFileError(
            path,
            f"says anomaly_start={start} > anomaly_end={end} for {what}",
            "correct the span [anomaly_start, anomaly_end) (end exclusive, start <= end), or "
            "remove the clip from the split files",
        )
    return entry


def parse_anomaly_class(anomaly_class: str) -> tuple[bool, str]:
    """``"ego: lateral"`` -> ``(True, "lateral")``; the seed's ``"lateral"`` -> ``(False, "lateral")``."""
    who, sep, name = anomaly_class.partition(":")
    if not sep:
        return False, anomaly_class.strip()
    return who.strip() == "ego", name.strip()


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
            raise ValueError(
                f"unknown DoTA category {item!r}; use a code {sorted(CATEGORY_CODES)} or a name {CATEGORIES}"
            )
    return frozenset(names)


class DotaFilter:
    """Which DoTA clips to keep (the seed layout's normal videos, labelled ``bdd``, always pass).

    Args:
        categories: accident categories to keep, names or codes (``[ST, AH, LA, OC, TC]`` for the
            seed); ``None`` keeps all.
        ego_only: keep only clips where the ego vehicle is involved.
        skip_ignore: drop clips whose annotation has ``ignore: true``.
        skip_night: drop night clips.
    """

    def __init__(
        self,
        categories: Iterable[str] | None = None,
        ego_only: bool = False,
        skip_ignore: bool = True,
        skip_night: bool = False,
    ) -> None:
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

    def __repr__(self) -> str:
        cats = None if self.categories is None else sorted(self.categories)
        return (
            f"DotaFilter(categories={cats}, ego_only={self.ego_only}, "
            f"skip_ignore={self.skip_ignore}, skip_night={self.skip_night})"
        )


# ----------------------------------------------------------------------------- the source


class DotaSource(RecordSource):
    """DoTA clips under ``root`` (``conf/data/source/dota.yaml``).

    Args:
        root: the DoTA root (official or seed layout); ``None``: this source contributes nothing.
        layout: ``auto`` (detected), ``official`` or ``seed``.
        filters: which clips to keep (:class:`DotaFilter`; default: all but ``ignore`` clips).
    """

    def __init__(self, root: str | Path | None, layout: str = "auto", filters: DotaFilter | None = None) -> None:
        self.root = None if root is None else Path(root)
        self.layout = layout
        self.filters = filters or DotaFilter()

    def __repr__(self) -> str:
        return f"DotaSource(root={str(self.root)!r}, layout={self.layout!r}, filters={self.filters!r})"

    def check_root(self) -> None:
        if self.root is not None:
            require_folder(self.root, ROOT_KEY, ROOT_HOLDS)

    @property
    def active(self) -> bool:
        return self.root is not None

    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        return build_dota_index(self.root, self.layout, issues) if self.root is not None else []

    def keep(self, record: VideoRecord) -> bool:
        return self.filters.keep(record)
