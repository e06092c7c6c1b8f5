"""Procedurally rendered ego-view road scenes written as a DoTA-format and a BDD-format tree.

The built-in default data set: no download, made in well under a minute on two CPU cores, cached and
deterministic per seed. :func:`ensure_synthetic` writes (or reuses) ``<root>/<key>/``::

    <key>/dota/frames/<clip>/images/%06d.jpg       10 fps JPEG frames, numbered from 0
    <key>/dota/annotations/<clip>.json              the real DoTA per-clip schema
    <key>/dota/metadata_{train,val}.json, {train,val}_split.txt, synthetic.json
    <key>/bdd/videos/100k/{train,val}/<id>.mp4      30 fps H.264, normal driving
    <key>/bdd/synthetic.json
    <key>/COMPLETE                                  written last; a tree without it is redone

Scenes. Every clip comes from the same renderer, palette sampler, traffic simulator, camera noise and
"camera" JPEG stage: a perspective road with moving lane markings, sky and skyline, roadside posts,
trees and buildings, a lead vehicle whose distance wanders from ~2 m (bumper to bumper, ego stopped)
to ~40 m, vehicles in the adjacent lanes that drift and pass close, oncoming traffic, road bumps that
shake the camera, and night clips. A crash clip (DoTA tree) adds one event: the lead vehicle, or one
that cuts in, closes in much faster than traffic ever does (5-12 m/s) and is hit inside the annotated
anomaly span ``[anomaly_start, anomaly_end)``; the impact jolts the camera and stops the ego vehicle
dead. Before the span the lead slowly closes in (a warning period). Every frame of a crash clip looks
like some frame of a normal clip (close vehicles, brake lights, stopped traffic and camera shake occur
in both), so only motion separates the classes. BDD frames are rendered at 30 fps, DoTA frames at
10 fps from the same continuous-time simulation; both pass the same camera JPEG stage and the same
all-intra H.264 stage (DoTA frames are then stored as quality-95 JPEGs), so decoded frames of the two
sources carry the same artefacts.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import string
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from riskvision.data.layout import SYNTHETIC_MARKER
from riskvision.data.records import DataIssue, VideoRecord
from riskvision.data.sources.base import RecordSource
from riskvision.data.sources.bdd import BddSource
from riskvision.data.sources.dota import DotaFilter, DotaSource

log = logging.getLogger(__name__)

VERSION = 2  # bump whenever the output changes: cached trees are keyed by it
DOTA_FPS = 10
BDD_FPS = 30
SIM_FPS = 30  # simulation rate; DoTA frames are every third simulation step
STORE_QUALITY = 95  # JPEG quality (4:4:4) of the stored DoTA frames, after the shared camera + H.264 stages
NIGHT_FRACTION = 0.2
MARKER = "COMPLETE"

CAM_HEIGHT = 1.4  # m
FOCAL = 0.8  # focal length in units of frame width
HORIZON = 0.40  # horizon row in units of frame height
LANE = 3.5  # lane width, m
ROADSIDE_PERIOD = 120.0  # roadside objects repeat every this many metres, m

GROUND_COLOURS = ((70, 110, 55), (120, 110, 80), (95, 95, 90), (140, 140, 130))  # grass, dirt, gravel, pavement
ROADSIDE_SIZES = (((0.3, 0.3), (3, 7)), ((1.5, 3), (4, 9)), ((6, 15), (5, 14)))  # post, tree, building: (w, h) ranges, m
# (accident_id, accident_name, ego_involve, weight): the crash scenarios this generator can render
CRASH_KINDS = (
    (2, "moving_ahead_or_waiting", True, 0.3),
    (1, "start_stop_or_stationary", True, 0.2),
    (3, "lateral", True, 0.3),
    (3, "lateral", False, 0.2),
)


@dataclass(frozen=True)
class SyntheticSizes:
    """How much to generate (every field is an ``ensure_synthetic`` keyword argument).

    Attributes:
        num_crash: DoTA-format crash clips.
        num_normal: BDD-format normal videos.
        width, height: frame size in pixels (even numbers; H.264 wants them).
        crash_seconds: (min, max) crash clip length in seconds (10 fps frames).
        normal_seconds: (min, max) normal video length in seconds (30 fps frames).
        val_fraction: fraction of each source put in its val split (at least one clip each).
        clips_per_source: (min, max) DoTA clips cut from one synthetic "YouTube" source video.
        jpeg_quality: quality of the camera JPEG stage (DoTA frames are these JPEG files).
        qp: x264 constant quantiser of the H.264 stage (BDD videos; DoTA frames pass it too). A
            constant QP, not CRF: x264's CRF depends on the frame rate, QP does not.
    """

    num_crash: int = 60
    num_normal: int = 60
    width: int = 160
    height: int = 96
    crash_seconds: tuple[float, float] = (4.0, 7.0)
    normal_seconds: tuple[float, float] = (4.0, 7.0)
    val_fraction: float = 0.25
    clips_per_source: tuple[int, int] = (1, 4)
    jpeg_quality: int = 90
    qp: int = 22

    @classmethod
    def from_kwargs(cls, **sizes: object) -> "SyntheticSizes":
        """Build from keyword arguments; unknown names are an error that lists the valid ones."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(sizes) - valid)
        if unknown:
            raise TypeError(f"ensure_synthetic got unknown size(s) {unknown}; valid: {sorted(valid)}")
        out = cls(**{k: _coerce(getattr(cls, k), v) for k, v in sizes.items()})
        if out.width % 2 or out.height % 2 or out.width < 32 or out.height < 32:
            raise ValueError(f"synthetic frame size {out.width}x{out.height} must be even and >= 32")
        if out.num_crash < 2 or out.num_normal < 2:
            raise ValueError(f"need >= 2 crash and normal clips (train and val), got {out.num_crash}/{out.num_normal}")
        return out


def _coerce(default: object, value: object) -> object:
    """``value`` in the type of the field's ``default`` (lists -> tuples, 2 -> 2.0), so equal sizes hash equal."""
    if isinstance(default, tuple):
        return tuple(type(d)(v) for d, v in zip(default, value, strict=True))
    return type(default)(value)


@dataclass(frozen=True)
class SyntheticPaths:
    """Where a generated data set lives.

    Attributes:
        root: ``<root>/<key>`` holding both trees.
        dota_root: the DoTA official-layout tree.
        bdd_root: the BDD100K video-layout tree.
        generated: ``True`` when this call generated it, ``False`` when it was reused.
        seconds: wall-clock time this call took, s.
    """

    root: Path
    dota_root: Path
    bdd_root: Path
    generated: bool
    seconds: float


# ============================================================================ caching entry point

def ensure_synthetic(root: str | Path, seed: int = 0, **sizes: object) -> SyntheticPaths:
    """Generate the synthetic DoTA + BDD trees under ``root`` unless a complete copy exists.

    The output folder ``root/<key>`` is keyed by (generator version, seed, sizes). Generation writes
    into a temporary sibling folder and renames it into place, so an interrupted run leaves nothing
    that looks complete and concurrent callers end up sharing one tree.

    Args:
        root: parent folder of the keyed data set folders.
        seed: random seed; the same seed gives byte-identical files.
        **sizes: fields of :class:`SyntheticSizes` (``num_crash=8, width=96, ...``).
    """
    begin = time.perf_counter()
    config = SyntheticSizes.from_kwargs(**sizes)
    final = Path(root) / dataset_key(seed, config)
    generated = False
    if not (final / MARKER).is_file():
        _generate_atomically(final, seed, config)
        generated = True
    seconds = time.perf_counter() - begin
    log.info("synthetic data (NOT real DoTA/BDD100K) %s at %s in %.1f s",
             "generated" if generated else "reused", final, seconds)
    return SyntheticPaths(final, final / "dota", final / "bdd", generated, seconds)


def dataset_key(seed: int, config: SyntheticSizes) -> str:
    """Folder name for (version, seed, sizes): ``v1-seed0-<10 hex digits>``."""
    blob = json.dumps({"version": VERSION, "seed": seed, "sizes": asdict(config)}, sort_keys=True)
    return f"v{VERSION}-seed{seed}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _generate_atomically(final: Path, seed: int, config: SyntheticSizes) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        begin = time.perf_counter()
        write_dataset(tmp, seed, config)
        (tmp / MARKER).write_text(json.dumps({"seconds": round(time.perf_counter() - begin, 2)}) + "\n")
        if final.exists() and not (final / MARKER).is_file():
            shutil.rmtree(final)  # left by an interrupted generation on a filesystem without atomic rename
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MARKER).is_file():  # not a lost race with another generator: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_dataset(out: Path, seed: int, config: SyntheticSizes) -> None:
    """Write both trees into ``out`` (no caching; use :func:`ensure_synthetic`)."""
    meta = {"generator": "riskvision.data.synthetic", "version": VERSION, "seed": seed,
            "sizes": asdict(config), "synthetic": True}
    for name in ("dota", "bdd"):
        (out / name).mkdir(parents=True)
        _write_json(out / name / SYNTHETIC_MARKER, meta)
    write_dota_tree(out / "dota", seed, config)
    write_bdd_tree(out / "bdd", seed, config)


# ============================================================================ the tree writers

def write_dota_tree(root: Path, seed: int, config: SyntheticSizes) -> None:
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
    for subset, entries in metadata.items():
        _write_json(root / f"metadata_{subset}.json", entries)
        (root / f"{subset}_split.txt").write_text("".join(f"{clip}\n" for clip in entries))


def write_bdd_tree(root: Path, seed: int, config: SyntheticSizes) -> None:
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


def _write_crash_clip(root: Path, clip: str, rng: np.random.Generator, config: SyntheticSizes, night: bool) -> dict:
    num_frames = max(8, round(rng.uniform(*config.crash_seconds) * DOTA_FPS))
    step = SIM_FPS // DOTA_FPS
    scene = simulate_scene(rng, num_frames * step, config, night)
    event = add_crash(scene, rng)
    folder = root / "frames" / clip / "images"
    folder.mkdir(parents=True)
    shots = [decode_jpeg(camera_jpeg(render_frame(scene, frame * step), config.jpeg_quality))
             for frame in range(num_frames)]
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


# ============================================================================ the simulation

@dataclass
class Vehicle:
    """One vehicle over the simulation steps (rear face, or front face when ``oncoming``).

    Attributes:
        x: lateral position of its centre, m, ``[n]`` (ego lane centre 0, right positive).
        d: forward distance from the camera to its near face, m, ``[n]``.
        brake: brake lights on, bool ``[n]``.
    """

    x: np.ndarray
    d: np.ndarray
    brake: np.ndarray
    width: float
    height: float
    colour: np.ndarray
    oncoming: bool = False
    track_id: int = 0


@dataclass
class Style:
    """Per-clip appearance (shared sampler for both sources)."""

    night: bool
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    ground: np.ndarray
    road: np.ndarray
    marking: np.ndarray
    centre_marking: np.ndarray
    skyline: np.ndarray  # height above the horizon per column, fraction of frame height, [2W]
    skyline_colour: np.ndarray
    gain: float
    roadside: list[tuple[float, float, float, float, np.ndarray]]  # (x, z0, width, height, colour)


@dataclass
class Scene:
    """Everything the renderer needs, sampled at ``SIM_FPS``.

    Attributes:
        n: number of simulation steps.
        s: distance the ego vehicle has travelled, m, ``[n]``.
        ego_speed: m/s, ``[n]``.
        pitch, yaw: camera shake, fraction of frame height / width, ``[n]``.
        curve: road curvature (lateral offset = curve * z^2), 1/m, ``[n]``.
        cruise, closest: the ego's free speed, m/s, and the closest it follows the lead, m.
    """

    n: int
    width: int
    height: int
    style: Style
    s: np.ndarray
    ego_speed: np.ndarray
    pitch: np.ndarray
    yaw: np.ndarray
    curve: np.ndarray
    cruise: float = 10.0
    closest: float = 2.0
    wobble: np.ndarray | None = None  # ego speed modulation, [n]
    vehicles: list[Vehicle] = field(default_factory=list)
    lead: int = 0
    noise: np.ndarray | None = None  # bank of noise images, [K, H, W, 1]


@dataclass(frozen=True)
class CrashEvent:
    """A crash in simulation steps: onset of the fast closing, impact, end of the anomaly (exclusive)."""

    accident_id: int
    name: str
    ego: bool
    onset: int
    impact: int
    end: int
    involved: tuple[int, ...]  # indices into Scene.vehicles


def _smooth(rng: np.random.Generator, n: int, periods: tuple[float, float], k: int = 3) -> np.ndarray:
    """Smooth random signal in [-1, 1]: a sum of ``k`` sinusoids with periods in seconds, ``[n]``."""
    t = np.arange(n) / SIM_FPS
    weights = rng.dirichlet(np.ones(k))
    out = np.zeros(n)
    for w in weights:
        out += w * np.sin(2 * np.pi * t / rng.uniform(*periods) + rng.uniform(0, 2 * np.pi))
    return out


def _shake(rng: np.random.Generator, n: int, at: int, amplitude: float) -> np.ndarray:
    """A damped oscillation starting at step ``at`` (a bump or an impact), ``[n]``."""
    t = np.maximum(np.arange(n) - at, 0) / SIM_FPS
    wave = amplitude * np.exp(-t / rng.uniform(0.15, 0.35)) * np.sin(2 * np.pi * rng.uniform(4, 8) * t)
    return np.where(np.arange(n) >= at, wave, 0.0)


def _jolt(rng: np.random.Generator, scene: Scene, at: int, amplitude: float) -> None:
    """Shake the camera from step ``at`` (bumps and impacts alike): pitch ``amplitude`` (fraction of H), smaller yaw."""
    scene.pitch += _shake(rng, scene.n, at, amplitude)
    scene.yaw += _shake(rng, scene.n, at, amplitude * rng.uniform(0.1, 0.4))


def sample_style(rng: np.random.Generator, width: int, night: bool) -> Style:
    """Palette, skyline and roadside objects for one clip."""
    tint = rng.uniform(-12, 12, 3)
    sky_top = np.array([70, 120, 200]) * rng.uniform(0.6, 1.1) + tint
    sky_horizon = np.array([190, 205, 220]) * rng.uniform(0.75, 1.05) + tint
    ground = np.array(rng.choice(GROUND_COLOURS)) * rng.uniform(0.8, 1.2)
    road = np.full(3, rng.uniform(70, 125)) + rng.uniform(-6, 6, 3)
    marking = np.array([225, 225, 220]) * rng.uniform(0.8, 1.0)
    centre = np.array([220, 190, 60]) if rng.random() < 0.5 else marking
    skyline = np.repeat(np.abs(_smooth(rng, 2 * width // 4 + 1, (0.3, 2.0), 4)), 4)[: 2 * width]
    skyline = skyline * rng.uniform(0.03, 0.18) + (rng.random(2 * width) < 0.02) * rng.uniform(0, 0.1)
    roadside = []
    for _ in range(int(rng.integers(4, 12))):
        side = rng.choice([-1, 1])
        kind = rng.integers(3)  # post, tree, building
        (w0, w1), (h0, h1) = ROADSIDE_SIZES[kind]
        w, h = rng.uniform(w0, w1), rng.uniform(h0, h1)
        x = side * (1.5 * LANE + rng.uniform(1, 3) + (w / 2 if kind == 2 else 0) + 2 * (kind == 2))
        colour = np.array([[120, 120, 120], [50, 100, 45], [150, 130, 115]][kind]) * rng.uniform(0.6, 1.3)
        roadside.append((float(x), float(rng.uniform(0, ROADSIDE_PERIOD)), float(w), float(h), colour))
    return Style(night, sky_top, sky_horizon, ground, road, marking, centre, skyline,
                 np.array([90, 100, 110]) * rng.uniform(0.6, 1.2), float(rng.uniform(0.85, 1.15)), roadside)


def _vehicle_colour(rng: np.random.Generator) -> np.ndarray:
    base = [[200, 200, 205], [40, 40, 45], [150, 30, 30], [30, 60, 140], [120, 120, 125], [230, 230, 225],
            [60, 90, 60], [180, 150, 60]]
    return np.array(base[int(rng.integers(len(base)))]) * rng.uniform(0.8, 1.1)


def _new_vehicle(rng: np.random.Generator, x: np.ndarray, d: np.ndarray, track_id: int,
                 oncoming: bool = False) -> Vehicle:
    van = rng.random() < 0.25
    width = rng.uniform(1.9, 2.2) if van else rng.uniform(1.6, 1.9)
    height = rng.uniform(2.0, 2.6) if van else rng.uniform(1.3, 1.6)
    brake = np.r_[0.0, np.diff(d)] * SIM_FPS < -0.3
    return Vehicle(x, d, brake, width, height, _vehicle_colour(rng), oncoming, track_id)


def simulate_scene(rng: np.random.Generator, n: int, config: SyntheticSizes, night: bool = False) -> Scene:
    """Normal traffic for ``n`` simulation steps: lead car, adjacent lanes, oncoming, bumps."""
    style = sample_style(rng, config.width, night)
    closest = rng.uniform(1.9, 2.4)
    lead_d = np.clip(np.exp(np.log(rng.uniform(2, 7)) + rng.uniform(0.3, 1.0) * _smooth(rng, n, (6, 16))), closest, 45)
    scene = Scene(n, config.width, config.height, style, np.zeros(n), np.zeros(n), 0.004 * _smooth(rng, n, (0.3, 1.5)),
                  0.006 * _smooth(rng, n, (0.5, 3)), rng.uniform(-1, 1) * 0.002 * (1 + 0.3 * _smooth(rng, n, (5, 15))),
                  cruise=rng.uniform(6, 18), closest=closest, wobble=0.85 + 0.15 * _smooth(rng, n, (2, 6)))
    _set_ego_speed(scene, _follow_speed(scene, lead_d))
    for _ in range(rng.poisson(0.15 * n / SIM_FPS)):  # road bumps
        _jolt(rng, scene, int(rng.integers(n)), rng.uniform(0.01, 0.06))
    scene.vehicles.append(_new_vehicle(rng, 0.5 * _smooth(rng, n, (3, 9)) * rng.uniform(0.2, 1.0), lead_d, 0))
    scene.vehicles[0].brake |= scene.ego_speed < 2.0
    _add_adjacent(rng, scene)
    _add_oncoming(rng, scene)
    scene.noise = rng.normal(0, 1, (6, config.height, config.width, 1)).astype(np.float32)
    return scene


def _follow_speed(scene: Scene, lead_d: np.ndarray) -> np.ndarray:
    """Car-following ego speed, m/s ``[n]``: cruise when the lead is far, stopped when it is closest."""
    return scene.cruise * np.clip((lead_d - scene.closest) / 10, 0, 1) ** 0.6 * scene.wobble


def _set_ego_speed(scene: Scene, speed: np.ndarray) -> None:
    """Set the ego speed, m/s ``[n]``, and the distance travelled, m ``[n]``."""
    scene.ego_speed = speed
    scene.s = np.cumsum(speed) / SIM_FPS


def _add_adjacent(rng: np.random.Generator, scene: Scene) -> None:
    """Same-direction vehicles in the side lanes: they drift towards the lane line and pass close."""
    for _ in range(int(rng.integers(1, 4))):
        lane = rng.choice([-1.0, 1.0]) * LANE
        x = lane - np.sign(lane) * np.clip(rng.uniform(0, 1.8) * (0.5 + 0.5 * _smooth(rng, scene.n, (2, 8))), 0, 1.9)
        d = rng.uniform(-5, 30) + rng.uniform(3, 15) * _smooth(rng, scene.n, (6, 16))
        scene.vehicles.append(_new_vehicle(rng, x, d, len(scene.vehicles)))


def _add_oncoming(rng: np.random.Generator, scene: Scene) -> None:
    """Vehicles in the far-left lane driving towards the camera."""
    for _ in range(rng.poisson(0.2 * scene.n / SIM_FPS)):
        speed = rng.uniform(8, 16)
        d = rng.uniform(20, 120) - (speed * np.arange(scene.n) / SIM_FPS + scene.s)
        x = np.full(scene.n, -LANE * rng.uniform(0.9, 1.1))
        scene.vehicles.append(_new_vehicle(rng, x, d, len(scene.vehicles), oncoming=True))


# ============================================================================ the crash event

def add_crash(scene: Scene, rng: np.random.Generator) -> CrashEvent:
    """Turn a normal scene into a crash: fast closing, impact inside the anomaly span, jolt, stop."""
    weights = np.array([k[3] for k in CRASH_KINDS])
    accident_id, name, ego, _ = CRASH_KINDS[int(rng.choice(len(CRASH_KINDS), p=weights / weights.sum()))]
    n = scene.n
    onset = int(rng.uniform(0.3, 0.6) * n)
    if not ego:
        return _other_crash(scene, rng, accident_id, name, onset)
    if name == "lateral":
        victim = _cut_in_vehicle(scene, rng, onset)
    else:
        victim = scene.lead
    closing = rng.uniform(7, 14)  # m/s
    d_on = rng.uniform(4, 8)
    contact = rng.uniform(1.9, 2.3)
    impact = min(onset + max(2, round((d_on - contact) / closing * SIM_FPS)), n - 4)
    end = min(n, impact + round(rng.uniform(0.6, 1.6) * SIM_FPS))
    car = scene.vehicles[victim]
    car.d = _crash_distance(car.d, onset, impact, d_on, contact, rng.uniform(0.2, 1.2))
    car.x = car.x + np.where(np.arange(n) > impact, rng.uniform(-0.6, 0.6), 0.0) * _ramp(n, impact, 0.4)
    car.brake = car.brake | (np.arange(n) >= onset)
    lead = scene.vehicles[scene.lead]
    if victim != scene.lead:  # the old lead must stay ahead of the car that cut in
        lead.d = np.maximum(lead.d, car.d + 7)
    speed = _follow_speed(scene, lead.d if victim != scene.lead else car.d)
    speed[onset:impact] = np.maximum(speed[onset:impact], closing)
    _stop_ego(scene, speed, impact, tau=0.12)
    _jolt(rng, scene, impact, rng.uniform(0.03, 0.06))
    return CrashEvent(accident_id, name, True, onset, impact, max(end, impact + 1), (victim,))


def _ramp(n: int, at: int, seconds: float) -> np.ndarray:
    """0 before step ``at``, rising smoothly to 1 over ``seconds``, ``[n]``."""
    t = np.clip((np.arange(n) - at) / (seconds * SIM_FPS), 0, 1)
    return t * t * (3 - 2 * t)


def _crash_distance(d: np.ndarray, onset: int, impact: int, d_on: float, contact: float,
                    bounce: float) -> np.ndarray:
    """Distance to the struck vehicle, m, ``[n]``: warning blend to ``d_on``, linear closing, push after impact."""
    n = len(d)
    steps = np.arange(n)
    warning = _ramp(n, onset - 2 * SIM_FPS, 2.0)
    out = d * (d_on / d[onset]) ** warning
    closing = steps >= onset
    frac = np.clip((steps - onset) / max(1, impact - onset), 0, 1)
    out = np.where(closing, d_on + (contact - d_on) * frac, out)
    after = steps > impact
    return np.where(after, contact + bounce * (1 - np.exp(-(steps - impact) / (0.3 * SIM_FPS))), out)


def _stop_ego(scene: Scene, speed: np.ndarray, at: int, tau: float) -> None:
    """Ego speed ``speed`` (m/s, ``[n]``) before step ``at``, then an exponential stop (``tau`` s)."""
    steps = np.arange(scene.n)
    decay = np.exp(-np.maximum(steps - at, 0) / (tau * SIM_FPS))
    _set_ego_speed(scene, np.where(steps < at, speed, speed[at] * decay * (decay > 0.02)))


def _cut_in_vehicle(scene: Scene, rng: np.random.Generator, onset: int) -> int:
    """An adjacent vehicle that swerves into the ego lane in front of the ego vehicle before ``onset``."""
    n = scene.n
    side = rng.choice([-1.0, 1.0])
    x = side * LANE + (rng.uniform(-0.4, 0.4) - side * LANE) * _ramp(n, onset - int(0.8 * SIM_FPS), 1.2)
    d = np.full(n, 1.0) * rng.uniform(8, 16) + 3 * _smooth(rng, n, (4, 10))
    scene.vehicles.append(_new_vehicle(rng, x, d, len(scene.vehicles)))
    return len(scene.vehicles) - 1


def _other_crash(scene: Scene, rng: np.random.Generator, accident_id: int, name: str, onset: int) -> CrashEvent:
    """Two other vehicles collide ahead (an adjacent car swerves into the lead, both skid); the ego brakes hard."""
    n, steps = scene.n, np.arange(scene.n)
    lead = scene.vehicles[scene.lead]
    d_col = rng.uniform(5, 8)
    impact = min(onset + round(rng.uniform(0.3, 0.6) * SIM_FPS), n - 4)
    lead.d = lead.d * (d_col / lead.d[onset]) ** _ramp(n, onset - 2 * SIM_FPS, 2.0)
    cap = min(scene.cruise, 2 * (d_col - 2.5))  # so that the ego stops short of the wreck
    speed = np.where(steps >= onset - SIM_FPS, cap, np.minimum(_follow_speed(scene, lead.d), cap))
    side = rng.choice([-1.0, 1.0])
    x = side * LANE + (lead.x[impact] + side * 1.8 - side * LANE) * _ramp(n, onset, (impact - onset) / SIM_FPS)
    other = _new_vehicle(rng, x, lead.d + rng.uniform(-0.8, 0.8), len(scene.vehicles))
    scene.vehicles.append(other)
    skid = -side * rng.uniform(1.5, 3.0) * _ramp(n, impact, 0.5)
    lead.x, other.x = lead.x + skid, other.x + 0.7 * skid
    _stop_ego(scene, speed, min(impact + int(0.2 * SIM_FPS), n - 1), tau=0.3)
    travelled = scene.s - scene.s[impact]
    lead.d = np.where(steps > impact, d_col - travelled, lead.d)
    other.d = np.where(steps > impact, lead.d + other.d[impact] - d_col, other.d)
    for car in (lead, other):
        car.brake = car.brake | (steps >= impact)
    _jolt(rng, scene, impact + int(0.2 * SIM_FPS), rng.uniform(0.02, 0.04))
    end = min(n, impact + round(rng.uniform(0.8, 1.6) * SIM_FPS))
    involved = (scene.lead, len(scene.vehicles) - 1)
    return CrashEvent(accident_id, name, False, onset, impact, max(end, impact + 1), involved)


# ============================================================================ the renderer

def _project(scene: Scene, i: int) -> tuple[float, float, float]:
    """Camera of step ``i``: focal length, principal column, horizon row (pixels)."""
    w, h = scene.width, scene.height
    return FOCAL * w, w / 2 + scene.yaw[i] * w, HORIZON * h + scene.pitch[i] * h


def render_frame(scene: Scene, i: int) -> np.ndarray:
    """Render simulation step ``i`` as uint8 RGB ``[H, W, 3]``.

    Drawing happens on ``[H, W, 4]`` float images whose last channel flags lamps (1), which night
    does not darken; objects are painted far to near.
    """
    f, cx, horizon = _project(scene, i)
    img = _sky(scene, cx, horizon)
    _ground(scene, img, i, f, cx, horizon)
    for z, draw in sorted(_drawables(scene, i, f, cx, horizon), key=lambda item: -item[0]):
        draw(img)
    rgb = _night(img, horizon) if scene.style.night else img[..., :3]
    return _camera(scene, rgb, i)


def _sky(scene: Scene, cx: float, horizon: float) -> np.ndarray:
    h, w, st = scene.height, scene.width, scene.style
    rows = np.clip((np.arange(h) + 0.5) / max(horizon, 1), 0, 1)[:, None]
    img = np.zeros((h, w, 4), np.float32)
    img[..., :3] = (st.sky_top * (1 - rows) + st.sky_horizon * rows)[:, None, :]
    shift = int(round(cx - w / 2)) % w
    height = st.skyline[shift: shift + w] * h
    rows_2d = np.arange(h)[:, None] + 0.5
    mask = (rows_2d > horizon - height[None, :]) & (rows_2d <= horizon + 1)
    img[mask, :3] = st.skyline_colour
    return img


def _ground(scene: Scene, img: np.ndarray, i: int, f: float, cx: float, horizon: float) -> None:
    """Road, verge and lane markings below the horizon, with distance haze."""
    st, h, w = scene.style, scene.height, scene.width
    first = max(int(np.floor(horizon)) + 1, 0)
    if first >= h:
        return
    v = np.arange(first, h, dtype=np.float32) + 0.5
    z = np.minimum(f * CAM_HEIGHT / np.maximum(v - horizon, 1e-3), 300.0)[:, None]  # [R, 1] m
    x = (np.arange(w, dtype=np.float32)[None, :] + 0.5 - cx) * z / f - scene.curve[i] * z * z  # [R, W] m
    road = np.abs(x) < 1.5 * LANE + 0.6
    shade = 1 + 0.05 * np.sin(2 * np.pi * (z + scene.s[i]) / 7.0)  # [R, 1]
    colour = np.where(road[..., None], (st.road * shade[..., None]).astype(np.float32), st.ground.astype(np.float32))
    lane = np.clip(np.round(x / LANE - 0.5), -2, 1)  # nearest line at (lane + 0.5) * LANE
    near_line = np.abs(x - (lane + 0.5) * LANE) < np.maximum(0.08, 0.6 * z / f)
    outer = np.abs(lane + 0.5) > 1
    painted = near_line & (outer | (((z + scene.s[i]) % 9.0) < 3.2))
    colour[painted & (lane != -1)] = st.marking
    colour[painted & (lane == -1)] = st.centre_marking
    haze = np.exp(-z / 90.0)[..., None]
    img[first:, :, :3] = colour * haze + st.sky_horizon * (1 - haze)


def _drawables(scene: Scene, i: int, f: float, cx: float, horizon: float) -> list[tuple[float, Callable]]:
    """(distance, draw function) for every roadside object and vehicle in view."""
    out = []
    for x, z0, width, height, colour in scene.style.roadside:
        z = (z0 - scene.s[i]) % ROADSIDE_PERIOD
        if z > 1.0:
            box = _box(scene, i, f, cx, horizon, x, z, width, height)
            out.append((z, _rect_drawer(box, _haze(colour, z, scene.style.sky_horizon))))
    for car in scene.vehicles:
        z = car.d[i]
        if 1.0 < z < 150:
            box = _box(scene, i, f, cx, horizon, car.x[i], z, car.width, car.height)
            if box[2] > 0 and box[0] < scene.width:
                out.append((z, _vehicle_drawer(scene, car, i, box, z)))
    return out


def _box(scene: Scene, i: int, f: float, cx: float, horizon: float, x: float, z: float,
         width: float, height: float) -> tuple[float, float, float, float]:
    """Screen box (x0, y0, x1, y1) in pixels of an upright face standing on the road at distance z."""
    f, cx, horizon, x, z = float(f), float(cx), float(horizon), float(x), float(z)
    centre = cx + f * (x + float(scene.curve[i]) * z * z) / z
    bottom = horizon + f * CAM_HEIGHT / z
    half = f * width / z / 2
    return centre - half, bottom - f * height / z, centre + half, bottom


def _haze(colour: np.ndarray, z: float, horizon_colour: np.ndarray) -> np.ndarray:
    a = np.exp(-z / 90.0)
    return colour * a + horizon_colour * (1 - a)


def _rect_drawer(box: tuple[float, float, float, float], colour: np.ndarray) -> Callable:
    def draw(img: np.ndarray) -> None:
        _fill(img, *box, colour)
    return draw


def _vehicle_drawer(scene: Scene, car: Vehicle, i: int, box: tuple[float, float, float, float], z: float) -> Callable:
    """Draw a car's rear (or front) as shaded boxes with two lamps (tail/brake or head lights)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body = _haze(car.colour, z, scene.style.sky_horizon)
    glass = _haze(np.array([35, 40, 50.0]), z, scene.style.sky_horizon)
    dark = _haze(np.array([20, 20, 22.0]), z, scene.style.sky_horizon)
    if car.oncoming:
        lamp = np.array([255, 250, 215.0]) if scene.style.night else np.array([235, 235, 220.0])
    else:
        lamp = np.array([255, 40, 30.0]) if car.brake[i] else np.array([130, 25, 25.0])
    ly0, ly1 = y0 + 0.5 * h, y0 + 0.62 * h

    def draw(img: np.ndarray) -> None:
        _fill(img, x0 - 0.05 * w, y1 - 0.06 * h, x1 + 0.05 * w, y1 + 0.05 * h, dark * 0.6)  # shadow
        _fill(img, x0, y0 + 0.42 * h, x1, y1 - 0.02 * h, body)  # lower body
        _fill(img, x0 + 0.1 * w, y0, x1 - 0.1 * w, y0 + 0.45 * h, body * 0.9)  # cabin
        _fill(img, x0 + 0.16 * w, y0 + 0.07 * h, x1 - 0.16 * w, y0 + 0.4 * h, glass)  # window
        _fill(img, x0, y1 - 0.2 * h, x1, y1 - 0.04 * h, dark)  # bumper
        _fill(img, x0 + 0.4 * w, y0 + 0.66 * h, x1 - 0.4 * w, y0 + 0.76 * h, body * 0.5 + 110)  # plate
        _fill(img, x0 + 0.05 * w, ly0, x0 + 0.2 * w, ly1, lamp, lamp=True)
        _fill(img, x1 - 0.2 * w, ly0, x1 - 0.05 * w, ly1, lamp, lamp=True)
    return draw


def _fill(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour: np.ndarray,
          lamp: bool = False) -> None:
    """Paint ``colour`` (and the lamp flag) into the pixel rectangle [x0, x1) x [y0, y1) of ``[H, W, 4]``."""
    h, w = img.shape[:2]
    c0, c1 = min(max(int(x0 + 0.5), 0), w), min(max(int(x1 + 0.5), 0), w)
    r0, r1 = min(max(int(y0 + 0.5), 0), h), min(max(int(y1 + 0.5), 0), h)
    if c1 > c0 and r1 > r0:
        img[r0:r1, c0:c1, :3] = colour
        img[r0:r1, c0:c1, 3] = lamp


def _night(img: np.ndarray, horizon: float) -> np.ndarray:
    """``[H, W, 4]`` -> RGB ``[H, W, 3]``: darken all but lamps; the ego headlights light the road ahead."""
    h = img.shape[0]
    rows = np.clip((np.arange(h) + 0.5 - horizon) / max(h - horizon, 1), 0, 1)[:, None, None]
    return img[..., :3] * np.maximum(0.12 + 0.5 * rows ** 1.5, img[..., 3:])


def _camera(scene: Scene, img: np.ndarray, i: int) -> np.ndarray:
    """Exposure, slight optical blur and sensor noise; uint8 ``[H, W, 3]``."""
    img = img * scene.style.gain
    img[1:-1] = (img[:-2] + 2 * img[1:-1] + img[2:]) / 4
    img[:, 1:-1] = (img[:, :-2] + 2 * img[:, 1:-1] + img[:, 2:]) / 4
    noise = scene.noise[i % len(scene.noise)]
    img = img + (3.0 + 0.02 * img) * np.roll(noise, (i * 7) % scene.height, axis=0)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# ============================================================================ annotations

def _annotation(clip: str, rng: np.random.Generator, scene: Scene, event: CrashEvent,
                num_frames: int, step: int) -> dict:
    """The DoTA per-clip annotation dict (key order as in the real files)."""
    start = min(num_frames - 1, -(-event.onset // step))
    end = min(num_frames, max(start + 1, -(-event.end // step)))
    source, video_start = clip.rsplit("_", 1)
    labels = [_frame_label(clip, frame, scene, event, frame * step, start <= frame < end)
              for frame in range(num_frames)]
    return {
        "video_name": clip, "channel": str(rng.choice(["AnAn", "CarCrashesTime"])), "num_frames": num_frames,
        "ignore": False, "ego_involve": event.ego, "night": scene.style.night, "anomaly_start": start,
        "anomaly_end": end, "video_start": int(video_start), "video_end": int(video_start) + num_frames - 1,
        "accident_id": str(event.accident_id), "accident_name": event.name, "labels": labels,
    }


def _frame_label(clip: str, frame: int, scene: Scene, event: CrashEvent, i: int, anomalous: bool) -> dict:
    objects = []
    if anomalous:
        f, cx, horizon = _project(scene, i)
        for index in event.involved:
            car = scene.vehicles[index]
            if car.d[i] > 1.0:
                objects.extend(_bbox_object(scene, car, i, f, cx, horizon))
    return {"frame_id": frame, "image_path": f"frames/{clip}/images/{frame:06d}.jpg",
            "accident_id": event.accident_id if anomalous else 0,
            "accident_name": event.name if anomalous else "normal", "objects": objects}


def _bbox_object(scene: Scene, car: Vehicle, i: int, f: float, cx: float, horizon: float) -> list[dict]:
    x0, y0, x1, y1 = _box(scene, i, f, cx, horizon, car.x[i], car.d[i], car.width, car.height)
    clipped = [min(max(x0, 0), scene.width), min(max(y0, 0), scene.height),
               min(max(x1, 0), scene.width), min(max(y1, 0), scene.height)]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        return []
    return [{"obj_track_id": car.track_id, "bbox": [round(float(c), 2) for c in clipped], "category": "car",
             "category ID": 3, "trunc": bool(clipped != [x0, y0, x1, y1])}]


def _metadata_entry(annotation: dict, subset: str) -> dict:
    who = "ego" if annotation["ego_involve"] else "other"
    return {"video_start": annotation["video_start"], "video_end": annotation["video_end"],
            "anomaly_start": annotation["anomaly_start"], "anomaly_end": annotation["anomaly_end"],
            "anomaly_class": f"{who}: {annotation['accident_name']}", "num_frames": annotation["num_frames"],
            "subset": subset}


# ============================================================================ codecs

def camera_jpeg(frame: np.ndarray, quality: int, subsampling: int = 2) -> bytes:
    """uint8 ``[H, W, 3]`` -> JPEG bytes (PIL ``subsampling``: 2 = 4:2:0 as cameras, 0 = 4:4:4)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> uint8 RGB ``[H, W, 3]``."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def h264_roundtrip(frames: list[np.ndarray], fps: int, qp: int) -> list[np.ndarray]:
    """Frames through the same H.264 encoder as the BDD videos (in memory), uint8 ``[H, W, 3]`` each.

    DoTA frames take this stage after the shared camera JPEG stage, exactly like BDD frames, and are
    then stored as near-transparent JPEGs (``STORE_QUALITY``).
    """
    import av

    buffer = io.BytesIO()
    encode_mp4(buffer, frames, (frames[0].shape[1], frames[0].shape[0]), fps, qp)
    buffer.seek(0)
    with av.open(buffer, "r", format="mp4") as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def encode_mp4(path: Path | io.BytesIO, frames: Iterable[np.ndarray], size: tuple[int, int], fps: int, qp: int) -> None:
    """Encode uint8 RGB frames ``[H, W, 3]`` of ``size`` (W, H) as deterministic H.264 (one thread, yuv420p).

    Every frame is a keyframe: coding quality then does not depend on the frame rate (10 fps DoTA
    frames pass the same encoder) and seeking is exact and cheap.
    """
    import av

    with av.open(path if isinstance(path, io.BytesIO) else str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"qp": str(qp), "preset": "ultrafast", "g": "1"}
        stream.codec_context.thread_count = 1
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# ============================================================================ the source

class SyntheticSource(RecordSource):
    """The built-in data set as a record source: generated on first use (:func:`ensure_synthetic`, cached
    per seed and sizes), then read like the real releases (a DoTA official-layout tree, labelled ``dota``,
    and a BDD100K videos tree, labelled ``bdd``). ``conf/data/source/synthetic.yaml``.

    Args:
        root: parent folder of the generated data sets.
        seed: the data's own seed (the same seed gives byte-identical files).
        filters: which crash clips to keep (:class:`~riskvision.data.sources.dota.DotaFilter`).
        **sizes: fields of :class:`SyntheticSizes` (``num_crash=100, width=160, ...``).
    """

    synthetic = True

    def __init__(self, root: str | Path, seed: int = 0, filters: DotaFilter | None = None, **sizes: object) -> None:
        self.root, self.seed, self.sizes = Path(root), int(seed), sizes
        self.filters = filters or DotaFilter()
        self.paths: SyntheticPaths | None = None
        SyntheticSizes.from_kwargs(**sizes)  # unknown or impossible sizes fail here, before any data is read

    def __repr__(self) -> str:
        return f"SyntheticSource(root={str(self.root)!r}, seed={self.seed}, sizes={self.sizes})"

    def prepare(self) -> None:
        if self.paths is None:
            self.paths = ensure_synthetic(self.root, self.seed, **self.sizes)

    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        self.prepare()
        return (DotaSource(self.paths.dota_root).build(issues) + BddSource(self.paths.bdd_root).build(issues))

    def keep(self, record: VideoRecord) -> bool:
        return self.filters.keep(record)
