"""The tree writers: simulated, rendered clips written as a DoTA official-layout tree (crash clips, JPEG
frames, annotations, metadata, split files) and a BDD100K videos tree (normal driving, MP4).
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict
from pathlib import Path

import numpy as np

from riskvision.data.layout import SYNTHETIC_MARKER
from riskvision.data.sources.synthetic.render import camera_jpeg, decode_jpeg, face_box, project, render_frame
from riskvision.data.sources.synthetic.scene import SIM_FPS, CrashEvent, Scene, Vehicle, add_crash, simulate_scene
from riskvision.data.sources.synthetic.sizes import VERSION, SyntheticSizes
from riskvision.progress import ProgressLine
from riskvision.video_io import encode_mp4, h264_roundtrip

DOTA_FPS = 10
BDD_FPS = 30
STORE_QUALITY = 95  # JPEG quality (4:4:4) of the stored DoTA frames, after the shared camera + H.264 stages
NIGHT_FRACTION = 0.2


def write_dataset(out: Path, seed: int, config: SyntheticSizes, progress: ProgressLine | None = None) -> None:
    """Write both trees into ``out`` (no caching; use :func:`ensure_synthetic`); ``progress`` advances by one per
    clip (``num_crash + num_normal`` in all)."""
    # "generator" keeps the module name of version 2 (a new name would change the files: bump VERSION with it)
    meta = {
        "generator": "riskvision.data.synthetic",
        "version": VERSION,
        "seed": seed,
        "sizes": asdict(config),
        "synthetic": True,
    }
    for name in ("dota", "bdd"):
        (out / name).mkdir(parents=True)
        _write_json(out / name / SYNTHETIC_MARKER, meta)
    write_dota_tree(out / "dota", seed, config, progress)
    write_bdd_tree(out / "bdd", seed, config, progress)


def write_dota_tree(root: Path, seed: int, config: SyntheticSizes, progress: ProgressLine | None = None) -> None:
    """Crash clips in the DoTA official layout (frames, annotations, metadata, split files)."""
    rng = np.random.default_rng([seed, 1])
    clip_ids = _dota_clip_ids(rng, config)
    val = set(_pick_val(rng, clip_ids, config.val_fraction))
    nights = _pick_nights(rng, len(clip_ids))
    metadata: dict[str, dict[str, dict]] = {"train": {}, "val": {}}
    for index, clip in enumerate(clip_ids):
        subset = "val" if clip in val else "train"
        annotation = _write_crash_clip(root, clip, np.random.default_rng([seed, 2, index]), config, index in nights)
        metadata[subset][clip] = _metadata_entry(annotation, subset)
        if progress is not None:
            progress.advance()
    for subset, entries in metadata.items():
        _write_json(root / f"metadata_{subset}.json", entries)
        (root / f"{subset}_split.txt").write_text("".join(f"{clip}\n" for clip in entries))


def write_bdd_tree(root: Path, seed: int, config: SyntheticSizes, progress: ProgressLine | None = None) -> None:
    """Normal-driving 30 fps MP4 videos in the BDD100K layout ``videos/100k/{train,val}/<id>.mp4``."""
    rng = np.random.default_rng([seed, 3])
    ids = [_bdd_id(rng) for _ in range(config.num_normal)]
    val = set(_pick_val(rng, ids, config.val_fraction))
    nights = _pick_nights(rng, len(ids))
    for index, video_id in enumerate(ids):
        folder = root / "videos" / "100k" / ("val" if video_id in val else "train")
        folder.mkdir(parents=True, exist_ok=True)
        clip_rng = np.random.default_rng([seed, 4, index])
        seconds = clip_rng.uniform(*config.normal_seconds)
        scene = simulate_scene(clip_rng, max(2, round(seconds * BDD_FPS)), config, index in nights)
        frames = (decode_jpeg(camera_jpeg(render_frame(scene, i), config.jpeg_quality)) for i in range(scene.n))
        encode_mp4(folder / f"{video_id}.mp4", frames, (config.width, config.height), BDD_FPS, config.qp)
        if progress is not None:
            progress.advance()


def _write_crash_clip(root: Path, clip: str, rng: np.random.Generator, config: SyntheticSizes, night: bool) -> dict:
    num_frames = max(8, round(rng.uniform(*config.crash_seconds) * DOTA_FPS))
    step = SIM_FPS // DOTA_FPS
    scene = simulate_scene(rng, num_frames * step, config, night)
    event = add_crash(scene, rng)
    folder = root / "frames" / clip / "images"
    folder.mkdir(parents=True)
    shots = [
        decode_jpeg(camera_jpeg(render_frame(scene, frame * step), config.jpeg_quality)) for frame in range(num_frames)
    ]
    for frame, image in enumerate(h264_roundtrip(shots, DOTA_FPS, config.qp)):
        (folder / f"{frame:06d}.jpg").write_bytes(camera_jpeg(image, STORE_QUALITY, subsampling=0))
    annotation = _annotation(clip, rng, scene, event, num_frames, step)
    (root / "annotations").mkdir(exist_ok=True)
    _write_json(root / "annotations" / f"{clip}.json", annotation)
    return annotation


# ============================================================================ ids, splits, JSON

_YOUTUBE_CHARS = string.ascii_letters + string.digits + "-_"


def _dota_clip_ids(rng: np.random.Generator, config: SyntheticSizes) -> list[str]:
    """``<11-char source id>_<video_start:06d>``, several clips per source id, starts increasing."""
    ids: list[str] = []
    while len(ids) < config.num_crash:
        source = "".join(rng.choice(list(_YOUTUBE_CHARS), 11))
        start = int(rng.integers(0, 400))
        for _ in range(int(rng.integers(config.clips_per_source[0], config.clips_per_source[1] + 1))):
            if len(ids) < config.num_crash:
                ids.append(f"{source}_{start:06d}")
                start += int(rng.integers(100, 1500))
    return ids


def _bdd_id(rng: np.random.Generator) -> str:
    digits = "".join(rng.choice(list("0123456789abcdef"), 16))
    return f"{digits[:8]}-{digits[8:]}"


def _pick_val(rng: np.random.Generator, ids: list[str], fraction: float) -> list[str]:
    count = min(len(ids) - 1, max(1, round(len(ids) * fraction)))
    return [ids[i] for i in sorted(rng.permutation(len(ids))[:count])]


def _pick_nights(rng: np.random.Generator, count: int) -> set[int]:
    """Indices of the night clips: exactly ``NIGHT_FRACTION`` of each source, so night is no class cue."""
    return {int(i) for i in rng.permutation(count)[: round(count * NIGHT_FRACTION)]}


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


# ============================================================================ annotations


def _annotation(
    clip: str, rng: np.random.Generator, scene: Scene, event: CrashEvent, num_frames: int, step: int
) -> dict:
    """The DoTA per-clip annotation dict (key order as in the real files)."""
    start = min(num_frames - 1, -(-event.onset // step))
    end = min(num_frames, max(start + 1, -(-event.end // step)))
    source, video_start = clip.rsplit("_", 1)
    labels = [
        _frame_label(clip, frame, scene, event, frame * step, start <= frame < end) for frame in range(num_frames)
    ]
    return {
        "video_name": clip,
        "channel": str(rng.choice(["AnAn", "CarCrashesTime"])),
        "num_frames": num_frames,
        "ignore": False,
        "ego_involve": event.ego,
        "night": scene.style.night,
        "anomaly_start": start,
        "anomaly_end": end,
        "video_start": int(video_start),
        "video_end": int(video_start) + num_frames - 1,
        "accident_id": str(event.accident_id),
        "accident_name": event.name,
        "labels": labels,
    }


def _frame_label(clip: str, frame: int, scene: Scene, event: CrashEvent, i: int, anomalous: bool) -> dict:
    objects = []
    if anomalous:
        f, cx, horizon = project(scene, i)
        for index in event.involved:
            car = scene.vehicles[index]
            if car.d[i] > 1.0:
                objects.extend(_bbox_object(scene, car, i, f, cx, horizon))
    return {
        "frame_id": frame,
        "image_path": f"frames/{clip}/images/{frame:06d}.jpg",
        "accident_id": event.accident_id if anomalous else 0,
        "accident_name": event.name if anomalous else "normal",
        "objects": objects,
    }


def _bbox_object(scene: Scene, car: Vehicle, i: int, f: float, cx: float, horizon: float) -> list[dict]:
    x0, y0, x1, y1 = face_box(scene, i, f, cx, horizon, car.x[i], car.d[i], car.width, car.height)
    clipped = [
        min(max(x0, 0), scene.width),
        min(max(y0, 0), scene.height),
        min(max(x1, 0), scene.width),
        min(max(y1, 0), scene.height),
    ]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        return []
    return [
        {
            "obj_track_id": car.track_id,
            "bbox": [round(float(c), 2) for c in clipped],
            "category": "car",
            "category ID": 3,
            "trunc": bool(clipped != [x0, y0, x1, y1]),
        }
    ]


def _metadata_entry(annotation: dict, subset: str) -> dict:
    who = "ego" if annotation["ego_involve"] else "other"
    return {
        "video_start": annotation["video_start"],
        "video_end": annotation["video_end"],
        "anomaly_start": annotation["anomaly_start"],
        "anomaly_end": annotation["anomaly_end"],
        "anomaly_class": f"{who}: {annotation['accident_name']}",
        "num_frames": annotation["num_frames"],
        "subset": subset,
    }
