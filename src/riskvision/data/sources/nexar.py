"""The Nexar source (Nexar Dashcam Collision Prediction, Kaggle 2025): 1,500 labelled dashcam videos (about 40 s,
30 fps, 1280x720), half of them ending in a collision or near-miss.

    <root>/train.csv        id,time_of_event,time_of_alert,target   (seconds from the video's start; target 0/1)
    <root>/train/<id>.mp4
    <root>/test.csv, <root>/test/<id>.mp4    (unlabelled, end before the event: not indexed)

A ``target`` 1 video (collision or near-miss) has its Danger phase (the anomaly) from ``time_of_event`` to the
video's end (``event_span_s`` seconds instead when set) and its Warning phase from ``time_of_alert``
(``VideoRecord.alert_start``) to the event, instead of the label policy's fixed horizon; a ``target`` 0 video has
neither (its empty times). Times become the first frame at or after them (``timebase.frame_at``). Nexar annotates no
ego involvement or night (``False``).

The release's labelled videos are all in ``train.csv`` (its test set is for the competition's submissions, without
labels), so the source holds out ``test_fraction`` of them, drawn with ``seed`` separately among positives and
negatives, as the ``val`` subset, which ``SubsetSplit`` makes riskvision's test split. Record ids are the video files'
stems (``train/00822.mp4`` -> ``00822``; a CSV id ``822`` finds ``00822.mp4`` too), each its own group.

Bad input: a malformed ``train.csv`` row (wrong field count, a ``target`` that is not 0/1, a time that is not a
number >= 0, a positive without ``time_of_event``, an alert after the event, a time past the video's end, a repeated
id) or an id with no video is reported by file and line and its video dropped (fatal ``bad_line`` /
``missing_video``); a positive without ``time_of_alert`` keeps the fixed horizon (reported, not fatal).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from riskvision.data.layout import (
    DataLayoutError,
    is_synthetic,
    parse_seconds,
    read_csv_rows,
    report_line,
    require_folder,
)
from riskvision.data.probe import list_videos, probe_videos
from riskvision.data.records import DataIssue, VideoRecord
from riskvision.data.sources.base import EventFilter, VideoFolderSource
from riskvision.data.splits import partition
from riskvision.data.timebase import frame_at, frame_in_video

NEXAR_FPS = 30.0
COLUMNS = ("id", "time_of_event", "time_of_alert", "target")
LAYOUT = "Nexar: <root>/train.csv (id,time_of_event,time_of_alert,target) and <root>/train/<id>.mp4"
ROOT_KEY = "data.root (data.sources.nexar.root)"
ROW_FIX = "write the row as id,time_of_event,time_of_alert,target (seconds; target 0/1; empty times for target 0)"


@dataclass(frozen=True)
class NexarRow:
    """One usable row of ``train.csv``: its video and times in seconds (``None`` when empty)."""

    line: int
    path: Path
    target: int
    event_s: float | None
    alert_s: float | None


def video_lookup(videos: list[Path]) -> dict[str, Path]:
    """``{name: path}`` by file stem, and for a numeric stem (ASCII digits: ``str.isdigit`` alone takes ``²³``) by
    its number too (``00822`` and ``822``)."""
    out = {path.stem: path for path in videos}
    numbered = [path for path in videos if path.stem.isascii() and path.stem.isdigit()]
    out.update({str(int(path.stem)): path for path in numbered if str(int(path.stem)) not in out})
    return out


def read_train_csv(path: Path, videos: dict[str, Path], issues: list[DataIssue] | None) -> list[NexarRow]:
    """Every usable row of ``train.csv`` whose video exists (see the module docstring for what is reported)."""
    rows, seen = [], {}
    for line, values in read_csv_rows(path, COLUMNS, "id", issues):
        video_id = values["id"]
        try:
            row = _parse_row(line, values, videos, path, issues)
        except ValueError as err:
            report_line(issues, path, line, video_id or "*", str(err), ROW_FIX)
            continue
        except LookupError as err:
            report_line(
                issues,
                path,
                line,
                video_id,
                str(err.args[0]),
                f"put the video at {path.parent}/train/{video_id}.mp4 or remove the row",
                kind="missing_video",
            )
            continue
        if row.path in seen:
            report_line(
                issues,
                path,
                line,
                video_id,
                f"repeats video {row.path.name} of line {seen[row.path]}",
                "keep one row per video",
                done="this row is ignored",
            )
            continue
        seen[row.path] = line
        rows.append(row)
    return rows


def _parse_row(
    line: int, values: dict[str, str], videos: dict[str, Path], path: Path, issues: list[DataIssue] | None
) -> NexarRow:
    """One row; ``ValueError`` for a malformed one, ``LookupError`` for an id with no video."""
    video_id = values["id"]
    if not video_id:
        raise ValueError("has an empty id")
    target = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}.get(values["target"])
    if target is None:
        raise ValueError(f"video {video_id} has target {values['target']!r}, not 1 (collision or near-miss) or 0")
    try:
        event, alert = (parse_seconds(values[column]) for column in ("time_of_event", "time_of_alert"))
    except ValueError as err:
        raise ValueError(f"video {video_id}: time {err}") from None
    if video_id not in videos:
        raise LookupError(f"names video {video_id}, which has no file in {path.parent / 'train'}")
    if target == 0:
        if event is not None or alert is not None:
            report_line(
                issues,
                path,
                line,
                video_id,
                f"gives video {video_id} (target 0) the times {values['time_of_event']!r}, {values['time_of_alert']!r}",
                "leave them empty for target 0",
                done="they are ignored",
                fatal=False,
            )
        return NexarRow(line, videos[video_id], 0, None, None)
    if event is None:
        raise ValueError(f"video {video_id} has target 1 but no time_of_event")
    if alert is not None and alert > event:
        raise ValueError(f"video {video_id} has time_of_alert {alert:g} s after time_of_event {event:g} s")
    if alert is None:
        report_line(
            issues,
            path,
            line,
            video_id,
            f"gives video {video_id} (target 1) no time_of_alert",
            "add the alert time",
            done="its Warning phase is the label policy's fixed horizon",
            kind="missing_alert",
            fatal=False,
        )
    return NexarRow(line, videos[video_id], 1, event, alert)


def build_nexar_index(
    root: str | Path,
    test_fraction: float = 0.2,
    seed: int = 0,
    event_span_s: float | None = None,
    cache_dir: str | Path | None = None,
    issues: list[DataIssue] | None = None,
    write_cache: bool = True,
) -> list[VideoRecord]:
    """Records of every usable ``train.csv`` video under ``root``, in row order, ``test_fraction`` of them (per class)
    in the ``val`` subset.

    Raises:
        DataLayoutError: ``root`` is not a readable folder, has no ``train.csv`` or ``train/`` folder, or
            ``train.csv`` cannot be read or lacks a column.
    """
    root = require_folder(root, ROOT_KEY, LAYOUT)
    csv_path, folder = root / "train.csv", root / "train"
    if not csv_path.is_file() or not folder.is_dir():
        raise DataLayoutError(
            f"Nexar root {root} has no {'train.csv' if not csv_path.is_file() else 'train/ folder'}; "
            f"expected {LAYOUT}. Fix: set {ROOT_KEY} to the folder holding train.csv and train/"
        )
    rows = read_train_csv(csv_path, video_lookup(list_videos(folder, "Nexar", issues)), issues)
    probed = probe_videos(root, [row.path for row in rows], "Nexar", cache_dir, issues, write_cache, prefix="nexar")
    synthetic = is_synthetic(root)
    records = []
    for row in rows:
        if row.path not in probed:
            continue
        try:
            records.append(_record(row, *probed[row.path], event_span_s, synthetic))
        except ValueError as err:
            report_line(
                issues,
                csv_path,
                row.line,
                row.path.stem,
                str(err),
                "correct the time or re-download the video (a shorter file than the times say is incomplete)",
            )
    return hold_out(records, test_fraction, seed)


def _record(row: NexarRow, fps: float, count: int, event_span_s: float | None, synthetic: bool) -> VideoRecord:
    """A row's record; ``ValueError`` when a time lies past the video's end."""
    video_id = row.path.stem
    if not row.target:
        return VideoRecord(video_id, "nexar", row.path, "video", fps, count, synthetic=synthetic, subset="train")
    start = frame_in_video(row.event_s, fps, count, f"video {video_id}'s time_of_event")
    alert = (
        None if row.alert_s is None else frame_in_video(row.alert_s, fps, count, f"video {video_id}'s time_of_alert")
    )
    end = count if event_span_s is None else min(count, max(frame_at(row.event_s + event_span_s, fps), start + 1))
    return VideoRecord(
        video_id,
        "nexar",
        row.path,
        "video",
        fps,
        count,
        start,
        end,
        "collision",
        synthetic=synthetic,
        subset="train",
        alert_start=alert,
    )


def hold_out(records: list[VideoRecord], fraction: float, seed: int) -> list[VideoRecord]:
    """``records`` with ``fraction`` of the positives and of the negatives (a seeded draw, the same for the same ids)
    moved to the ``val`` subset, in the same order (``0 <= fraction < 1``)."""
    held = set()
    for positive in (True, False):
        group = [r for r in records if r.has_anomaly == positive]
        if group and fraction:
            held.update(
                r.video_id
                for r in partition(group, {"train": 1 - fraction, "val": fraction}, seed, grouped=False)["val"]
            )
    return [replace(r, subset="val") if r.video_id in held else r for r in records]


class NexarSource(VideoFolderSource):
    """The labelled Nexar videos under ``root`` (``conf/data/source/nexar.yaml``), labelled ``nexar``.

    Args:
        test_fraction: share of ``train.csv`` (per class) held out as the test split (the ``val`` subset).
        seed: seeds that draw.
        event_span_s: seconds of Danger from ``time_of_event``; ``None``: to the video's end.
        root, filters, cache_dir: as :class:`~riskvision.data.sources.base.VideoFolderSource`.
    """

    root_key, root_holds = ROOT_KEY, LAYOUT

    def __init__(
        self,
        root: str | Path | None,
        test_fraction: float = 0.2,
        seed: int = 0,
        event_span_s: float | None = None,
        filters: EventFilter | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__(root, filters, cache_dir)
        if not 0 <= test_fraction < 1:
            raise ValueError(f"NexarSource test_fraction={test_fraction}; use a fraction in [0, 1)")
        if event_span_s is not None and event_span_s <= 0:
            raise ValueError(f"NexarSource event_span_s={event_span_s}; use seconds > 0, or null for the video's end")
        self.test_fraction, self.seed, self.event_span_s = float(test_fraction), int(seed), event_span_s

    def index(self, root: Path, issues: list[DataIssue]) -> list[VideoRecord]:
        return build_nexar_index(
            root,
            self.test_fraction,
            self.seed,
            self.event_span_s,
            self.cache_dir,
            issues,
            write_cache=not self.read_only,
        )
