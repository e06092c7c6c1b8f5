"""One record per video: what the index builders produce and everything above them consumes.

A record describes a video at its NATIVE frame rate; the conversion to the project's target frame
rate happens in :mod:`riskvision.data.timebase`. Frame indices here are native indices, counted from
0 whatever the file names say (``frame_files[i]`` is native frame ``i`` of a frame folder).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: a frame name that is a zero-padded number between a prefix and a suffix: ``000123.jpg``, ``frame_0001.png``
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[^.]*)$")


class FrameNames(Sequence[str]):
    """The file names of a frame folder, index ``i`` = native frame ``i``, in a form forked DataLoader workers share.

    A tuple of ``str`` holds one Python object per name, and reading a clip touches their reference counts, so
    every forked worker gradually copies the pages holding them (94 MB per worker after one epoch at 477k DoTA
    names). Here the names are either a PATTERN (``prefix + f"{start + i:0{width}d}" + suffix`` for ``i < count``,
    what a folder numbered without gaps holds: no per-name memory at all) or one ``uint8`` buffer of the UTF-8 names
    with ``int64`` offsets into it (any other list). Reading a name builds a fresh ``str``; nothing shared is
    written. Compares equal to any sequence holding the same names (a tuple, a list).
    """

    __slots__ = ("_pattern", "_buffer", "_offsets")

    def __init__(self, names: Sequence[str]) -> None:
        names = list(names)
        self._pattern = _pattern_of(names)
        self._buffer = self._offsets = None
        if self._pattern is None:
            encoded = [name.encode("utf-8", "surrogateescape") for name in names]
            self._offsets = np.cumsum([0, *map(len, encoded)], dtype=np.int64)
            self._buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    def __len__(self) -> int:
        if self._pattern is not None:
            return self._pattern[4]
        return len(self._offsets) - 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"frame name {index} out of range [0, {n})")
        if self._pattern is not None:
            prefix, start, width, suffix, _ = self._pattern
            return f"{prefix}{start + index:0{width}d}{suffix}"
        begin, end = int(self._offsets[index]), int(self._offsets[index + 1])
        return self._buffer[begin:end].tobytes().decode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrameNames) and self._pattern is not None and other._pattern is not None:
            return self._pattern == other._pattern
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        if self._pattern is not None:
            prefix, start, width, suffix, count = self._pattern
            return f"FrameNames({prefix}{{{start}..{start + count - 1}:0{width}d}}{suffix}, {count} names)"
        return f"FrameNames({len(self)} names)"

    def __reduce__(self):
        return _frame_names_from_parts, (self._pattern, self._buffer, self._offsets)

    @property
    def pattern(self) -> tuple[str, int, int, str, int] | None:
        """``(prefix, start, width, suffix, count)`` when the names follow one (see the class doc), else ``None``."""
        return self._pattern

    @classmethod
    def from_pattern(cls, prefix: str, start: int, width: int, suffix: str, count: int) -> FrameNames:
        """The ``count`` names ``prefix + f"{start + i:0{width}d}" + suffix`` without building them."""
        return _frame_names_from_parts((prefix, int(start), int(width), suffix, int(count)), None, None)

    @property
    def nbytes(self) -> int:
        """Bytes of name data held (0 for a pattern)."""
        return 0 if self._buffer is None else self._buffer.nbytes + self._offsets.nbytes


def _frame_names_from_parts(pattern, buffer, offsets) -> FrameNames:
    """Unpickle a :class:`FrameNames` without re-reading its names."""
    names = FrameNames.__new__(FrameNames)
    names._pattern, names._buffer, names._offsets = pattern, buffer, offsets
    return names


def _pattern_of(names: list[str]) -> tuple[str, int, int, str, int] | None:
    """``(prefix, start, width, suffix, count)`` when ``names`` are ``prefix + zero-padded consecutive numbers +
    suffix`` (every number written with ``width`` digits), else ``None``."""
    if not names:
        return None
    first = _NUMBERED.match(names[0])
    if first is None:
        return None
    prefix, digits, suffix = first.groups()
    start, width = int(digits), len(digits)
    for i, name in enumerate(names):
        if name != f"{prefix}{start + i:0{width}d}{suffix}":
            return None
    return prefix, start, width, suffix, len(names)


@dataclass(frozen=True)
class VideoRecord:
    """A video of any source: a DoTA clip, a BDD100K, CCD, DAD or Nexar video, a synthetic video.

    Attributes:
        video_id: clip id (DoTA ``<youtube id>_<start:06d>``, BDD ``<hash>-<hash>``).
        source: the label of the dataset it comes from (``"dota"``, ``"bdd"``; set by its record source).
        path: the frame folder (``kind == "frames"``) or the video file (``kind == "video"``).
        kind: ``"frames"`` (a folder of JPEGs) or ``"video"`` (a file decoded with PyAV).
        native_fps: frames per second of the files on disk.
        num_frames: number of native frames.
        anomaly_start: first native frame of the anomaly, ``None`` for normal videos.
        anomaly_end: native frame after the anomaly's last one (exclusive), ``None`` for normal videos.
        category: accident category (``"lateral"``, ``"turning"``, ...; ``"normal"`` for BDD).
        ego: the ego vehicle is involved (``False`` for normal videos).
        night: recorded at night (``False`` when unknown).
        frame_files: for ``kind == "frames"``, the sorted JPEG file names inside ``path`` (any sequence of ``str``
            given is stored as :class:`FrameNames`, which forked DataLoader workers share without copying).
        synthetic: the record comes from the procedurally generated data set.
        subset: the split the data set's own files put the video in (DoTA ``metadata_{train,val}``,
            BDD ``videos/100k/{train,val}``, the seed's ``final_{train,val}_split.txt``), ``None`` if none.
        ignore: the DoTA annotation's ``ignore`` flag.
        group: the key grouped splits keep together, set by the record's source (DoTA: the YouTube video
            a clip was cut from); default the video's own id.
        alert_start: first native frame of the Warning phase from an annotated alert time (Nexar's
            ``time_of_alert``, the consensus alert labels' ``Time-of-alert``; ``riskvision.data.alerts``), ``None``
            without one: the label policy's fixed horizon before ``anomaly_start`` applies then.
    """

    video_id: str
    source: str
    path: Path
    kind: str
    native_fps: float
    num_frames: int
    anomaly_start: int | None = None
    anomaly_end: int | None = None
    category: str = "normal"
    ego: bool = False
    night: bool = False
    frame_files: Sequence[str] = ()
    synthetic: bool = False
    subset: str | None = None
    ignore: bool = False
    group: str = ""
    alert_start: int | None = None

    def __post_init__(self) -> None:
        if self.frame_files and not isinstance(self.frame_files, FrameNames):
            object.__setattr__(self, "frame_files", FrameNames(self.frame_files))
        if not self.group:
            object.__setattr__(self, "group", self.video_id)

    @property
    def has_anomaly(self) -> bool:
        return self.anomaly_start is not None


@dataclass(frozen=True)
class DataIssue:
    """A problem found in the data files, collected by the index builders and reported by check_data.

    Attributes:
        kind: what is wrong. FATAL (check_data exits non-zero), a video dropped or the data untrustworthy:
            ``"missing_folder"`` (no frame folder or no images in it), ``"unreadable_folder"`` (a frame folder,
            or a BDD ``{train,val}`` folder whose videos are all lost, that cannot be listed: permissions, a
            symlink loop), ``"too_few_frames"`` (fewer than its ``num_frames``), ``"bad_clip_file"`` (its DoTA
            metadata entry or annotation is unusable: not UTF-8, not a JSON object, a missing or mistyped
            field, ``num_frames < 1``, ``anomaly_start > anomaly_end``), ``"unreadable_video"`` (a video file
            that cannot be probed, or reports no frames), ``"unreadable_clip"`` (check_data: no frame of it
            decodes; training replaces its clips), ``"duplicate_split"`` (an id in two split files or splits),
            ``"empty_split"`` (check_data: a split with zero clips), ``"bad_line"`` (a line of an annotation file,
            a CSV or a split list that cannot be used, named by file and line: its video or row is dropped),
            ``"missing_video"`` (an annotation line or list entry naming a video that does not exist),
            ``"missing_annotation"`` when fatal (a CCD crash video without its line). Not fatal, the data still
            usable: ``"missing_frames"`` (gaps filled), ``"unreadable_frame"`` (check_data: a frame training
            substitutes), ``"frame_count"`` (check_data: a video decodes to another frame count than stated),
            ``"span_clipped"``, ``"label_count"``, ``"missing_metadata"`` (a listed clip without metadata,
            dropped), ``"missing_annotation"``, ``"skipped_file"`` (a non-video file among videos),
            ``"missing_split"`` / ``"unlisted_video"`` (CCD without split lists / videos no list names),
            ``"missing_alert"`` (a Nexar positive without ``time_of_alert``: the fixed horizon applies),
            ``"alert_after_anomaly"`` (an annotated alert that leaves no Warning phase), ``"unmatched_alert"``
            (consensus alert rows that match no record).
        video_id: the video concerned (``"*"``: a folder or file of many videos).
        path: the file or folder concerned.
        message: what is wrong, what was done about it and the fix.
        fatal: the data cannot be trusted as it is (check_data exits non-zero); training still runs on the
            records that were built.
    """

    kind: str
    video_id: str
    path: str
    message: str
    fatal: bool = False


class DataWarning(UserWarning):
    """Warning category for dropped videos, substituted frames and clipped annotations."""


#: a kind with more issues than this is told in ONE line (count, first ids, first message), not one line each
GROUPED_ABOVE = 3


def issue_lines(issues: Sequence[DataIssue], first: int = 5) -> list[str]:
    """What to tell about ``issues``: for each kind (in order of first appearance), its messages when there are at
    most :data:`GROUPED_ABOVE`, else one line ``"<count> clips with <kind> (fatal) ... first: <ids>; e.g. <message>"``
    (a metadata file naming 10k missing clips is one line, not 10k)."""
    by_kind: dict[str, list[DataIssue]] = {}
    for issue in issues:
        by_kind.setdefault(issue.kind, []).append(issue)
    lines = []
    for kind, items in by_kind.items():
        if len(items) <= GROUPED_ABOVE:
            lines += [item.message for item in items]
            continue
        ids = list(dict.fromkeys(item.video_id for item in items))
        shown = ", ".join(ids[:first]) + (f" and {len(ids) - first} more" if len(ids) > first else "")
        fatal = " (fatal)" if any(item.fatal for item in items) else ""
        lines.append(
            f"{len(items)} data issues of kind {kind}{fatal}, videos {shown}; e.g. {items[0].message} "
            "(`python scripts/check_data.py` lists them)"
        )
    return lines


def report(issues: list[DataIssue] | None, issue: DataIssue) -> None:
    """Warn about ``issue`` and append it to ``issues`` when a list is given."""
    warnings.warn(issue.message, DataWarning, stacklevel=3)
    if issues is not None:
        issues.append(issue)
