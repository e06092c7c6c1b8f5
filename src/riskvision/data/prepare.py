"""Turn raw DoTA / BDD100K downloads into the layout riskvision decodes fastest (``scripts/prepare_data.py``).

    failures = prepare(Path("RAW_DOTA"), Path("RAW_BDD"), Path("OUT"), Settings(), workers=2)

Input (either root may be omitted):
    RAW_DOTA/frames/<clip>/images/*.jpg (or frames/<clip>/*.jpg), annotations/<clip>.json,
             metadata_{train,val}.json, {train,val}_split.txt (every top-level .json/.txt is copied)
    RAW_BDD/videos/100k/{train,val}/<id>.mov (or .mp4)
Output:
    OUT/dota/frames/<clip>/images/%06d.jpg   10 fps (DoTA's own rate), short side 256, JPEG
    OUT/dota/annotations/<clip>.json          bounding boxes rescaled to the new frame size
    OUT/dota/metadata_*.json, *_split.txt     copied
    OUT/bdd/frames/100k/{train,val}/<id>/%06d.jpg   resampled to --fps (default 10), short side 256
    OUT/{dota,bdd}/prepared.json              {"fps", "short_side", "jpeg_quality", ...}

Resizing uses the readers' antialiased bilinear filter (DCT-draft decode for DoTA JPEGs), so both
sources are filtered alike. Each video is written to OUT/<source>/.tmp/... and renamed into place
when complete: a rerun skips finished videos and redoes half-written ones. Videos that fail and
annotations that cannot be read are listed at the end and the exit code is 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image
from tqdm import tqdm

from riskvision.data.layout import DataFileError, DataLayoutError, load_json, require_folder
from riskvision.data.readers import FrameReadError, JpegFolderReader, probe_video, resize_frame
from riskvision.data.records import VideoRecord
from riskvision.data.sources.dota import DOTA_FPS, clip_frame_folder
from riskvision.data.timebase import native_index
from riskvision.files import atomic_write
from riskvision.video_io import frame_to_rgb

__all__ = ["Settings", "prepare", "prepare_bdd_video", "prepare_dota_clip", "short_side_size"]

CHUNK = 32  # frames decoded per reader call when converting a DoTA clip
BAD_INPUT = (FrameReadError, OSError, ValueError, av.FFmpegError)  # a failed video, not a bug: report, go on


@dataclass(frozen=True)
class Settings:
    """Output format: ``fps`` (BDD target rate), ``short_side`` (pixels), ``quality`` (JPEG 1-95)."""

    fps: float = 10.0
    short_side: int = 256
    quality: int = 90


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """``(H, W)`` with the shorter side ``short_side`` and the aspect ratio kept; never upscales."""
    if min(height, width) <= short_side:
        return height, width
    scale = short_side / min(height, width)
    return (short_side, round(width * scale)) if height <= width else (round(height * scale), short_side)


def _save(frame, path: Path, quality: int) -> None:
    """uint8 ``[3, H, W]`` tensor -> JPEG file."""
    Image.fromarray(frame.permute(1, 2, 0).numpy()).save(path, quality=quality)


def _finish(tmp: Path, final: Path) -> None:
    """Atomically move a completed temporary folder into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)


def _fresh_tmp(tmp: Path) -> Path:
    """An empty temporary folder (a leftover of an interrupted run is removed first)."""
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


# ---------------------------------------------------------------- DoTA


def dota_clip_frames(clip_dir: Path) -> tuple[Path, list[str]]:
    """The folder holding a raw clip's JPEGs (``images/`` or the clip folder) and their sorted names.

    Raises:
        OSError: the folder is missing or cannot be read (permissions, a symlink loop).
    """
    folder = clip_frame_folder(clip_dir)
    return folder, sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))


def _native_size(folder: Path, names: list[str]) -> tuple[int, int] | None:
    """``(H, W)`` of the first frame whose header reads, ``None`` if none does."""
    for name in names:
        try:
            with Image.open(folder / name) as image:
                return image.height, image.width
        except (OSError, ValueError, SyntaxError):
            continue
    return None


def prepare_dota_clip(clip_dir: Path, out_root: Path, settings: Settings) -> str:
    """Write one DoTA clip as ``out_root/frames/<clip>/images/%06d.jpg``; returns the clip id."""
    clip = clip_dir.name
    folder, names = dota_clip_frames(clip_dir)
    native = _native_size(folder, names)
    if native is None:
        raise FrameReadError(f"{folder} has no readable JPEG. Fix: re-extract the clip or leave it out.")
    record = VideoRecord(clip, "dota", folder, "frames", DOTA_FPS, len(names), frame_files=tuple(names))
    reader = JpegFolderReader(short_side_size(*native, settings.short_side))
    images = _fresh_tmp(out_root / ".tmp" / clip) / "images"
    images.mkdir()
    for start in range(0, len(names), CHUNK):
        indices = list(range(start, min(start + CHUNK, len(names))))
        for i, frame in zip(indices, reader.read(record, indices).frames):
            _save(frame, images / f"{i:06d}.jpg", settings.quality)
    _finish(images.parent, out_root / "frames" / clip)
    return clip


def _rescale_annotation(annotation: dict, sx: float, sy: float) -> dict:
    """Scale every object's ``bbox`` [x1, y1, x2, y2] (pixels) by ``sx``, ``sy``."""
    for label in annotation.get("labels", []):
        for obj in label.get("objects", []) or []:
            if obj.get("bbox"):
                x1, y1, x2, y2 = obj["bbox"]
                obj["bbox"] = [round(x1 * sx, 2), round(y1 * sy, 2), round(x2 * sx, 2), round(y2 * sy, 2)]
    return annotation


def _write_json(path: Path, data) -> None:
    text = json.dumps(data, indent=1)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def copy_dota_metadata(raw: Path, out_root: Path, settings: Settings) -> list[str]:
    """Copy split/metadata files and rewrite annotations with boxes in the new frame size.

    Returns the failures: an annotation that is not a UTF-8 JSON object is listed (the message names it
    and the fix) and copied unchanged, so indexing the output reports its clip too; a rerun rewrites it.
    """
    out_root.mkdir(parents=True, exist_ok=True)
    for path in raw.iterdir():
        if path.is_file() and path.suffix in (".json", ".txt"):
            shutil.copyfile(path, out_root / path.name)
    if not (raw / "annotations").is_dir():
        return []
    (out_root / "annotations").mkdir(exist_ok=True)
    failures = []
    for path in sorted((raw / "annotations").glob("*.json")):
        try:
            annotation = load_json(path)
        except DataFileError as error:
            failures.append(str(error))
            with contextlib.suppress(OSError):  # an unreadable file cannot be copied either
                shutil.copyfile(path, out_root / "annotations" / path.name)
            continue
        try:
            native = _native_size(*dota_clip_frames(raw / "frames" / path.stem))
        except OSError:
            native = None  # no readable frames: the clip itself fails and is listed
        if native is not None:
            height, width = short_side_size(*native, settings.short_side)
            annotation = _rescale_annotation(annotation, width / native[1], height / native[0])
        _write_json(out_root / "annotations" / path.name, annotation)
    return failures


# ---------------------------------------------------------------- BDD100K


def prepare_bdd_video(video: Path, final: Path, tmp: Path, settings: Settings) -> str:
    """Decode one BDD video once, keep target frames at ``settings.fps``, write ``final/%06d.jpg``."""
    native_fps, num_frames = probe_video(video)
    _fresh_tmp(tmp)
    written = 0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base, start = stream.time_base, stream.start_time or 0
        size = short_side_size(stream.codec_context.height, stream.codec_context.width, settings.short_side)
        for position, frame in enumerate(container.decode(stream)):
            index = position if frame.pts is None else round((frame.pts - start) * time_base * native_fps)
            if native_index(written, native_fps, settings.fps) > index:
                continue
            image = resize_frame(frame_to_rgb(frame), size)
            while native_index(written, native_fps, settings.fps) <= index:  # also fills gaps in the stream
                _save(image, tmp / f"{written:06d}.jpg", settings.quality)
                written += 1
    if written == 0:
        raise FrameReadError(f"{video} decoded to no frames (probed {num_frames}). Fix: re-download it.")
    _finish(tmp, final)
    return video.stem


# ---------------------------------------------------------------- driver


def _dota_jobs(raw: Path, out_root: Path, settings: Settings) -> list[tuple]:
    expected = (
        "frames/<clip>/images/%06d.jpg, annotations/<clip>.json and metadata_{train,val}.json "
        "(the official release layout)"
    )
    frames = require_folder(raw, "--dota-root", expected) / "frames"
    if not frames.is_dir():
        raise DataLayoutError(f"DoTA root {raw} has no frames/ folder; expected {expected}.")
    clips = sorted(p for p in frames.iterdir() if p.is_dir() or p.is_symlink())  # a looping link fails, listed
    return [(prepare_dota_clip, (c, out_root, settings)) for c in clips if not (out_root / "frames" / c.name).is_dir()]


def _bdd_jobs(raw: Path, out_root: Path, settings: Settings, splits: list[str]) -> list[tuple]:
    require_folder(raw, "--bdd-root", "videos/100k/{train,val}/<id>.mov (or .mp4)")
    jobs = []
    for split in splits:
        folder = raw / "videos" / "100k" / split
        if not folder.is_dir():
            raise DataLayoutError(
                f"BDD100K root {raw} has no videos/100k/{split}/ folder; expected "
                f"videos/100k/{{train,val}}/<id>.mov (or .mp4). Fix: point --bdd-root at the folder "
                "holding videos/, or pass --bdd-splits with the splits you have."
            )
        for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mov", ".mp4")):
            final = out_root / "frames" / "100k" / split / video.stem
            if not final.is_dir():
                jobs.append((prepare_bdd_video, (video, final, out_root / ".tmp" / split / video.stem, settings)))
    return jobs


def run_jobs(jobs: list[tuple], workers: int, desc: str) -> list[str]:
    """Run ``(function, args)`` jobs with a progress bar; returns the error messages of failed jobs."""
    failures: list[str] = []
    if workers <= 1:
        for function, args in tqdm(jobs, desc=desc, unit="video"):
            try:
                function(*args)
            except BAD_INPUT as error:
                failures.append(f"{args[0]}: {error}")
        return failures
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures: dict[Future, tuple] = {pool.submit(function, *args): args for function, args in jobs}
        with tqdm(total=len(futures), desc=desc, unit="video") as bar:
            for future in as_completed(futures):
                error = future.exception()
                if error is not None and not isinstance(error, BAD_INPUT):
                    raise error
                if error is not None:
                    failures.append(f"{futures[future][0]}: {error}")
                bar.update()
    return failures


def prepare(
    dota_root: Path | None,
    bdd_root: Path | None,
    out: Path,
    settings: Settings = Settings(),
    workers: int = 1,
    bdd_splits: tuple[str, ...] = ("train", "val"),
) -> list[str]:
    """Prepare the given roots under ``out/dota`` and ``out/bdd``; returns failure messages.

    Raises:
        DataLayoutError: a root lacks the folders of its raw layout (the message names both).
    """
    failures: list[str] = []
    info = {"short_side": settings.short_side, "jpeg_quality": settings.quality}
    if dota_root is not None:
        root = out / "dota"
        jobs = _dota_jobs(dota_root, root, settings)
        failures += copy_dota_metadata(dota_root, root, settings)
        failures += run_jobs(jobs, workers, "DoTA clips")
        _write_json(
            root / "prepared.json",
            {"fps": DOTA_FPS, **info, "source": "dota", "layout": "frames/<clip>/images/%06d.jpg"},
        )
    if bdd_root is not None:
        root = out / "bdd"
        failures += run_jobs(_bdd_jobs(bdd_root, root, settings, list(bdd_splits)), workers, "BDD videos")
        root.mkdir(parents=True, exist_ok=True)
        _write_json(
            root / "prepared.json",
            {"fps": settings.fps, **info, "source": "bdd", "layout": "frames/100k/<split>/<id>/%06d.jpg"},
        )
    return failures
