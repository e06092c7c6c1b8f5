"""Video files of the sources that index videos (BDD100K, CCD, DAD, Nexar): listing a folder's videos and probing
each one's frame rate and frame count with PyAV once, cached.

Probing thousands of videos is slow, so fps and frame counts are kept in an index cache file (``.riskvision_index.json``
next to the data, or ``<cache_dir>/<prefix>_<root name>.riskvision_index.json``), keyed by the path relative to the
data root, size and mtime. An unwritable location only costs a re-probe. The cache file is outside input: an entry
that is not ``[size, mtime_ns, fps > 0, frames >= 0]``, or claims more frames than the file could hold (a frame
costs a container at least :data:`MIN_BYTES_PER_FRAME` bytes), is probed again; a file that is not a JSON object is
ignored (and rewritten).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from riskvision.data.layout import INDEX_PROGRESS_S
from riskvision.data.readers import FrameReadError, probe_video
from riskvision.data.records import DataIssue, report
from riskvision.progress import ProgressLine

__all__ = [
    "CACHE_NAME",
    "VIDEO_SUFFIXES",
    "ProbeCache",
    "list_videos",
    "probe_videos",
    "read_cache_file",
    "write_cache_file",
]

VIDEO_SUFFIXES = (".mov", ".mp4", ".m4v", ".mkv", ".avi", ".webm")
"""Containers read as videos (any PyAV decodes); matched case-insensitively."""
CACHE_NAME = ".riskvision_index.json"
#: The fewest bytes a frame takes in any container read here (MP4's sample-size table alone holds 4 per frame).
MIN_BYTES_PER_FRAME = 4


class ProbeCache:
    """``{relative path: [size, mtime_ns, fps, num_frames]}`` stored as JSON.

    Written to ``<root>/.riskvision_index.json`` or, when ``cache_dir`` is given, to
    ``<cache_dir>/<prefix>_<root name>.riskvision_index.json``. Unwritable locations only cost a re-probe.
    """

    def __init__(self, root: Path, cache_dir: str | Path | None = None, prefix: str = "bdd") -> None:
        self.root = root
        self.path = Path(cache_dir) / f"{prefix}_{root.name}{CACHE_NAME}" if cache_dir else root / CACHE_NAME
        self.entries: dict[str, list] = read_cache_file(self.path)  # damaged: everything is probed again
        self.dirty = False

    def _key(self, path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return str(path.relative_to(self.root)), stat.st_size, stat.st_mtime_ns

    def get(self, path: Path) -> tuple[float, int] | None:
        """The cached ``(fps, frames)`` of ``path``; ``None`` (probe it) when the entry is missing, stale, malformed
        or impossible for the file's size."""
        key, size, mtime = self._key(path)
        entry = self.entries.get(key)
        if not (isinstance(entry, list) and len(entry) == 4 and entry[:2] == [size, mtime]):
            return None
        fps, count = entry[2], entry[3]
        if not (
            isinstance(fps, (int, float))
            and math.isfinite(fps)
            and fps > 0
            and isinstance(count, int)
            and 0 <= count <= size // MIN_BYTES_PER_FRAME
        ):
            return None
        return float(fps), count

    def put(self, path: Path, fps: float, num_frames: int) -> tuple[float, int]:
        key, size, mtime = self._key(path)
        self.entries[key] = [size, mtime, float(fps), int(num_frames)]
        self.dirty = True
        return float(fps), int(num_frames)

    def save(self) -> None:
        if self.dirty:
            write_cache_file(self.path, self.entries)


def read_cache_file(path: Path) -> dict[str, list]:
    """The entries of an index cache file; ``{}`` when there is none or it is not a JSON object (damaged: ignored,
    and rewritten by the next save). Each entry is still checked by its reader: the file is outside input."""
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return {}
    return entries if isinstance(entries, dict) else {}


def write_cache_file(path: Path, entries: dict[str, list]) -> None:
    """Write an index cache file whole (a temporary file renamed over it); an unwritable location only costs a
    rebuild at the next start."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries))
        tmp.replace(path)
    except OSError:
        pass


def probe_videos(
    root: Path,
    paths: Sequence[Path],
    dataset: str,
    cache_dir: str | Path | None = None,
    issues: list[DataIssue] | None = None,
    write_cache: bool = True,
    prefix: str = "bdd",
) -> dict[Path, tuple[float, int]]:
    """``{path: (native_fps, num_frames)}`` of every readable video of ``paths`` (files under ``root``), probed once
    and cached (:class:`ProbeCache`); a video that cannot be probed, or reports no frames, is left out with a fatal
    ``unreadable_video`` issue naming it. A progress line shows when probing takes long.

    Args:
        dataset: the data set's name for messages (``BDD100K``, ``CCD``).
        write_cache: save the probe cache (``False``: read it if present, probe the rest, write nothing).
        prefix: the cache file's prefix inside ``cache_dir``.
    """
    cache = ProbeCache(root, cache_dir, prefix)
    progress = ProgressLine(f"indexing {dataset} videos in {root} (fps and frame count, cached)", len(paths), "videos")
    probed = {}
    for path in paths:
        progress.advance()
        try:
            fps, count = cache.get(path) or cache.put(path, *probe_video(path))
        except (FrameReadError, OSError) as err:  # OSError: a symlink loop or broken link fails stat()
            _unreadable_video(path, dataset, f"cannot be read ({err})", issues)
            continue
        if count < 1 or fps <= 0:
            _unreadable_video(path, dataset, f"reports {count} frames at {fps} fps", issues)
            continue
        probed[path] = (fps, count)
    progress.close(min_elapsed_s=INDEX_PROGRESS_S)
    if write_cache:
        cache.save()
    return probed


def _unreadable_video(path: Path, dataset: str, problem: str, issues: list[DataIssue] | None) -> None:
    """Report the fatal ``unreadable_video`` issue of a video that is dropped from the index."""
    report(
        issues,
        DataIssue(
            "unreadable_video",
            path.stem,
            str(path),
            f"{dataset} video {path} {problem}; dropped. Fix: re-download or re-encode it, or move it "
            f"out of {path.parent}",
            fatal=True,
        ),
    )


def list_videos(folder: Path, dataset: str, issues: list[DataIssue] | None) -> list[Path]:
    """Sorted video files of ``folder`` (:data:`VIDEO_SUFFIXES`); ``[]`` when there is no such folder.

    Any other entry but a hidden one is reported as a ``skipped_file`` issue; a folder that cannot be listed
    (permissions, a symlink loop or broken link, a file) gives ``[]`` and a fatal ``unreadable_folder`` issue naming it.
    """
    return [path for path in list_folder(folder, dataset, issues) if _is_video(path, dataset, issues)]


def list_folder(folder: Path, dataset: str, issues: list[DataIssue] | None) -> list[Path]:
    """Sorted entries of ``folder``; ``[]`` when there is none, and ``[]`` with a fatal ``unreadable_folder`` issue
    naming it when it cannot be listed (permissions, a symlink loop or broken link, a file)."""
    if not os.path.lexists(folder):
        return []
    try:
        return sorted(folder.iterdir())
    except OSError as err:
        report(
            issues,
            DataIssue(
                "unreadable_folder",
                "*",
                str(folder),
                f"{dataset} folder {folder} cannot be read ({err.strerror or err}); its videos are "
                f"dropped. Fix: make it a readable folder (chmod u+rx, no symlink loop)",
                fatal=True,
            ),
        )
        return []


def _is_video(path: Path, dataset: str, issues: list[DataIssue] | None) -> bool:
    """Whether ``path`` is read as a video; any other file but a hidden one is reported as skipped."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    if not path.name.startswith("."):
        report(
            issues,
            DataIssue(
                "skipped_file",
                path.stem,
                str(path),
                f"{path} is not a video file {dataset} reads ({', '.join(VIDEO_SUFFIXES)}); "
                "skipped. Fix: convert it to one of them or move it out",
            ),
        )
    return False
