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
(``.riskvision_index.json`` next to the data, or in ``cache_dir``), keyed by path, size and mtime
(:mod:`riskvision.data.probe`).
Records are labelled ``source="bdd"``; each video is its own group.
"""

from __future__ import annotations

from pathlib import Path

from riskvision.data.layout import (
    INDEX_PROGRESS_S,
    DataFileError,
    DataLayoutError,
    is_synthetic,
    list_frames,
    load_json,
    require_folder,
)
from riskvision.data.listing_cache import ListingCache
from riskvision.data.probe import VIDEO_SUFFIXES, list_folder, list_videos, probe_videos
from riskvision.data.records import DataIssue, FrameNames, VideoRecord
from riskvision.data.sources.base import RecordSource
from riskvision.progress import ProgressLine

SUBSETS = ("train", "val")

VIDEOS_LAYOUT = f"BDD100K videos: <root>/videos/100k/{{train,val}}/<id>.mov (or {', '.join(VIDEO_SUFFIXES[1:])})"
FRAMES_LAYOUT = (
    "BDD100K frame folders: <root>/frames/100k/{train,val}/<id>/%06d.jpg with prepared.json "
    "(fps) in <root>/frames/100k/, <root>/frames/ or <root>/"
)
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
        write_cache: save the probe cache, or for frame folders the listing cache (``False``: read it if present,
            probe / list the rest, write nothing).

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
        listings = ListingCache(root / "frames" / "100k", cache_dir, f"bdd_{root.name}")
        return _build_frames(root, synthetic, frames_fps, issues, listings, write_cache)
    raise ValueError(f"BDD layout {layout!r} for {root}; use auto, videos or frames")


def _build_videos(
    root: Path, synthetic: bool, cache_dir: str | Path | None, issues: list[DataIssue] | None, write_cache: bool
) -> list[VideoRecord]:
    videos = [
        (subset, path) for subset in SUBSETS for path in list_videos(root / "videos" / "100k" / subset, "BDD", issues)
    ]
    probed = probe_videos(root, [path for _, path in videos], "BDD100K", cache_dir, issues, write_cache)
    return [
        VideoRecord(path.stem, "bdd", path, "video", *probed[path], synthetic=synthetic, subset=subset)
        for subset, path in videos
        if path in probed
    ]


def _build_frames(
    root: Path,
    synthetic: bool,
    frames_fps: float | None,
    issues: list[DataIssue] | None,
    cache: ListingCache,
    write_cache: bool,
) -> list[VideoRecord]:
    fps = _prepared_fps(root) or frames_fps
    if not fps:
        raise DataLayoutError(
            f"BDD frame folders under {root}/frames/100k have no prepared.json with an 'fps' and "
            f"data.bdd_frames_fps (data.sources.bdd.frames_fps) is not set; set it to the "
            f"extraction frame rate (e.g. 10)"
        )
    folders = [
        (subset, entry)
        for subset in SUBSETS
        for entry in list_folder(root / "frames" / "100k" / subset, "BDD", issues)
        if not entry.is_file()
    ]
    progress = ProgressLine(f"indexing BDD100K frame folders in {root}", len(folders), "videos")
    records = []
    for subset, entry in folders:
        progress.advance()
        files = cache.get(entry)
        if files is None:
            found: list[DataIssue] = []
            files = list_frames(entry, entry.name, None, found)
            if files is not None and not found:  # a folder with an issue is listed (and reported) every start
                files = FrameNames(files)
                cache.put(entry, files)
            if issues is not None:
                issues.extend(found)
        if files is not None:
            records.append(
                VideoRecord(
                    entry.name,
                    "bdd",
                    entry,
                    "frames",
                    float(fps),
                    len(files),
                    frame_files=files,
                    synthetic=synthetic,
                    subset=subset,
                )
            )
    progress.close(min_elapsed_s=INDEX_PROGRESS_S)
    if write_cache:
        cache.save()
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
                raise DataFileError(
                    path,
                    f"has fps={fps!r}, which is not a positive number",
                    "set fps to the frame rate the frames were extracted at (e.g. 10)",
                )
            return float(fps)
    return None


class BddSource(RecordSource):
    """BDD100K normal-driving videos under ``root`` (``conf/data/source/bdd.yaml``).

    Args:
        root: the BDD100K root (videos or frame folders); ``None``: this source contributes nothing (the
            DoTA seed layout holds its own BDD frames).
        layout: ``auto`` (frame folders if present, else videos), ``videos`` or ``frames``.
        frames_fps: frame rate of frame folders without a ``prepared.json``.
        cache_dir: where the probe cache goes (default: next to the videos).
    """

    def __init__(
        self,
        root: str | Path | None,
        layout: str = "auto",
        frames_fps: float | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.root = None if root is None else Path(root)
        self.layout, self.frames_fps, self.cache_dir = layout, frames_fps, cache_dir

    def __repr__(self) -> str:
        return f"BddSource(root={str(self.root)!r}, layout={self.layout!r})"

    def check_root(self) -> None:
        if self.root is not None:
            require_folder(self.root, ROOT_KEY, ROOT_HOLDS)

    @property
    def active(self) -> bool:
        return self.root is not None

    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        if self.root is None:
            return []
        return build_bdd_index(
            self.root, self.layout, self.frames_fps, self.cache_dir, issues, write_cache=not self.read_only
        )
