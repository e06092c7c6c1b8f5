"""Shared file helpers of the dataset sources: frame folders, id lists, JSON files, layout errors.

Every source (``riskvision.data.sources``) reads its files with these, so a gap in a frame folder, a
malformed JSON file or a missing layout is reported the same way whatever the dataset.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from riskvision.data.records import DataIssue, report

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: File that marks a tree written by the synthetic generator (its records say ``synthetic=True``).
SYNTHETIC_MARKER = "synthetic.json"


class DataLayoutError(FileNotFoundError):
    """A data root does not match any supported layout."""


def is_synthetic(root: Path) -> bool:
    """The tree at ``root`` was written by the synthetic generator (it holds :data:`SYNTHETIC_MARKER`)."""
    return (Path(root) / SYNTHETIC_MARKER).is_file()


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


def read_subset_lists(paths: Mapping[str, Path], issues: list[DataIssue] | None) -> dict[str, str]:
    """``{id: subset}`` from one id-list file per subset, read in order (a later file wins). An id listed in
    two files is reported as a fatal ``duplicate_split`` issue."""
    subsets: dict[str, str] = {}
    listed_in: dict[str, Path] = {}
    for subset, path in paths.items():
        for video_id in read_id_list(path):
            if video_id in subsets:
                report(issues, DataIssue("duplicate_split", video_id, str(path),
                                         f"{video_id} is listed in both {listed_in[video_id].name} and {path.name} in "
                                         f"{path.parent}", fatal=True))
            subsets[video_id], listed_in[video_id] = subset, path
    return subsets


def load_json(path: Path) -> dict:
    """Parse ``path``; a malformed file is an error naming it."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); restore it from the data set release") from err
