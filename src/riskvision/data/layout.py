"""Shared file helpers of the dataset sources: frame folders, id lists, JSON and CSV files, annotation lines,
anomaly spans, layout errors.

Every source (``riskvision.data.sources``) reads its files with these, so a gap in a frame folder, a
malformed JSON file, a bad line of an annotation file or a missing layout is reported the same way whatever the
dataset.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from riskvision.data.records import DataIssue, report

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: File that marks a tree written by the synthetic generator (its records say ``synthetic=True``).
SYNTHETIC_MARKER = "synthetic.json"
#: Seconds an indexing step may take before its progress line's last line is shown (a cached or small index is quiet).
INDEX_PROGRESS_S = 2.0


class DataLayoutError(FileNotFoundError):
    """A data root does not match any supported layout, or a file the whole layout needs is unusable."""


class DataFileError(DataLayoutError):
    """One data file cannot be used: unreadable, not UTF-8, not JSON, or not of the expected shape.

    Attributes:
        path: the file.
    The message names the file, the problem and the fix. A source reading a per-video file turns it into a
    :class:`~riskvision.data.records.DataIssue` and drops the video; raised for a file the whole layout needs
    (a metadata or split file listing every clip), it stops the index as the :class:`DataLayoutError` it is.
    """

    def __init__(self, path: Path, problem: str, fix: str = "restore it from the data set release") -> None:
        super().__init__(f"{path} {problem}. Fix: {fix}")
        self.path = Path(path)


#: JSON type names by Python type, for messages.
JSON_TYPES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true/false",
    type(None): "null",
}


def require_folder(root: str | Path, key: str, expected: str) -> Path:
    """``root`` as a Path when it is a readable folder; :class:`DataLayoutError` naming ``key`` otherwise.

    Args:
        root: the configured data root.
        key: the setting it came from, as the user types it (``data.dota_root``, ``--bdd-root``).
        expected: what the folder should hold (the layout), for the message.
    """
    root = Path(root)
    fix = f"Fix: set {key} to the folder that holds {expected}"
    if root.is_file():
        raise DataLayoutError(f"{key}={root} is a file, not a folder. {fix}")
    if not root.is_dir():
        raise DataLayoutError(f"{key}={root} does not exist (or is a broken link). {fix}")
    try:
        os.scandir(root).close()
    except OSError as err:
        raise DataLayoutError(
            f"{key}={root} cannot be read ({err.strerror}). Fix: give this user read and "
            f"execute permission on it (chmod u+rx), or set {key} to a readable copy"
        ) from err
    return root


def is_synthetic(root: Path) -> bool:
    """The tree at ``root`` was written by the synthetic generator (it holds :data:`SYNTHETIC_MARKER`)."""
    return (Path(root) / SYNTHETIC_MARKER).is_file()


def list_frames(
    folder: Path, clip: str, expected: int | None, issues: list[DataIssue] | None
) -> tuple[str, ...] | None:
    """Sorted image names of ``folder``, index ``i`` = native frame ``i``; ``None`` when the clip is dropped.

    With numeric names, a gap in the numbering is filled with the nearest existing frame and
    reported. A folder that is missing, unreadable (permissions, a symlink loop) or holds no images,
    or fewer than ``expected`` frames (when given), drops the clip with a fatal issue: its labels
    assume frames that are not there. Extra frames beyond ``expected`` are ignored.
    """
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.name.lower().endswith(IMAGE_SUFFIXES)]
    except (FileNotFoundError, NotADirectoryError):
        names = []
    except OSError as err:
        report(
            issues,
            DataIssue(
                "unreadable_folder",
                clip,
                str(folder),
                f"frame folder {folder} of {clip} cannot be read ({err.strerror}); clip dropped. "
                f"Fix: make it a readable folder (chmod u+rx, no symlink loop) or remove the clip "
                f"from the split files",
                fatal=True,
            ),
        )
        return None
    if not names:
        report(
            issues,
            DataIssue(
                "missing_folder",
                clip,
                str(folder),
                f"frame folder {folder} of {clip} is missing or holds no images; clip dropped. "
                f"Fix: extract its frames or remove the clip from the split files",
                fatal=True,
            ),
        )
        return None
    files = _fill_gaps(sorted(names), clip, folder, issues)
    if expected is not None and len(files) < expected:
        report(
            issues,
            DataIssue(
                "too_few_frames",
                clip,
                str(folder),
                f"frame folder {folder} of {clip} has {len(files)} frames, its metadata says "
                f"num_frames={expected}; clip dropped. Fix: re-extract its frames or correct "
                f"num_frames",
                fatal=True,
            ),
        )
        return None
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
    report(
        issues,
        DataIssue(
            "missing_frames",
            clip,
            str(folder),
            f"{folder} lacks {len(missing)} numbered frames (first: {missing[0]}); "
            f"each is replaced by its nearest existing frame",
        ),
    )
    filled = [
        by_number.get(k) or by_number[min(present, key=lambda p: (abs(p - k), p))] for k in range(first, last + 1)
    ]
    return tuple(filled)


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark is allowed); :class:`DataFileError` when it cannot be read
    or is not UTF-8. A missing file raises :class:`FileNotFoundError` (callers decide what missing means)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DataFileError(
            path, f"cannot be read ({err.strerror})", "make it a readable file (chmod u+r, no symlink loop)"
        ) from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        utf16 = " (it starts with a UTF-16 byte-order mark)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DataFileError(
            path,
            f"is not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start}{utf16}",
            "re-save it as UTF-8 (e.g. iconv -t UTF-8) or restore it from the data set release",
        ) from err


def read_id_list(path: Path) -> list[str]:
    """Non-empty stripped lines of a split file (:class:`DataFileError` when it is not readable UTF-8 text)."""
    return [line.strip() for line in read_text(path).splitlines() if line.strip()]


def read_subset_lists(paths: Mapping[str, Path], issues: list[DataIssue] | None) -> dict[str, str]:
    """``{id: subset}`` from one id-list file per subset, read in order (a later file wins). An id listed in
    two files is reported as a fatal ``duplicate_split`` issue."""
    subsets: dict[str, str] = {}
    listed_in: dict[str, Path] = {}
    for subset, path in paths.items():
        for video_id in read_id_list(path):
            if video_id in subsets:
                report(
                    issues,
                    DataIssue(
                        "duplicate_split",
                        video_id,
                        str(path),
                        f"{video_id} is listed in both {listed_in[video_id].name} and {path.name} in {path.parent}",
                        fatal=True,
                    ),
                )
            subsets[video_id], listed_in[video_id] = subset, path
    return subsets


def load_json(path: Path) -> dict:
    """The JSON object in ``path``; :class:`DataFileError` naming the file when it cannot be read, is not
    UTF-8, is not valid JSON or holds something else than an object (``FileNotFoundError`` when missing)."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataFileError(path, f"is not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise DataFileError(path, f"holds {json_type(data)} where a JSON object is expected")
    return data


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type, with its article (``"a list"``)."""
    return JSON_TYPES.get(type(value), type(value).__name__)


def check_fields(entry: object, fields: Mapping[str, tuple[type, bool]], path: Path, what: str) -> dict:
    """``entry`` when it is a JSON object whose fields have the right types; :class:`DataFileError` otherwise.

    Args:
        entry: a parsed JSON value.
        fields: ``{name: (type, required)}``; ``int`` excludes ``true/false``; a ``null`` value counts as absent.
        path: the file ``entry`` comes from, for the message.
        what: what ``entry`` is (``"the entry of clip X"``), for the message.
    """
    if not isinstance(entry, dict):
        raise DataFileError(path, f"holds {json_type(entry)} for {what} where a JSON object is expected")
    for name, (kind, required) in fields.items():
        value = entry.get(name)
        if value is None:
            if required:
                raise DataFileError(
                    path,
                    f"has no {name!r} field (or it is null) in {what}",
                    f"add {name} ({JSON_TYPES[kind]}) to it or restore the file from the data set release",
                )
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DataFileError(
                path,
                f"has {name}={value!r} in {what}, which is {json_type(value)}, not {JSON_TYPES[kind]}",
                f"correct {name} or restore the file from the data set release",
            )
    return entry


# ----------------------------------------------------------------------------- annotation lines (CSV, text lists)


def report_line(
    issues: list[DataIssue] | None,
    path: Path,
    line: int,
    video_id: str,
    problem: str,
    fix: str,
    done: str = "its video is dropped",
    kind: str = "bad_line",
    fatal: bool = True,
) -> None:
    """Report line ``line`` (1-based) of the annotation file ``path`` that cannot be used: the message names the
    file, the line, the problem, what was done about it and the fix."""
    report(issues, DataIssue(kind, video_id, str(path), f"{path}, line {line}: {problem}; {done}. Fix: {fix}", fatal))


def read_csv_rows(
    path: Path, required: Sequence[str], id_column: str, issues: list[DataIssue] | None
) -> list[tuple[int, dict[str, str]]]:
    """``(line number, {column: stripped value})`` of every data row of the CSV file ``path`` (its first non-empty
    line is the header; blank lines are skipped). A row with another number of fields than the header is reported
    (fatal ``bad_line``, by file and line) and left out.

    Args:
        required: the columns the header must name (others are kept too).
        id_column: the column naming a row's video, for the messages.

    Raises:
        DataFileError: the file cannot be read, is not UTF-8, is empty, or its header lacks a ``required`` column.
    """
    rows = [
        (number, fields)
        for number, fields in enumerate(csv.reader(read_text(path).splitlines()), 1)
        if any(field.strip() for field in fields)
    ]
    if not rows:
        raise DataFileError(path, "is empty", f"write its header ({','.join(required)}) and one line per video")
    header = [name.strip() for name in rows[0][1]]
    missing = [name for name in required if name not in header]
    if missing:
        raise DataFileError(
            path,
            f"has the header {','.join(header)} (line {rows[0][0]}), which lacks the column(s) {', '.join(missing)}",
            f"name the columns {','.join(required)} in its first line",
        )
    out = []
    for number, fields in rows[1:]:
        values = dict(zip(header, (field.strip() for field in fields)))
        if len(fields) != len(header):
            report_line(
                issues,
                path,
                number,
                values.get(id_column) or "*",
                f"has {len(fields)} fields where the header has {len(header)} ({','.join(header)})",
                "write one value per column, empty for none",
            )
            continue
        out.append((number, values))
    return out


def parse_seconds(value: str) -> float | None:
    """A CSV time (seconds from the video's start) as a float >= 0; ``None`` for an empty value (or ``NaN``, a
    missing value as some writers spell it).

    Raises:
        ValueError: ``value`` is not a finite number >= 0 (the message says which).
    """
    if not value or value.lower() == "nan":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a time >= 0 s")
    return seconds


# ----------------------------------------------------------------------------- anomaly spans


def clip_span(
    clip: str, path: Path, start: int, end: int, num_frames: int, issues: list[DataIssue] | None
) -> tuple[int, int]:
    """Anomaly span ``[start, end)`` (native frames, ``start <= end``) clipped into ``[0, num_frames]`` and
    made non-empty, reporting any change."""
    new_start = min(max(start, 0), num_frames - 1)
    new_end = min(max(end, new_start + 1), num_frames)
    if (new_start, new_end) != (start, end):
        report(
            issues,
            DataIssue(
                "span_clipped",
                clip,
                str(path),
                f"clip {clip}: anomaly span [{start}, {end}) does not fit its {num_frames} frames; "
                f"clipped to [{new_start}, {new_end})",
            ),
        )
    return new_start, new_end
