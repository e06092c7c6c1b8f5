"""What a scored video leaves behind: the per-frame table, a one-line summary, a timeline figure and an
overlay video, each written to a temporary name and moved into place (``riskvision.files.atomic_write``).

* per-frame table (``<video>.csv``): ``video, frame, time_s, padded_frames``, the task's probability columns
  (``prob_crash``, or ``prob_normal, prob_warning, prob_danger``), ``p_crash`` (the common view) and ``alarm``
  (the task's decision: binary ``prob_crash >=`` the tuned threshold, 3-class the argmax class name).
  ``frame`` is the target-rate index, ``time_s = frame / target_fps``, ``padded_frames`` the repeats of frame
  0 a window that would start before the video holds.
* timeline (``<video>_timeline.png``): probabilities over time (and the tuned threshold, if the task has one);
  :func:`write_stream_timeline` draws the streaming engine's results (raw and smoothed P(crash), levels, alarms).
* overlay (``<video>_overlay.mp4``): the video at the target rate, resized to a short side of ``short_side``
  pixels, with a coloured bar and label on every frame (green Normal, orange Warning, red Danger; binary: red
  when the alarm is on). Frames between scored frames (``step > 1``) show the last score. H.264 (libx264,
  yuv420p) through PyAV, every frame a keyframe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from riskvision.data.readers import VideoFileReader
from riskvision.files import atomic_write
from riskvision.inference.inputs import DecodedVideo, read_quietly
from riskvision.inference.predictor import Predictor
from riskvision.inference.stream import StreamResult
from riskvision.video_io import encode_mp4

__all__ = ["alarm_mask", "display_size", "draw_label", "frame_labels", "scores_table", "summary_line", "write_overlay",
           "write_stream_timeline", "write_timeline"]

CLASS_COLOURS = {"normal": (46, 160, 67), "warning": (245, 140, 0), "danger": (215, 25, 32),
                 "ok": (46, 160, 67), "alarm": (215, 25, 32), "crash": (215, 25, 32),  # binary: ok / alarm, P(crash)
                 "low": (46, 160, 67), "medium": (245, 140, 0), "high": (215, 25, 32)}  # streaming risk bands
OVERLAY_QP = 26  # H.264 quantiser of the overlay video (every frame a keyframe)


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


@contextmanager
def _timeline_axes(path: Path, height: float, legend_fontsize: int) -> Iterator:
    """The axes of a 10-inch-wide timeline figure; on leaving: grid, legend, layout, and the PNG written to
    ``path`` (atomically, 110 dpi). The figure is closed whatever happens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, height))
    try:
        yield ax
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=legend_fontsize, ncol=4)
        fig.tight_layout()
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)


def write_timeline(path: Path, table: pd.DataFrame, predictor: Predictor, title: str) -> Path:
    """Probabilities over time (a task that tunes its threshold: with that threshold, alarm frames shaded)."""
    times = table["time_s"].to_numpy()
    with _timeline_axes(path, height=3.2, legend_fontsize=8) as ax:
        for k, (name, column) in enumerate(zip(predictor.task.column_labels, predictor.columns)):
            ax.plot(times, table[column], color=np.array(_colour(name, k)) / 255, lw=1.5, label=f"P({name})")
        if predictor.task.tunes_threshold:
            ax.axhline(predictor.threshold, color="0.3", ls="--", lw=1,
                       label=f"tuned threshold {predictor.threshold:.2f}")
            ax.fill_between(times, 0, 1, where=alarm_mask(table, predictor), color="red", alpha=0.08, step="mid",
                            label="alarm")
        ax.set(xlabel="time (s)", ylabel="probability", ylim=(0, 1.02), xlim=(0, max(times[-1], 1e-3)), title=title)
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
    height, width = display_size(*video.native_size, short_side)
    native = video.target.native_indices(list(range(video.target.num_frames)))
    labels = frame_labels(table, predictor, len(native), step)
    reader = VideoFileReader((height, width))
    font = _font(max(10, min(height, width) // 20))

    def frames() -> Iterator[np.ndarray]:
        for start in range(0, len(native), chunk):
            clip, _ = read_quietly(reader, video.record, native[start:start + chunk])
            for offset, frame in enumerate(clip):
                text, colour, fraction = labels[start + offset]
                yield draw_label(frame.permute(1, 2, 0).contiguous().numpy(), text, colour, fraction, font)

    fps = Fraction(predictor.target_fps).limit_denominator(1001)
    return atomic_write(path, lambda tmp: encode_mp4(tmp, frames(), (width, height), fps, OVERLAY_QP))


def write_stream_timeline(path: Path, results: Sequence[StreamResult], predictor: Predictor, title: str,
                          anomaly_s: tuple[float, float] | None = None) -> Path:
    """The streaming engine's results over time: raw and smoothed P(crash), the alarm's on/off threshold and the
    time the alarm was on (shaded), the risk level as a coloured strip, and the annotated anomaly span
    ``anomaly_s`` (``(start, end)`` seconds) when one is given."""
    if not results:
        raise ValueError(f"no results to draw for {title}: the source gave no frame")
    times = np.array([r.time_s for r in results])
    with _timeline_axes(path, height=3.4, legend_fontsize=7) as ax:
        if anomaly_s is not None:
            ax.axvspan(*anomaly_s, color="0.6", alpha=0.25, label="annotated anomaly")
        ax.plot(times, [r.p_crash for r in results], color="0.55", lw=1, label="P(crash)")
        ax.plot(times, [r.smoothed for r in results], color=np.array(CLASS_COLOURS["crash"]) / 255, lw=1.8,
                label="smoothed")
        ax.axhline(predictor.threshold, color="0.3", ls="--", lw=1, label=f"threshold {predictor.threshold:.2f}")
        ax.fill_between(times, 0, 1, where=[r.alarm for r in results], color="red", alpha=0.10, step="post",
                        label="alarm on")
        levels = sorted({r.level for r in results})
        for k, level in enumerate(levels):  # the level as a strip along the top
            ax.fill_between(times, 1.02, 1.06, where=[r.level == level for r in results], step="post",
                            color=np.array(_colour(level, k)) / 255, label=f"level {level}")
        ax.set(xlabel="time (s)", ylabel="probability", ylim=(0, 1.07), xlim=(0, max(times[-1], 1e-3)))
        ax.set_title(title, fontsize=8)
    return path
