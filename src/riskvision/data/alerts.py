"""Consensus alert labels: a CSV of re-annotated test clips (of DoTA, DAD and DADA-2000, by Nexar's annotators) laid
over the records of any source (``data.labels.alerts=PATH``, read by the label policy after the sources built their
records, before any filter).

    id,batch,Event-type,Nexar-vehicle-involved,min_support,Time-of-alert,Time-of-collision,Diff,article_category,ego_discrepancy
    0RJPQ_97dcs_003475.mp4,...,yes,...,1.4,2.9,1.5,...

Read: ``id`` and ``Time-of-alert`` (required), ``Time-of-collision`` and ``Nexar-vehicle-involved`` (when the header
has them); the other columns are not used. Times are seconds from the video's start.

Matching: a row's ``id`` minus its video suffix (``.mp4``, ...) is a record id (DoTA's ``0RJPQ_97dcs_003475``); a row
matching no record id matches the one record whose video file has that name (DAD's ``000456.mp4`` is the record
``testing_positive_000456``), if exactly one has. Rows matching no record (the CSV covers several data sets) are
reported together in one ``unmatched_alert`` issue, not fatal.

A matched record gets ``alert_start``, the first frame at or after ``Time-of-alert`` (the label policy's Warning then
runs from it to the anomaly instead of the fixed horizon; an empty time leaves the record's own), and ``ego`` from
``Nexar-vehicle-involved`` (yes/no, true/false, 1/0; empty keeps the source's). ``Time-of-collision`` is checked (a
time after the alert, inside the video) but the anomaly span stays the source's. A malformed row (a time that is not
a number >= 0, a collision before the alert, an unknown ego value, a repeated id) or a time past the video's end is
reported by file and line and the row dropped (fatal ``bad_line``); an alert at or after the record's anomaly start
(an empty Warning) or on a record without anomaly is reported, not fatal.

Filter (:meth:`AlertLabels.keep`): ``ego`` keeps only the crash records whose ego flag (after the overlay) is that
value; ``listed_only`` keeps only the crash records the CSV matched. Records without an anomaly always pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from riskvision.data.layout import DataLayoutError, parse_seconds, read_csv_rows, report_line
from riskvision.data.probe import VIDEO_SUFFIXES
from riskvision.data.records import DataIssue, VideoRecord, report
from riskvision.data.sources.base import EventFilter
from riskvision.data.timebase import frame_in_video

__all__ = ["AlertLabels"]

ID, ALERT, COLLISION, EGO = "id", "Time-of-alert", "Time-of-collision", "Nexar-vehicle-involved"
EGO_VALUES = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}
ROW_FIX = (
    f"give {ALERT} and {COLLISION} as seconds from the video's start ({COLLISION} >= {ALERT}, both inside the "
    f"video) and {EGO} as yes or no, or remove the row"
)
#: How many unmatched rows the ``unmatched_alert`` issue names.
LISTED = 10


class AlertLabels:
    """The consensus alert labels of ``path`` over a list of records (see the module docstring).

    Args:
        path: the CSV file.
        ego: keep only the crash records whose (re-annotated) ego flag is this value; ``None`` keeps both.
        listed_only: keep only the crash records the CSV matched.
    """

    def __init__(self, path: str | Path, ego: bool | None = None, listed_only: bool = False) -> None:
        self.path = Path(path)
        self.filter = EventFilter(ego=ego)
        self.listed_only = bool(listed_only)
        self.listed: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"AlertLabels({str(self.path)!r}, ego={self.filter.ego}, listed_only={self.listed_only})"

    def apply(self, records: Sequence[VideoRecord], issues: list[DataIssue] | None) -> list[VideoRecord]:
        """``records`` in the same order, those the CSV matches with its alert frame and ego flag (re-reads the file).

        Raises:
            DataLayoutError: there is no such file.
            DataFileError: the CSV cannot be read, is empty, or its header lacks ``id`` or ``Time-of-alert``.
        """
        if not self.path.is_file():
            raise DataLayoutError(
                f"data.labels.alerts={self.path} is not a file. Fix: set data.labels.alerts to the "
                f"consensus alert labels CSV ({ID},...,{ALERT},{COLLISION},...), or to null"
            )
        by_id = {record.video_id: i for i, record in enumerate(records)}
        by_file: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            if record.kind == "video":
                by_file.setdefault(record.path.stem, []).append(i)
        out, matched, unmatched = list(records), {}, []
        for line, values in read_csv_rows(self.path, (ID, ALERT), ID, issues):
            name = _stem(values[ID])
            index = by_id.get(name)
            if index is None and len(by_file.get(name, ())) == 1:
                index = by_file[name][0]
            if index is None:
                unmatched.append(f"line {line}: {values[ID]}")
                continue
            record = records[index]
            if record.video_id in matched:
                report_line(
                    issues,
                    self.path,
                    line,
                    record.video_id,
                    f"repeats video {record.video_id} of line {matched[record.video_id]}",
                    "keep one row per video",
                    done="this row is ignored",
                )
                continue
            try:
                out[index] = self._overlay(record, values, line, issues)
            except ValueError as err:
                report_line(
                    issues,
                    self.path,
                    line,
                    record.video_id,
                    f"{values[ID]} (record {record.video_id}): {err}",
                    ROW_FIX,
                    done="the row is ignored",
                )
                continue
            matched[record.video_id] = line
        if unmatched:
            shown = ", ".join(unmatched[:LISTED]) + (
                f" and {len(unmatched) - LISTED} more" if len(unmatched) > LISTED else ""
            )
            report(
                issues,
                DataIssue(
                    "unmatched_alert",
                    "*",
                    str(self.path),
                    f"{self.path}: {len(unmatched)} rows match no record ({shown}); ignored. A row's "
                    f"id minus its video suffix must be a record id or the name of one record's video "
                    f"file (fine for clips of data sets this run does not read)",
                ),
            )
        self.listed = frozenset(matched)
        return out

    def _overlay(
        self, record: VideoRecord, values: dict[str, str], line: int, issues: list[DataIssue] | None
    ) -> VideoRecord:
        """``record`` with the row's alert frame and ego flag; ``ValueError`` for a malformed row or a time past the
        video's end."""
        try:
            alert, collision = parse_seconds(values[ALERT]), parse_seconds(values.get(COLLISION, ""))
        except ValueError as err:
            raise ValueError(f"time {err}") from None
        if alert is not None and collision is not None and collision < alert:
            raise ValueError(f"{COLLISION} {collision:g} s is before {ALERT} {alert:g} s")
        ego = values.get(EGO, "").lower()
        if ego and ego not in EGO_VALUES:
            raise ValueError(f"{EGO} is {values[EGO]!r}, not yes or no")
        fps, count = record.native_fps, record.num_frames
        if collision is not None:
            frame_in_video(collision, fps, count, COLLISION)
        changes = {"ego": EGO_VALUES[ego]} if ego else {}
        if alert is not None:
            changes["alert_start"] = frame_in_video(alert, fps, count, ALERT)
            self._check_alert(record, changes["alert_start"], alert, line, issues)
        return replace(record, **changes)

    def _check_alert(
        self, record: VideoRecord, frame: int, alert: float, line: int, issues: list[DataIssue] | None
    ) -> None:
        """Report an alert that gives ``record`` no Warning phase (not fatal: the row still applies)."""
        if not record.has_anomaly:
            problem, done = (
                f"gives {record.video_id} the alert {alert:g} s, but its source gives it no anomaly",
                "the alert changes no label",
            )
        elif frame >= record.anomaly_start:
            problem, done = (
                (
                    f"gives {record.video_id} the alert {alert:g} s (frame {frame}), at or after its anomaly's "
                    f"start (frame {record.anomaly_start})"
                ),
                "its Warning phase is empty",
            )
        else:
            return
        report_line(
            issues,
            self.path,
            line,
            record.video_id,
            problem,
            f"check {ALERT} against the source's anomaly span",
            done=done,
            kind="alert_after_anomaly",
            fatal=False,
        )

    def keep(self, record: VideoRecord) -> bool:
        """The filter: crash records whose ego flag is :attr:`filter`'s (and, with ``listed_only``, that the CSV
        matched at the last :meth:`apply`); every record without an anomaly."""
        if not record.has_anomaly:
            return True
        return self.filter.keep(record) and (not self.listed_only or record.video_id in self.listed)


def _stem(video_id: str) -> str:
    """``video_id`` without a video suffix (``0RJPQ_97dcs_003475.mp4`` -> ``0RJPQ_97dcs_003475``)."""
    path = Path(video_id)
    return path.stem if path.suffix.lower() in VIDEO_SUFFIXES else video_id
