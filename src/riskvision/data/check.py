"""Check a data configuration (``scripts/check_data.py``): clips per split/source/class, risk-label counts
and data problems.

Problems: missing or unreadable frames/videos, anomaly spans beyond the frames, label-count mismatches, ids
in two splits, empty splits, clips with no readable frame, videos whose decoded frame count differs from the
stated one; the fatal ones make the data untrustworthy as it is.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from riskvision.data.datamodule import RiskDataModule, summarize
from riskvision.data.probe import read_cache_file, write_cache_file
from riskvision.data.readers import FrameDecodeError, FrameReadError, count_decoded_frames, reader_for
from riskvision.data.records import DataIssue, VideoRecord
from riskvision.data.splits import SPLITS, duplicates
from riskvision.data.timebase import to_target

__all__ = ["VerifiedFrames", "check", "print_report", "verify_frames", "verify_videos"]

VERIFY_CHUNK = 64
"""Frame files decoded per reader call by :func:`verify_frames` (bounds memory on long clips)."""


def unreadable_clip(record: VideoRecord, why: str) -> DataIssue:
    """The FATAL issue of a clip with no readable frame: training drops it (``ClipDataset.__getitem__``)."""
    return DataIssue(
        "unreadable_clip",
        record.video_id,
        str(record.path),
        f"clip {record.video_id} ({record.path}) has no readable frame: {why}. Training drops it with "
        "a warning and uses the next readable clip. Fix: re-extract or re-download it, or remove it "
        "from the data",
        fatal=True,
    )


class VerifiedFrames:
    """Frame files that decoded, kept across ``check_data`` runs: ``{"reader": ..., "files": {path: [size,
    mtime_ns]}}`` as JSON at ``path`` (``None``: nothing kept).

    A file counts as verified only while its size and ``mtime_ns`` are the stored ones and the reader and frame size
    are the same; anything else in the file (damaged, another reader, malformed entries) is ignored: the file is
    outside input, and ignoring it only costs decoding again. Unreadable files are never kept, so their issues are
    found (and reported) at every run.
    """

    def __init__(self, path: str | Path | None, reader: str) -> None:
        self.path = Path(path) if path else None
        self.reader = reader
        stored = read_cache_file(self.path) if self.path else {}
        files = stored.get("files") if stored.get("reader") == reader else None
        self.files: dict[str, list] = files if isinstance(files, dict) else {}
        self.dirty = False

    @staticmethod
    def _stamp(path: Path) -> list[int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return [stat.st_size, stat.st_mtime_ns]

    def known(self, path: Path) -> bool:
        """``path`` decoded before and has not changed since (same size and ``mtime_ns``)."""
        stamp = self.files.get(str(path))
        return isinstance(stamp, list) and stamp == self._stamp(path)

    def add(self, path: Path) -> None:
        """Remember that ``path`` decodes (as it is now)."""
        stamp = self._stamp(path)
        if self.path is not None and stamp is not None:
            self.files[str(path)] = stamp
            self.dirty = True

    def save(self) -> None:
        if self.path is not None and self.dirty:
            write_cache_file(self.path, {"reader": self.reader, "files": self.files})


def verify_frames(datamodule: RiskDataModule, cache: str | Path | None = None) -> list[DataIssue]:
    """One issue per frame file of the indexed frame folders that training would substitute, and a FATAL
    one per folder where no file is readable.

    Each file is decoded by the reader training builds (``datamodule.reader_factory``, default
    :func:`~riskvision.data.readers.reader_for`, at ``datamodule.frame_size``), so the decision is
    training's own (``JpegFolderReader.decode``): readable means decoded to the right 8-bit RGB picture;
    corrupt, empty, 16-bit, unconvertible and over-``PIL.Image.MAX_IMAGE_PIXELS`` files are not.
    ``cache``: a :class:`VerifiedFrames` file; files that decoded at an earlier run and have not changed since
    (size, ``mtime_ns``) are not decoded again.
    """
    factory = datamodule.reader_factory or reader_for
    issues = []
    verified: VerifiedFrames | None = None
    for record in datamodule.records or []:
        if record.kind != "frames":
            continue
        reader = factory(record, datamodule.frame_size)
        if verified is None:
            verified = VerifiedFrames(cache, f"{type(reader).__qualname__} {datamodule.frame_size}")
        paths = [record.path / name for name in dict.fromkeys(record.frame_files)]
        readable = 0
        for start in range(0, len(paths), VERIFY_CHUNK):
            chunk = [path for path in paths[start : start + VERIFY_CHUNK] if not verified.known(path)]
            readable += min(VERIFY_CHUNK, len(paths) - start) - len(chunk)
            for path, result in zip(chunk, reader.decode_many(chunk) if chunk else []):
                if isinstance(result, FrameDecodeError):
                    issues.append(
                        DataIssue(
                            "unreadable_frame",
                            record.video_id,
                            str(result.path),
                            f"{result}; training replaces it by the nearest readable frame",
                        )
                    )
                else:
                    readable += 1
                    verified.add(path)
        if paths and not readable:
            issues.append(unreadable_clip(record, f"none of its {len(paths)} frame files decodes"))
    if verified is not None:
        verified.save()
    return issues


def verify_videos(datamodule: RiskDataModule) -> list[DataIssue]:
    """One issue per indexed video file whose frames, decoded from start to end, differ in number from the
    frame count its index states (a truncated file), or stop at a decoder error; a FATAL one per video
    with no decodable frame. Slow: every frame of every video is decoded.

    A variable-frame-rate video is not damage: its frame count is the stated one, and readers pick frames
    by timestamp.
    """
    issues = []
    for record in datamodule.records or []:
        if record.kind != "video":
            continue
        try:
            decoded, error = count_decoded_frames(record.path)
        except FrameReadError as err:
            issues.append(unreadable_clip(record, str(err)))
            continue
        stopped = f" (decoding stopped at: {error})" if error else ""
        if decoded == 0:
            issues.append(unreadable_clip(record, f"no frame decodes{stopped}"))
        elif decoded != record.num_frames or error:
            issues.append(
                DataIssue(
                    "frame_count",
                    record.video_id,
                    str(record.path),
                    f"video {record.path} states {record.num_frames} frames but {decoded} decode{stopped}; training "
                    f"substitutes the frames that do not decode by the nearest one that does. Fix: re-download or "
                    f're-encode it (`ffmpeg -i "{record.path}" -c:v libx264 -pix_fmt yuv420p fixed.mp4`)',
                )
            )
    return issues


def check(
    datamodule: RiskDataModule, frames: bool = True, videos: bool = False, frames_cache: str | Path | None = None
) -> tuple[dict, list[DataIssue]]:
    """Summary (as :meth:`RiskDataModule.describe`) and every problem found, fatal ones marked.

    Args:
        frames: decode every frame file of the frame folders (:func:`verify_frames`).
        frames_cache: :func:`verify_frames`' cache of the files that decoded (``None``: decode them all).
        videos: decode every video file to the end (:func:`verify_videos`, slow).
    """
    splits = datamodule.build_splits()
    problems = list(datamodule.issues)
    for video_id, names in duplicates(splits).items():
        problems.append(DataIssue("duplicate_split", video_id, "", f"{video_id} is in splits {names}", fatal=True))
    for name in SPLITS:
        if not splits.get(name):
            problems.append(
                DataIssue(
                    "empty_split",
                    "*",
                    "",
                    f"split {name!r} has zero clips after {datamodule.filters_description()}",
                    fatal=True,
                )
            )
    if frames:
        problems += verify_frames(datamodule, frames_cache)
    if videos:
        problems += verify_videos(datamodule)
    videos_by_split = {name: [to_target(r, datamodule.target_fps) for r in records] for name, records in splits.items()}
    summary = {
        "synthetic": datamodule.is_synthetic,
        "target_fps": datamodule.target_fps,
        "records": len(datamodule.records),
        "splits": summarize(videos_by_split, datamodule.labels),
    }
    return summary, problems


def print_report(summary: dict, problems: list[DataIssue], max_listed: int) -> None:
    """Clips per split/source/category and risk labels per target frame, then problems by kind."""
    kind = "SYNTHETIC data" if summary["synthetic"] else "data"
    print(f"{kind}: {summary['records']} usable videos before filters, target {summary['target_fps']:g} fps")
    print(f"{'split':<6} {'clips':>6} {'frames':>8} {'crash':>6}  {'normal':>8} {'warning':>8} {'danger':>8}  sources")
    for name, s in summary["splits"].items():
        risk = s["risk_frames"]
        sources = ", ".join(f"{k} {v}" for k, v in sorted(s["sources"].items()))
        print(
            f"{name:<6} {s['clips']:>6} {s['frames']:>8} {s['crash_clips']:>6}  {risk['normal']:>8} "
            f"{risk['warning']:>8} {risk['danger']:>8}  {sources}"
        )
    for name, s in summary["splits"].items():
        categories = ", ".join(f"{k} {v}" for k, v in sorted(s["categories"].items()))
        print(f"{name} categories: {categories}")
    by_kind: dict[str, list[DataIssue]] = defaultdict(list)
    for problem in problems:
        by_kind[problem.kind].append(problem)
    print(f"\n{len(problems)} problems" + (":" if problems else ""))
    for kind, items in sorted(by_kind.items()):
        fatal = " (FATAL)" if any(i.fatal for i in items) else ""
        ids = list(dict.fromkeys(item.video_id for item in items))
        more = f" and {len(ids) - max_listed} more" if len(ids) > max_listed else ""
        print(f"- {kind}{fatal}: {len(items)} (videos {', '.join(ids[:max_listed])}{more})")
        for item in items[:max_listed]:
            print(f"    {item.message}")
        if len(items) > max_listed:
            print(f"    ... and {len(items) - max_listed} more")
