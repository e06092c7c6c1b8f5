"""The BDD100K source: video files and extracted frame folders (normal driving, no anomaly).

Video files (``layout="videos"``)::

    <root>/videos/100k/{train,val}/<id>.mov | .mp4 | .m4v | .mkv | .avi | .webm   (30 fps; probed with PyAV)

Other files in those folders are skipped and listed as ``skipped_file`` issues; a video that cannot be
probed is dropped with a fatal ``unreadable_video`` issue.

Frame folders (``layout="frames"``, written by ``scripts/prepare_data.py``)::

    <root>/frames/100k/{train,val}/<id>/%06d.jpg
    prepared.json {"fps": 10, ...} in <root>/frames/100k/, <root>/frames/ or <root>/

Plain files beside the frame folders are ignored; an entry that is not a usable frame folder (a symlink
loop, unreadable, no images) is dropped with the fatal issue :func:`~riskvision.data.layout.list_frames`
reports. A ``{train,val}`` folder that cannot be listed is reported (fatal ``unreadable_folder``) and the
index goes on with the other.

Probing thousands of videos is slow, so fps and frame counts are cached in an index cache file
(``.riskvision_index.json`` next to the data, or in ``cache_dir``), keyed by path, size and mtime.
Records are labelled ``source="bdd"``; each video is its own group.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from riskvision.data.layout import (
    INDEX_PROGRESS_S, DataFileError, DataLayoutError, is_synthetic, list_frames, load_json, require_folder,
)
from riskvision.data.readers import FrameReadError, probe_video
from riskvision.data.records import DataIssue, VideoRecord, report
from riskvision.data.sources.base import RecordSource
from riskvision.progress import ProgressLine

SUBSETS = ("train", "val")
VIDEO_SUFFIXES = (".mov", ".mp4", ".m4v", ".mkv", ".avi", ".webm")
"""Containers read as videos (any PyAV decodes); matched case-insensitively."""
CACHE_NAME = ".riskvision_index.json"

VIDEOS_LAYOUT = f"BDD100K videos: <root>/videos/100k/{{train,val}}/<id>.mov (or {', '.join(VIDEO_SUFFIXES[1:])})"
FRAMES_LAYOUT = ("BDD100K frame folders: <root>/frames/100k/{train,val}/<id>/%06d.jpg with prepared.json "
                 "(fps) in <root>/frames/100k/, <root>/frames/ or <root>/")
ROOT_KEY = "data.bdd_root"
ROOT_HOLDS = f"one of the BDD100K layouts ({VIDEOS_LAYOUT}; or {FRAMES_LAYOUT})"


def detect_bdd_layout(root: str | Path) -> str:
    """``"frames"`` (preferred, faster to read) or ``"videos"``; :class:`DataLayoutError` when ``root`` is not a
    readable folder (naming ``data.bdd_root``) or matches neither layout."""
    root = require_folder(root, ROOT_KEY, ROOT_HOLDS)
    if any((root / "frames" / "100k" / s).is_dir() for s in SUBSETS):
        return "frames"
    if any((root / "videos" / "100k" / s).is_dir() for s in SUBSETS):
        return "videos"
    raise DataLayoutError(
        f"BDD100K root {root} matches no known layout. Expected either\n"
        f"  {VIDEOS_LAYOUT}\n  {FRAMES_LAYOUT}\nSet data.bdd_root (data.sources.bdd.root) to such a folder."
    )


def build_bdd_index(
    root: str | Path,
    layout: str = "auto",
    frames_fps: float | None = None,
    cache_dir: str | Path | None = None,
    issues: list[DataIssue] | None = None,
    write_cache: bool = True,
) -> list[VideoRecord]:
    """Records of every readable BDD100K video under ``root``.

    Args:
        layout: ``auto``, ``videos`` or ``frames``.
        frames_fps: frame rate of frame folders when no ``prepared.json`` says it.
        cache_dir: where the probe cache goes when ``root`` is not writable (default: next to data).
        write_cache: save the probe cache (``False``: read it if present, probe the rest, write nothing).

    Raises:
        DataLayoutError: ``root`` is not a readable folder (the message names ``data.bdd_root``), matches no
            layout, or its ``prepared.json`` is unusable.
    """
    root = require_folder(root, ROOT_KEY, ROOT_HOLDS)
    chosen = detect_bdd_layout(root) if layout == "auto" else layout
    synthetic = is_synthetic(root)
    if chosen == "videos":
        return _build_videos(root, synthetic, cache_dir, issues, write_cache)
    if chosen == "frames":
        return _build_frames(root, synthetic, frames_fps, issues)
    raise ValueError(f"BDD layout {layout!r} for {root}; use auto, videos or frames")


def _build_videos(root: Path, synthetic: bool, cache_dir: str | Path | None,
                  issues: list[DataIssue] | None, write_cache: bool) -> list[VideoRecord]:
    cache = ProbeCache(root, cache_dir)
    videos = [(subset, path) for subset in SUBSETS for path in _list_folder(root / "videos" / "100k" / subset, issues)
              if _is_video(path, issues)]
    progress = ProgressLine(f"indexing BDD100K videos in {root} (fps and frame count, cached)", len(videos), "videos")
    records = []
    for subset, path in videos:
        progress.advance()
        try:
            fps, count = cache.get(path) or cache.put(path, *probe_video(path))
        except (FrameReadError, OSError) as err:  # OSError: a symlink loop or broken link fails stat()
            _unreadable_video(path, f"cannot be read ({err})", issues)
            continue
        if count < 1 or fps <= 0:
            _unreadable_video(path, f"reports {count} frames at {fps} fps", issues)
            continue
        records.append(VideoRecord(path.stem, "bdd", path, "video", fps, count, synthetic=synthetic, subset=subset))
    progress.close(min_elapsed_s=INDEX_PROGRESS_S)
    if write_cache:
        cache.save()
    return records


def _is_video(path: Path, issues: list[DataIssue] | None) -> bool:
    """Whether BDD reads ``path`` as a video; any other file but a hidden one is reported as skipped."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    if not path.name.startswith("."):
        report(issues, DataIssue("skipped_file", path.stem, str(path),
                                 f"{path} is not a video file BDD reads ({', '.join(VIDEO_SUFFIXES)}); "
                                 "skipped. Fix: convert it to one of them or move it out"))
    return False


def _unreadable_video(path: Path, problem: str, issues: list[DataIssue] | None) -> None:
    """Report the fatal ``unreadable_video`` issue of a BDD video that is dropped from the index."""
    report(issues, DataIssue("unreadable_video", path.stem, str(path),
                             f"BDD video {path} {problem}; dropped. Fix: re-download or re-encode it, or move it "
                             f"out of {path.parent}", fatal=True))


def _list_folder(folder: Path, issues: list[DataIssue] | None) -> list[Path]:
    """Sorted entries of a ``{train,val}`` folder; ``[]`` when there is none, and ``[]`` with a fatal
    ``unreadable_folder`` issue naming it when it cannot be listed (permissions, a symlink loop or broken
    link, a file)."""
    if not os.path.lexists(folder):
        return []
    try:
        return sorted(folder.iterdir())
    except OSError as err:
        report(issues, DataIssue("unreadable_folder", "*", str(folder),
                                 f"BDD folder {folder} cannot be read ({err.strerror or err}); its videos are dropped. "
                                 f"Fix: make it a readable folder (chmod u+rx, no symlink loop)", fatal=True))
        return []


def _build_frames(root: Path, synthetic: bool, frames_fps: float | None,
                  issues: list[DataIssue] | None) -> list[VideoRecord]:
    fps = _prepared_fps(root) or frames_fps
    if not fps:
        raise DataLayoutError(f"BDD frame folders under {root}/frames/100k have no prepared.json with an 'fps' and "
                              f"data.bdd_frames_fps (data.sources.bdd.frames_fps) is not set; set it to the "
                              f"extraction frame rate (e.g. 10)")
    folders = [(subset, entry) for subset in SUBSETS for entry in _list_folder(root / "frames" / "100k" / subset, issues)
               if not entry.is_file()]
    progress = ProgressLine(f"indexing BDD100K frame folders in {root}", len(folders), "videos")
    records = []
    for subset, entry in folders:
        progress.advance()
        files = list_frames(entry, entry.name, None, issues)
        if files is not None:
            records.append(VideoRecord(entry.name, "bdd", entry, "frames", float(fps), len(files),
                                       frame_files=files, synthetic=synthetic, subset=subset))
    progress.close(min_elapsed_s=INDEX_PROGRESS_S)
    return records


def _prepared_fps(root: Path) -> float | None:
    """The ``fps`` of the first ``prepared.json`` found (``None``: no file, or no or a null/0 ``fps`` in it).

    Raises:
        DataFileError: the file cannot be read, is not a UTF-8 JSON object, or its ``fps`` is not a positive
            number.
    """
    for folder in (root / "frames" / "100k", root / "frames", root):
        path = folder / "prepared.json"
        if path.is_file():
            fps = load_json(path).get("fps")
            if not fps:
                return None
            if isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps < 0:
                raise DataFileError(path, f"has fps={fps!r}, which is not a positive number",
                                    "set fps to the frame rate the frames were extracted at (e.g. 10)")
            return float(fps)
    return None


class ProbeCache:
    """``{relative path: [size, mtime_ns, fps, num_frames]}`` stored as JSON.

    Written to ``<root>/.riskvision_index.json`` or, when ``cache_dir`` is given, to
    ``<cache_dir>/bdd_<root name>.riskvision_index.json``. Unwritable locations only cost a re-probe.
    """

    def __init__(self, root: Path, cache_dir: str | Path | None = None) -> None:
        self.root = root
        self.path = Path(cache_dir) / f"bdd_{root.name}{CACHE_NAME}" if cache_dir else root / CACHE_NAME
        self.entries: dict[str, list] = {}
        self.dirty = False
        if self.path.is_file():
            try:
                self.entries = json.loads(self.path.read_text())
            except (json.JSONDecodeError, OSError):
                self.entries = {}

    def _key(self, path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return str(path.relative_to(self.root)), stat.st_size, stat.st_mtime_ns

    def get(self, path: Path) -> tuple[float, int] | None:
        key, size, mtime = self._key(path)
        entry = self.entries.get(key)
        if entry and entry[0] == size and entry[1] == mtime:
            return float(entry[2]), int(entry[3])
        return None

    def put(self, path: Path, fps: float, num_frames: int) -> tuple[float, int]:
        key, size, mtime = self._key(path)
        self.entries[key] = [size, mtime, float(fps), int(num_frames)]
        self.dirty = True
        return float(fps), int(num_frames)

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries))
            tmp.replace(self.path)
        except OSError:
            pass


class BddSource(RecordSource):
    """BDD100K normal-driving videos under ``root`` (``conf/data/source/bdd.yaml``).

    Args:
        root: the BDD100K root (videos or frame folders); ``None``: this source contributes nothing (the
            DoTA seed layout holds its own BDD frames).
        layout: ``auto`` (frame folders if present, else videos), ``videos`` or ``frames``.
        frames_fps: frame rate of frame folders without a ``prepared.json``.
        cache_dir: where the probe cache goes (default: next to the videos).
    """

    def __init__(self, root: str | Path | None, layout: str = "auto", frames_fps: float | None = None,
                 cache_dir: str | Path | None = None) -> None:
        self.root = None if root is None else Path(root)
        self.layout, self.frames_fps, self.cache_dir = layout, frames_fps, cache_dir

    def __repr__(self) -> str:
        return f"BddSource(root={str(self.root)!r}, layout={self.layout!r})"

    @property
    def active(self) -> bool:
        return self.root is not None

    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        if self.root is None:
            return []
        return build_bdd_index(self.root, self.layout, self.frames_fps, self.cache_dir, issues,
                               write_cache=not self.read_only)
