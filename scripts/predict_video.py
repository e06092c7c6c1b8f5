"""Run a trained checkpoint on your own dashcam videos: per-frame scores, a timeline and an optional overlay.

    python scripts/predict_video.py ckpt_path=RUN/checkpoints/last.ckpt videos=[a.mp4,b.mov] hydra.run.dir=OUT
    python scripts/predict_video.py ckpt_path=... videos=/path/to/folder overlay=true step=2 device=cuda batch_size=32

Works with either model: the binary ``bilstm`` (P(crash)) and the 3-class ``resnet3d101``
(P(Normal), P(Warning), P(Danger)). Everything about the inputs comes from the run config stored in the
checkpoint (``riskvision_cfg``, see ``riskvision.utils.checkpointing``): the clip length
``model.inputs.num_frames``, the frame size ``data.frame_size``, the normalisation preset
``data.normalization``, the target frame rate ``data.target_fps``, the task and the class names; a
binary checkpoint also holds its decision threshold tuned on validation (the ``threshold`` buffer).

Videos may have any frame rate and resolution (anything PyAV/FFmpeg decodes: mp4, mov, avi, mkv, ...).
Each video is resampled to the target rate with the project's rule (``riskvision.data.timebase``: target
frame ``i`` is native frame ``round(i * native_fps / target_fps)``), decoded ONCE into memory at the
model's frame size as uint8 (``VideoFileReader``: the same antialiased resize as training; about
``frames x 3 x H x W`` bytes, 150 kB a frame at 224x224, so ~90 MB per minute at 10 fps), then scored.

Scoring is ``scripts/eval.py``'s ``sliding`` mode exactly: for every ``step``-th target-rate frame ``t``
(``0, step, 2*step, ...``), the window of ``num_frames`` CONSECUTIVE target-rate frames ending at ``t``
(``riskvision.data.sampling.WindowSampler``, the sampler ``RiskDataModule.scoring_dataloader`` uses);
a window that would start before frame 0 repeats frame 0 (column ``padded_frames`` counts the repeats),
so the first frames get a score too. NOTE for the bilstm: its training sampler is ``uniform``
(``num_frames`` frames spread over the WHOLE clip, e.g. 64 frames over a 5-10 s DoTA clip), while here,
as in eval.py's sliding mode, it sees ``num_frames`` consecutive frames at the target rate
(64 frames = 6.4 s at 10 fps). Its per-frame scores therefore answer "is a crash happening in the last
num_frames/target_fps seconds" under a different temporal spacing than it was trained on; compare them
with eval.py's sliding predictions, not with its clip-level test metrics.

Per-frame features: a net with ``forward_features`` / ``forward_sequence`` (the ResNet-BiLSTM: a
per-frame ResNet, then an LSTM over the window) runs its backbone once per frame and the LSTM once per
window (``cache_features=true``, the default): the same numbers as the full forward on every window
(the backbone is per-frame and in eval mode), ``num_frames`` times less backbone work.
``cache_features=false`` runs the full forward per window, as eval.py does.

Outputs in the Hydra run folder (``hydra.run.dir=OUT``), each written to a temporary name and moved into
place (``os.replace``), so an interrupted run never leaves a complete-looking partial file:

* ``OUT/<video stem>.csv``: ``video, frame, time_s, padded_frames``, the probability columns as the
  predictions table names them (``riskvision.evaluation.table.prob_columns``: ``prob_crash`` for binary,
  ``prob_normal, prob_warning, prob_danger`` for 3 classes), ``p_crash`` (the common view: binary P(crash),
  3-class 1 - P(Normal)) and ``alarm`` (binary: ``prob_crash >= `` the tuned threshold; 3-class: the
  argmax class name). ``frame`` is the target-rate index and ``time_s = frame / target_fps``.
* ``OUT/<video stem>_timeline.png``: probabilities over time (and the threshold for binary).
* ``OUT/<video stem>_overlay.mp4`` (``overlay=true``): the video at the target rate, resized to a short
  side of ``overlay_short_side`` (360) pixels, with a coloured bar and label on every frame (green Normal,
  orange Warning, red Danger; binary: red when the alarm is on, green otherwise). Frames between scored
  frames (``step > 1``) show the last score. H.264 (libx264, yuv420p) through PyAV, every frame a
  keyframe (``riskvision.video_io.encode_mp4``).

Two videos with one stem (``a.mp4``, ``a.mov``) are written as ``a_mp4.*`` and ``a_mov.*``.
A bad video (missing, undecodable, no frames) is reported, the others are still processed, and the run
exits non-zero at the end with the list. Rotation metadata of phone videos is not applied (frames are
used as stored, like the training readers do).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig, ListConfig, OmegaConf  # noqa: E402

from riskvision.data.readers import FrameReadError, VideoFileReader, probe_video  # noqa: E402
from riskvision.data.records import VideoRecord  # noqa: E402
from riskvision.data.sampling import WindowSampler  # noqa: E402
from riskvision.data.timebase import TargetVideo, to_target  # noqa: E402
from riskvision.data.transforms import Normalize  # noqa: E402
from riskvision.evaluation.predict import column_values  # noqa: E402
from riskvision.files import atomic_write  # noqa: E402
from riskvision.models import FrameFeatureNet  # noqa: E402
from riskvision.tasks import Task  # noqa: E402
from riskvision.utils import CONFIG_KEY, load_checkpoint  # noqa: E402

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")
CLASS_COLOURS = {"normal": (46, 160, 67), "warning": (245, 140, 0), "danger": (215, 25, 32),
                 "ok": (46, 160, 67), "alarm": (215, 25, 32), "crash": (215, 25, 32)}  # binary: ok / alarm, P(crash)
OVERLAY_QP = 26  # H.264 quantiser of the overlay video (every frame a keyframe)


class VideoInputError(Exception):
    """One input video cannot be used (missing, undecodable, no frames); the others still run."""


# ----------------------------------------------------------------------------------------- model


@dataclass
class Predictor:
    """A loaded checkpoint and everything its stored config says about its inputs."""

    module: torch.nn.Module
    ckpt_path: str
    task: Task
    threshold: float
    num_frames: int
    frame_size: tuple[int, int]
    normalization: str
    target_fps: float
    device: torch.device
    batch_size: int = 8
    cache_features: bool = True

    @property
    def columns(self) -> list[str]:
        """The probability columns of the predictions table (``prob_crash`` or ``prob_<class>``)."""
        return self.task.prob_columns

    def describe(self) -> str:
        size = f"{self.frame_size[0]}x{self.frame_size[1]}"
        what = self.task.describe(self.threshold)
        return (f"{Path(self.ckpt_path).name}: {what}; windows of {self.num_frames} frames of {size} at "
                f"{self.target_fps:g} fps, normalisation {self.normalization!r}, device {self.device}")


def _stored(run: DictConfig, key: str, ckpt_path: str) -> Any:
    value = OmegaConf.select(run, key, default=None)
    if value is None:
        raise KeyError(f"{ckpt_path}: the stored run config has no {key!r}; it was not written by this version of "
                       "riskvision's train.py. Fix: retrain, or evaluate it with the code version that wrote it")
    return value


def _device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a torch device ({error}). Fix: device=cpu or device=cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available on this machine. Fix: device=cpu")
    return dev


def load_predictor(ckpt_path: str | Path, device: str = "cpu", batch_size: int = 8,
                   cache_features: bool = True) -> Predictor:
    """Rebuild the module from the checkpoint's stored config (as ``scripts/eval.py`` does) and load its weights."""
    ckpt_path = str(ckpt_path)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1 (windows per forward pass)")
    dev = _device(str(device))
    checkpoint = load_checkpoint(ckpt_path)  # FileNotFoundError / ValueError / KeyError naming the file
    if "state_dict" not in checkpoint:
        raise KeyError(f"{ckpt_path} has a run config but no 'state_dict' (no weights). Fix: pass a .ckpt written "
                       "by train.py's checkpoint callback")
    run = OmegaConf.create(checkpoint[CONFIG_KEY])
    module = hydra.utils.instantiate(_stored(run, "model", ckpt_path))
    module.load_state_dict(checkpoint["state_dict"])
    module.eval().to(dev)
    size = _stored(run, "data.frame_size", ckpt_path)
    frame_size = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
    model_size = OmegaConf.select(run, "model.inputs.frame_size")
    if model_size is not None and model_size != size:
        log.warning(f"{ckpt_path}: data.frame_size={size} differs from model.inputs.frame_size={model_size}; using "
                    "data.frame_size, what the model was fed in training and in eval.py")
    target_fps = float(_stored(run, "data.target_fps", ckpt_path))
    if target_fps <= 0:
        raise ValueError(f"{ckpt_path}: stored data.target_fps={target_fps} must be > 0")
    return Predictor(
        module=module, ckpt_path=ckpt_path, task=module.task, threshold=float(module.threshold),
        num_frames=int(_stored(run, "model.inputs.num_frames", ckpt_path)), frame_size=frame_size,
        normalization=str(_stored(run, "data.normalization", ckpt_path)), target_fps=target_fps, device=dev,
        batch_size=int(batch_size),
        cache_features=bool(cache_features) and isinstance(module.net, FrameFeatureNet),
    )  # fmt: skip


# ----------------------------------------------------------------------------------------- inputs


def find_videos(videos: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand ``videos`` (files and/or folders; a folder gives every video file in it, sorted) into
    ``(paths, problems)``; a missing path or a folder without videos is a problem ``(entry, message)``."""
    entries = [videos] if isinstance(videos, (str, Path)) else list(videos)
    if not entries:
        raise ValueError("videos=[] is empty. Fix: videos=[a.mp4,b.mov] or videos=/path/to/folder")
    paths: list[Path] = []
    problems: list[tuple[str, str]] = []
    for entry in entries:
        path = Path(str(entry)).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                problems.append((str(path), f"folder {path} holds no video files ({', '.join(VIDEO_SUFFIXES)}). "
                                            "Fix: point videos= at the files or at the folder that holds them"))
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            problems.append((str(path), f"video file {path} does not exist (videos entry {str(entry)!r}, working "
                                        f"directory {Path.cwd()}). Fix: pass an existing file or folder; relative "
                                        "paths are relative to the directory you run the command from"))
    return paths, problems


def output_names(paths: Sequence[Path]) -> list[str]:
    """The output stem of each video: its file stem, or ``<stem>_<suffix>`` when stems collide."""
    stems = [p.stem for p in paths]
    names = [f"{p.stem}_{p.suffix.lstrip('.').lower()}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    for i, name in enumerate(names):  # same stem and suffix in two folders: number them
        if names.count(name) > 1:
            names[i] = f"{name}_{names[:i].count(name) + 1}"
    return names


@dataclass
class DecodedVideo:
    """A video at the target rate: its record, its time base and its frames at the model's size."""

    path: Path
    record: VideoRecord
    target: TargetVideo
    native_size: tuple[int, int]  # (H, W)
    frames: torch.Tensor  # uint8 [N, 3, H, W]
    substituted: int = 0

    @property
    def seconds(self) -> float:
        return self.record.num_frames / self.record.native_fps


def _read(reader: VideoFileReader, record: VideoRecord, native: Sequence[int]) -> tuple[torch.Tensor, int]:
    """``reader.read`` with its per-frame substitution warnings counted instead of printed one by one."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = reader.read(record, native)
    return result.frames, len(result.substituted)


def _reason(error: Exception) -> str:
    """A reader error without its dataset-oriented "Fix: ... drop it from the index" advice."""
    return str(error).split(" Fix:")[0].rstrip(". ")


def _fix(path: Path) -> str:
    return (f"Fix: check that it is a video (`ffprobe \"{path}\"`), re-encode it (`ffmpeg -i \"{path}\" -c:v libx264 "
            "-pix_fmt yuv420p fixed.mp4`), or leave it out of videos=")


def open_video(path: Path, target_fps: float) -> tuple[VideoRecord, TargetVideo]:
    """Probe ``path`` and map it to the target rate; :class:`VideoInputError` naming the file when it cannot be used."""
    try:
        native_fps, num_frames = probe_video(path)
    except FrameReadError as error:
        raise VideoInputError(f"video {path} cannot be used: {_reason(error)}. {_fix(path)}") from error
    record = VideoRecord(video_id=path.stem, source="user", path=path, kind="video", native_fps=native_fps,
                         num_frames=num_frames)
    target = to_target(record, target_fps)
    if target.num_frames < 1:
        raise VideoInputError(f"video {path} has {num_frames} frames at {native_fps:g} fps: shorter than 1 frame at "
                              f"{target_fps:g} fps. Fix: use a longer video")
    return record, target


def decode_video(path: Path, size: tuple[int, int], target_fps: float) -> DecodedVideo:
    """Decode every target-rate frame of ``path`` once, resized to ``size`` (H, W), uint8 ``[N, 3, H, W]``."""
    record, target = open_video(path, target_fps)
    native = target.native_indices(list(range(target.num_frames)))
    try:
        first, _ = _read(VideoFileReader(None), record, native[:1])  # native size, for the overlay
        frames, substituted = _read(VideoFileReader(size), record, native)
    except FrameReadError as error:
        raise VideoInputError(f"video {path} cannot be decoded: {_reason(error)}. {_fix(path)}") from error
    return DecodedVideo(path, record, target, (int(first.shape[-2]), int(first.shape[-1])), frames, substituted)


# ----------------------------------------------------------------------------------------- scoring


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@torch.no_grad()
def score_windows(predictor: Predictor, frames: torch.Tensor, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Score the window ending at every ``step``-th frame of ``frames`` (uint8 ``[N, 3, H, W]``).

    Returns ``(ends, probs)``: target-rate end frames ``[W]`` and probabilities (``[W]`` P(crash) for
    binary, ``[W, K]`` for multiclass), as ``riskvision.evaluation.predict.probabilities`` gives them.
    """
    if int(step) < 1:
        raise ValueError(f"step={step} must be >= 1 (score every step-th target-rate frame)")
    sampler = WindowSampler(predictor.num_frames, eval_step=int(step))
    n = len(frames)
    ends = list(sampler.eval_anchors(n))
    windows = torch.tensor([sampler.frames(n, end) for end in ends], dtype=torch.long)  # [W, T]
    normalize = Normalize(predictor.normalization)
    module, device = predictor.module.eval(), predictor.device
    out = []
    if predictor.cache_features:
        net = module.net
        chunk = predictor.batch_size * predictor.num_frames  # as many frames as one batch of windows
        needed = torch.unique(windows)  # the frames some window uses (all of them unless step > num_frames)
        position = torch.zeros(n, dtype=torch.long)
        position[needed] = torch.arange(len(needed))
        features = torch.cat([net.forward_features(normalize(frames[needed[a:a + chunk]]).to(device)[None])[0]
                              for a in range(0, len(needed), chunk)])  # [F, D]: the backbone once per frame
        for batch in _batches(windows, predictor.batch_size):
            out.append(column_values(net.forward_sequence(features[position[batch].to(device)]), predictor.task))
    else:
        for batch in _batches(windows, predictor.batch_size):
            out.append(column_values(module(normalize(frames[batch]).to(device)), predictor.task))
    return np.asarray(ends, dtype=np.int64), np.concatenate(out)


def scores_table(name: str, ends: np.ndarray, probs: np.ndarray, predictor: Predictor) -> pd.DataFrame:
    """The per-frame CSV: ``video, frame, time_s, padded_frames, prob_*, p_crash, alarm``."""
    table = pd.DataFrame({
        "video": name, "frame": ends, "time_s": ends / predictor.target_fps,
        "padded_frames": np.maximum(0, predictor.num_frames - 1 - ends),
    })  # fmt: skip
    columns = predictor.columns
    table[columns] = np.asarray(probs, dtype=float).reshape(len(table), len(columns))
    table["p_crash"] = predictor.task.crash_probability(probs)
    table["alarm"] = predictor.task.decisions(probs, predictor.threshold)
    return table


def alarm_mask(table: pd.DataFrame, predictor: Predictor) -> np.ndarray:
    """Rows whose decision is an alarm (the task's alarm rule)."""
    return predictor.task.alarms(table["alarm"].to_numpy())


def summary_line(name: str, table: pd.DataFrame, predictor: Predictor) -> str:
    """``name: max P(crash) 0.83 at 4.2 s; first alarm at 3.1 s (alarm: P(crash) >= 0.45)``; P(crash) is
    ``p_crash`` (multiclass: 1 - P(Normal)), a multiclass alarm is any frame whose argmax is not the first class."""
    best = int(table["p_crash"].to_numpy().argmax())
    text = f"{name}: max P(crash) {table['p_crash'].iloc[best]:.3f} at {table['time_s'].iloc[best]:.1f} s"
    alarms = np.flatnonzero(alarm_mask(table, predictor))
    first = "no alarm"
    if len(alarms):
        name = predictor.task.decision_name(table["alarm"].iloc[alarms[0]])
        first = f"first alarm at {table['time_s'].iloc[alarms[0]]:.1f} s" + (f": {name}" if name else "")
    return f"{text}; {first} (alarm: {predictor.task.alarm_rule(predictor.threshold)})"


# ----------------------------------------------------------------------------------------- outputs


def _colour(name: str, index: int) -> tuple[int, int, int]:
    fallback = [(46, 160, 67), (245, 140, 0), (215, 25, 32), (31, 119, 180), (148, 103, 189)]
    return CLASS_COLOURS.get(name.lower(), fallback[index % len(fallback)])


def write_timeline(path: Path, table: pd.DataFrame, predictor: Predictor, title: str) -> Path:
    """Probabilities over time (a task that tunes its threshold: with that threshold, alarm frames shaded)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = table["time_s"].to_numpy()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    try:
        for k, (name, column) in enumerate(zip(predictor.task.column_labels, predictor.columns)):
            ax.plot(times, table[column], color=np.array(_colour(name, k)) / 255, lw=1.5, label=f"P({name})")
        if predictor.task.tunes_threshold:
            ax.axhline(predictor.threshold, color="0.3", ls="--", lw=1,
                       label=f"tuned threshold {predictor.threshold:.2f}")
            ax.fill_between(times, 0, 1, where=alarm_mask(table, predictor), color="red", alpha=0.08, step="mid",
                            label="alarm")
        ax.set(xlabel="time (s)", ylabel="probability", ylim=(0, 1.02), xlim=(0, max(times[-1], 1e-3)), title=title)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, ncol=4)
        fig.tight_layout()
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)
    return path


def display_size(height: int, width: int, short_side: int = 360) -> tuple[int, int]:
    """``(H, W)`` with the shorter side ``short_side``, the aspect ratio kept and both sides even (H.264 4:2:0)."""
    scale = short_side / min(height, width)
    return (max(2, 2 * round(height * scale / 2)), max(2, 2 * round(width * scale / 2)))


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # FreeType build of Pillow >= 10.1
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def draw_label(frame: np.ndarray, text: str, colour: tuple[int, int, int], fraction: float, font) -> np.ndarray:
    """A coloured banner with ``text`` at the top of an RGB frame ``[H, W, 3]`` and a meter of ``fraction``
    of its width along the banner's bottom edge."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    height, width = frame.shape[:2]
    bar = max(14, min(height, width) // 9)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rectangle((0, 0, width, bar), fill=(*colour, 200))
    meter = max(2, bar // 6)
    draw.rectangle((0, bar - meter, width, bar), fill=(0, 0, 0, 160))
    filled = int(round(width * min(max(float(fraction), 0.0), 1.0)))
    draw.rectangle((0, bar - meter, filled, bar), fill=(255, 255, 255, 230))
    draw.text((max(4, bar // 4), (bar - meter) // 2), text, fill=(255, 255, 255), font=font, anchor="lm",
              stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(image)


def frame_labels(table: pd.DataFrame, predictor: Predictor, num_frames: int,
                 step: int) -> list[tuple[str, tuple[int, int, int], float]]:
    """``(text, colour, meter fraction)`` for every target-rate frame (the last scored frame's decision)."""
    values, decisions = table[predictor.columns].to_numpy(float), table["alarm"].to_numpy()
    task, labels = predictor.task, []
    for t in range(num_frames):
        row = min(t // step, len(table) - 1)
        text, level, fraction = task.caption(values[row], decisions[row], predictor.threshold)
        labels.append((f"{text}  {t / predictor.target_fps:5.1f} s", _colour(task.level_names[level], level), fraction))
    return labels


def write_overlay(path: Path, video: DecodedVideo, table: pd.DataFrame, predictor: Predictor, step: int,
                  short_side: int = 360, chunk: int = 64) -> Path:
    """The video at the target rate and display size with each frame's label drawn on it (H.264 MP4).

    Frames are decoded again at the display size in chunks (streamed: the display-size video is never
    held in memory) and encoded with ``riskvision.video_io.encode_mp4`` (libx264, yuv420p)."""
    from riskvision.video_io import encode_mp4

    height, width = display_size(*video.native_size, short_side)
    native = video.target.native_indices(list(range(video.target.num_frames)))
    labels = frame_labels(table, predictor, len(native), step)
    reader = VideoFileReader((height, width))
    font = _font(max(10, min(height, width) // 20))

    def frames() -> Iterator[np.ndarray]:
        for start in range(0, len(native), chunk):
            clip, _ = _read(reader, video.record, native[start:start + chunk])
            for offset, frame in enumerate(clip):
                text, colour, fraction = labels[start + offset]
                yield draw_label(frame.permute(1, 2, 0).contiguous().numpy(), text, colour, fraction, font)

    fps = Fraction(predictor.target_fps).limit_denominator(1001)
    return atomic_write(path, lambda tmp: encode_mp4(tmp, frames(), (width, height), fps, OVERLAY_QP))


# ----------------------------------------------------------------------------------------- driver


@dataclass
class VideoResult:
    """What one video produced."""

    path: Path
    name: str
    table: pd.DataFrame
    outputs: dict[str, Path]
    summary: str


@dataclass
class PredictReport:
    """All videos of a run: the results and the failures ``(video, message)``."""

    results: list[VideoResult] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def predict_one(predictor: Predictor, path: Path, name: str, out_dir: Path, step: int = 1, overlay: bool = False,
                short_side: int = 360) -> VideoResult:
    """Decode, score and write the outputs of one video."""
    begin = time.perf_counter()
    video = decode_video(path, predictor.frame_size, predictor.target_fps)
    decoded = time.perf_counter()
    ends, probs = score_windows(predictor, video.frames, step)
    scored = time.perf_counter()
    record, n = video.record, video.target.num_frames
    log.info(f"{path}: {record.num_frames} frames at {record.native_fps:.3g} fps ({video.seconds:.1f} s of video, "
             f"{video.native_size[1]}x{video.native_size[0]}) -> {n} frames at {predictor.target_fps:g} fps "
             f"({video.frames.numel() / 2**20:.1f} MiB in memory), decoded in {decoded - begin:.1f} s; "
             f"{len(ends)} windows scored in {scored - decoded:.1f} s ({n / max(scored - decoded, 1e-9):.1f} frames/s)")
    if video.substituted:
        log.warning(f"{path}: {video.substituted} of {n} frames could not be decoded and were replaced by the "
                    "nearest decoded frame (a damaged file, or a container that overstates its frame count)")
    table = scores_table(path.name, ends, probs, predictor)
    outputs = {"csv": atomic_write(out_dir / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False))}
    outputs["timeline"] = write_timeline(out_dir / f"{name}_timeline.png", table, predictor,
                                         f"{path.name} ({Path(predictor.ckpt_path).name}, step {step})")
    if overlay:
        start = time.perf_counter()
        outputs["overlay"] = write_overlay(out_dir / f"{name}_overlay.mp4", video, table, predictor, step, short_side)
        log.info(f"{path}: overlay written in {time.perf_counter() - start:.1f} s")
    return VideoResult(path, name, table, outputs, summary_line(path.name, table, predictor))


def predict_videos(ckpt_path: str | Path, videos: str | Path | Sequence[str | Path], out_dir: str | Path,
                   step: int = 1, batch_size: int = 8, device: str = "cpu", overlay: bool = False,
                   overlay_short_side: int = 360, cache_features: bool = True) -> PredictReport:
    """Score every video with the checkpoint; a bad video becomes a failure and the others still run.

    Raises (before any video) when the checkpoint or a setting is unusable.
    """
    if int(step) < 1:
        raise ValueError(f"step={step} must be >= 1 (score every step-th target-rate frame)")
    if int(overlay_short_side) < 2:
        raise ValueError(f"overlay_short_side={overlay_short_side} must be >= 2 pixels (default 360)")
    paths, problems = find_videos(videos)
    predictor = load_predictor(ckpt_path, device, batch_size, cache_features)
    log.info(f"Model {predictor.describe()}; {len(paths)} video(s) to score -> {out_dir}")
    out_dir = Path(out_dir)
    report = PredictReport(failures=list(problems))
    for video, message in problems:
        log.error(message)
    for path, name in zip(paths, output_names(paths)):
        try:
            result = predict_one(predictor, path, name, out_dir, int(step), bool(overlay), int(overlay_short_side))
        except VideoInputError as error:  # its message names the file
            log.error(str(error))
            report.failures.append((str(path), str(error)))
            continue
        except (FrameReadError, OSError, ValueError) as error:
            log.error(f"{path}: {error}")
            report.failures.append((str(path), str(error)))
            continue
        except Exception as error:  # one video must not stop the others; the traceback goes to the log
            log.exception(f"{path}: unexpected error")
            report.failures.append((str(path), f"unexpected {type(error).__name__}: {error}"))
            continue
        print(result.summary, flush=True)
        report.results.append(result)
    return report


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict_video.yaml")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: score the videos into the run folder; exit 1 listing the videos that failed."""
    from hydra.core.hydra_config import HydraConfig

    videos = list(cfg.videos) if isinstance(cfg.videos, ListConfig) else cfg.videos
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    report = predict_videos(cfg.ckpt_path, videos, out_dir, cfg.step, cfg.batch_size, cfg.device, cfg.overlay,
                            cfg.overlay_short_side, cfg.cache_features)
    log.info(f"{len(report.results)} video(s) written to {out_dir}, {len(report.failures)} failed")
    if report.failures:
        lines = "\n".join(f"  {video}: {message}" for video, message in report.failures)
        sys.exit(f"{len(report.failures)} of {len(report.failures) + len(report.results)} video(s) failed "
                 f"(the others are in {out_dir}):\n{lines}")


if __name__ == "__main__":
    main()
