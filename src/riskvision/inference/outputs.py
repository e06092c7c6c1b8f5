"""What a scored source leaves behind, written while its frames are scored (never held in memory).

* results (``<name>.csv`` or ``<name>.jsonl``, :class:`ResultWriter`): one row per streaming result,
  :data:`RESULT_COLUMNS` with the task's probability columns in the middle (``prob_crash``, or ``prob_normal,
  prob_warning, prob_danger``). ``frame`` is the target-rate index of the window's last frame, ``time_s =
  frame / target_fps``, ``padded_frames`` the repeats of frame 0 a window that would start before the video
  holds, ``p_crash`` the common P(crash) (``Task.crash_probability``), ``decision`` the task's own decision on
  the raw output (binary: ``prob_crash >=`` the tuned threshold; classes: the argmax class name), ``smoothed``,
  ``level`` and ``alarm`` the engine's post-processing (:mod:`.smoothing`: causal smoothing, risk level, the
  alarm with hysteresis), ``latency_ms`` the processing latency. Each row is flushed when it is made.
* timeline (``<name>_timeline.png``, :func:`write_stream_timeline`): raw and smoothed P(crash) (and the class
  probabilities of a class task), the alarm's on/off thresholds, the time the alarm was on, the risk level as a
  coloured strip and the annotated anomaly span when one is given; drawn from the results file at the end.
* overlay (``<name>_overlay.mp4``, :class:`OverlayWriter`): the source at the target rate, resized to a short
  side of ``short_side`` pixels, each frame with a banner in its risk level's colour (green Normal / low,
  orange Warning / medium, red Danger / high) showing the level, P(crash), the smoothed value and the time, and
  a red border while the alarm is on. A target frame shows the newest result at or before it (``step > 1``:
  the last scored frame's). H.264 (libx264, yuv420p), encoded frame by frame as results arrive.

Results and overlays grow under ``<name>.partial`` (``riskvision.files.partial_path``) and are renamed when
the source ends, so a killed run leaves complete rows (and a playable fragmented MP4) under a partial name.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskvision.data.readers import resize_frame
from riskvision.figure_style import ANOMALY_SPAN, GRID, THRESHOLD_LINE, THRESHOLD_OFF_LINE
from riskvision.files import atomic_write, commit_partial, partial_path
from riskvision.inference.predictor import Predictor
from riskvision.inference.smoothing import Alarm
from riskvision.inference.stream import StreamResult, TimestampResampler
from riskvision.video_io import Mp4Writer

__all__ = [
    "FORMATS",
    "OverlayWriter",
    "RESULT_COLUMNS",
    "ResultWriter",
    "Summary",
    "display_size",
    "draw_label",
    "level_spans",
    "read_results",
    "result_row",
    "results_table",
    "summary_table",
    "write_stream_timeline",
]

FORMATS = ("csv", "jsonl")
#: The columns of a results file; ``prob_*`` stands for the task's probability columns.
RESULT_COLUMNS = (
    "video",
    "frame",
    "time_s",
    "padded_frames",
    "prob_*",
    "p_crash",
    "decision",
    "smoothed",
    "level",
    "alarm",
    "latency_ms",
)
LEVEL_COLOURS = {
    "normal": (46, 160, 67),
    "warning": (245, 140, 0),
    "danger": (215, 25, 32),
    "low": (46, 160, 67),
    "medium": (245, 140, 0),
    "high": (215, 25, 32),
}
ALARM_COLOUR = (215, 25, 32)
WAITING_COLOUR = (110, 110, 110)  # the overlay before the first result
OVERLAY_QP = 26  # H.264 quantiser of the overlay video (every frame a keyframe)
# a fragmented MP4 is playable up to its last complete fragment: a killed run's overlay can still be watched
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


# ----------------------------------------------------------------------------------------- results


def result_row(video: str, result: StreamResult, predictor: Predictor) -> dict[str, Any]:
    """One row of a results file (:data:`RESULT_COLUMNS`)."""
    task = predictor.task
    values = np.array([[result.probs[column] for column in task.prob_columns]])  # [1, C]
    decision = task.decisions(values[:, 0] if values.shape[1] == 1 else values, predictor.threshold)[0]
    return {
        "video": video,
        "frame": result.frame,
        "time_s": round(result.time_s, 6),
        "padded_frames": max(0, predictor.num_frames - 1 - result.frame),
        **result.probs,
        "p_crash": result.p_crash,
        "decision": decision.item() if hasattr(decision, "item") else decision,
        "smoothed": result.smoothed,
        "level": result.level,
        "alarm": result.alarm,
        "latency_ms": round(result.latency_ms, 3),
    }


def results_table(video: str, results: Iterable[StreamResult], predictor: Predictor) -> pd.DataFrame:
    """Results as the table a results file holds (:func:`result_row` per result)."""
    return pd.DataFrame([result_row(video, result, predictor) for result in results])


class ResultWriter:
    """Rows written and flushed one at a time into ``<path>.partial``; :meth:`commit` renames it to ``path``.

    Args:
        path: the final file (``.csv`` or ``.jsonl``).
        fmt: ``csv`` or ``jsonl`` (one JSON object per line).
    """

    def __init__(self, path: Path, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format={fmt!r} is not one of {list(FORMATS)}")
        self.path, self.fmt, self.rows = Path(path), fmt, 0
        self._handle = open(partial_path(self.path), "w", newline="")
        self._csv: csv.DictWriter | None = None

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self._handle.write(json.dumps(row) + "\n")
        else:
            if self._csv is None:
                self._csv = csv.DictWriter(self._handle, fieldnames=list(row))
                self._csv.writeheader()
            self._csv.writerow(row)
        self._handle.flush()
        self.rows += 1

    def close(self) -> None:
        """Close the file, leaving it under its partial name (what a failure or an interruption keeps)."""
        self._handle.close()

    def commit(self) -> Path:
        """Close and move the complete file into place; returns its path."""
        self.close()
        return commit_partial(self.path)


def read_results(path: Path) -> pd.DataFrame:
    """A results file (``.csv`` or ``.jsonl``) as a table."""
    if Path(path).suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    return pd.read_csv(path)


class Summary:
    """What a source's results say, accumulated as they arrive (constant memory): :meth:`line`."""

    def __init__(self) -> None:
        self.count, self.last_s = 0, 0.0
        self.max_p, self.max_at = -1.0, 0.0
        self.first_on: float | None = None
        self.alarms, self.on_since, self.on_s = 0, None, 0.0

    def add(self, result: StreamResult) -> None:
        self.count += 1
        self.last_s = result.time_s
        if result.p_crash > self.max_p:
            self.max_p, self.max_at = result.p_crash, result.time_s
        for event in result.events:
            if event.kind == "on":
                self.alarms += 1
                self.on_since = event.time_s
                self.first_on = event.time_s if self.first_on is None else self.first_on
            elif self.on_since is not None:
                self.on_s += event.time_s - self.on_since
                self.on_since = None

    def row(self, name: str) -> tuple[str, ...]:
        """The source's row of :func:`summary_table`: name, results, seconds, max P(crash) and when, first alarm,
        alarms, seconds the alarm was on."""
        if not self.count:
            return (name, "0", "-", "-", "-", "0", "-")
        on_s = self.on_s + (self.last_s - self.on_since if self.on_since is not None else 0.0)
        first = f"{self.first_on:.1f}" if self.first_on is not None else "none"
        return (
            name,
            str(self.count),
            f"{self.last_s:.1f}",
            f"{self.max_p:.3f} at {self.max_at:.1f} s",
            first,
            str(self.alarms),
            f"{on_s:.1f}",
        )

    def line(self, name: str, alarm: Alarm) -> str:
        """``name: 30 results over 2.9 s; max P(crash) 0.83 at 2.1 s; alarm on at 1.5 s (1 alarm, on 0.8 s)
        (alarm on when smoothed P(crash) >= 0.45 for 0.5 s, off below 0.36)``."""
        if not self.count:
            return f"{name}: no results (the source gave no frame)"
        on_s = self.on_s + (self.last_s - self.on_since if self.on_since is not None else 0.0)
        alarms = (
            f"alarm on at {self.first_on:.1f} s ({self.alarms} alarm{'s' * (self.alarms != 1)}, on {on_s:.1f} s)"
            if self.first_on is not None
            else "no alarm"
        )
        return (
            f"{name}: {self.count} results over {self.last_s:.1f} s; max P(crash) {self.max_p:.3f} at "
            f"{self.max_at:.1f} s; {alarms} (alarm {alarm.describe()})"
        )


SUMMARY_HEADER = ("source", "results", "seconds", "max P(crash)", "first alarm (s)", "alarms", "alarm on (s)")


def summary_table(rows: Sequence[tuple[str, ...]], alarm_rule: str, failures: Sequence[tuple[str, str]] = ()) -> str:
    """The table a predict_video run ends with: one row per scored source (:meth:`Summary.row`), the alarm rule,
    then the sources that failed with their reasons."""
    widths = [max(len(str(cells[k])) for cells in [SUMMARY_HEADER, *rows]) for k in range(len(SUMMARY_HEADER))]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            str(cell).ljust(width) if k == 0 else str(cell).rjust(width)
            for k, (cell, width) in enumerate(zip(cells, widths))
        )

    lines = [
        f"Summary: {len(rows)} source(s) scored, {len(failures)} failed; alarm {alarm_rule}",
        fmt(SUMMARY_HEADER),
        *(fmt(cells) for cells in rows),
    ]
    lines += [f"FAILED {source}: {message}" for source, message in failures]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- timeline


def _colour(name: str, index: int) -> tuple[int, int, int]:
    fallback = [(46, 160, 67), (245, 140, 0), (215, 25, 32), (31, 119, 180), (148, 103, 189)]
    return LEVEL_COLOURS.get(str(name).lower(), fallback[index % len(fallback)])


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
        ax.grid(**GRID)
        # below the axes, so that it covers neither the curves nor the level strip along the top
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=legend_fontsize, ncol=5, frameon=False)
        fig.tight_layout()
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


def write_stream_timeline(
    path: Path,
    table: pd.DataFrame,
    predictor: Predictor,
    title: str,
    anomaly_s: tuple[float, float] | None = None,
    alarm: Alarm | None = None,
) -> Path:
    """A results table over time (:func:`read_results`, :func:`results_table`): raw and smoothed P(crash), a
    class task's class probabilities, the alarm's on/off thresholds (``alarm``; ``None``: the checkpoint's
    deployed alarm, ``Predictor.make_alarm``) and the time it was on (shaded), the risk level as a coloured strip,
    and the
    annotated anomaly span ``anomaly_s`` (``(start, end)`` seconds) when one is given."""
    if table.empty:
        raise ValueError(f"no results to draw for {title}: the source gave no frame")
    alarm = predictor.make_alarm() if alarm is None else alarm
    times = table["time_s"].to_numpy(float)
    with _timeline_axes(path, height=3.6, legend_fontsize=7) as ax:
        if anomaly_s is not None:
            ax.axvspan(*anomaly_s, **ANOMALY_SPAN, label="annotated anomaly")
        if predictor.task.class_names:  # the class probabilities, thin
            for k, (name, column) in enumerate(zip(predictor.task.column_labels, predictor.columns)):
                ax.plot(
                    times, table[column], color=np.array(_colour(name, k)) / 255, lw=0.8, alpha=0.7, label=f"P({name})"
                )
        ax.plot(times, table["p_crash"], color="0.45", lw=1, label="P(crash)")
        ax.plot(times, table["smoothed"], color=np.array(ALARM_COLOUR) / 255, lw=1.8, label="smoothed P(crash)")
        if np.isfinite(alarm.on):  # inf: the "no alarm" operating point, no line to draw
            ax.axhline(alarm.on, **THRESHOLD_LINE, label=f"alarm on {alarm.on:.2f}")
            ax.axhline(alarm.off, **THRESHOLD_OFF_LINE, label=f"off {alarm.off:.2f}")
        ax.fill_between(
            times,
            0,
            1,
            where=table["alarm"].astype(bool).to_numpy(),
            color="red",
            alpha=0.10,
            step="post",
            label="alarm on",
        )
        spans = level_spans(times, table["level"].astype(str).to_numpy())
        for k, level in enumerate(sorted(spans, key=lambda name: _level_rank(predictor, name))):
            ax.broken_barh(spans[level], (1.02, 0.04), color=np.array(_colour(level, k)) / 255, label=f"level {level}")
        ax.set(xlabel="time (s)", ylabel="probability", ylim=(0, 1.07), xlim=(0, max(times[-1], 1e-3)))
        ax.set_title(title, fontsize=8)
    return path


def level_spans(times: np.ndarray, levels: np.ndarray) -> dict[str, list[tuple[float, float]]]:
    """``{level: [(start_s, duration_s), ...]}``: each run of equal consecutive ``levels`` lasts from its first
    result's time to the next run's first (the last to one result interval after the last time), so the strip the
    timeline draws has no gap between levels."""
    if len(times) == 0:
        return {}
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.1
    starts = np.r_[0, np.flatnonzero(levels[1:] != levels[:-1]) + 1]
    ends = np.r_[times[starts[1:]], times[-1] + step]
    spans: dict[str, list[tuple[float, float]]] = {}
    for start, end in zip(starts, ends):
        spans.setdefault(str(levels[start]), []).append((float(times[start]), float(end - times[start])))
    return spans


def _level_rank(predictor: Predictor, name: str) -> int:
    order = [str(n).lower() for n in (predictor.task.class_names or ("low", "medium", "high"))]
    return order.index(name.lower()) if name.lower() in order else len(order)


# ----------------------------------------------------------------------------------------- overlay


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


def draw_label(
    frame: np.ndarray,
    text: str,
    colour: tuple[int, int, int],
    fraction: float,
    font,
    border: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """A coloured banner with ``text`` at the top of an RGB frame ``[H, W, 3]``, a meter of ``fraction`` of its
    width along the banner's bottom edge and, with ``border``, a frame of that colour around the picture."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    height, width = frame.shape[:2]
    bar = max(14, min(height, width) // 9)
    draw = ImageDraw.Draw(image, "RGBA")
    if border is not None:
        edge = max(3, min(height, width) // 40)
        draw.rectangle((0, 0, width - 1, height - 1), outline=(*border, 255), width=edge)
    draw.rectangle((0, 0, width, bar), fill=(*colour, 200))
    meter = max(2, bar // 6)
    draw.rectangle((0, bar - meter, width, bar), fill=(0, 0, 0, 160))
    filled = int(round(width * min(max(float(fraction), 0.0), 1.0)))
    draw.rectangle((0, bar - meter, filled, bar), fill=(255, 255, 255, 230))
    draw.text(
        (max(4, bar // 4), (bar - meter) // 2),
        text,
        fill=(255, 255, 255),
        font=font,
        anchor="lm",
        stroke_width=1,
        stroke_fill=(0, 0, 0),
    )
    return np.asarray(image)


class OverlayWriter:
    """The overlay MP4 of one source, encoded while it is scored (module docstring).

        overlay = OverlayWriter(out / "drive_overlay.mp4", predictor)
        for result in predictor.stream(overlay.frames(source)):   # frames pass through on their way to the engine
            overlay.add(result)
        overlay.commit()

    It follows the engine's time base (its own :class:`~riskvision.inference.stream.TimestampResampler`: the
    same target frames take the same pushed frames) and writes the target frames a push assigned once the
    engine has returned that push's results (when the next frame is pulled, or at :meth:`commit`). Memory:
    the latest pushed frame at display size and the target frames of one push.

    Args:
        path: the final MP4 (grows under ``<path>.partial``).
        predictor: gives ``target_fps`` (the overlay's frame rate).
        short_side: the overlay's shorter side in pixels.
    """

    def __init__(self, path: Path, predictor: Predictor, short_side: int = 360) -> None:
        if int(short_side) < 2:
            raise ValueError(f"overlay_short_side={short_side} must be >= 2 pixels (default 360)")
        self.path, self.predictor, self.short_side = Path(path), predictor, int(short_side)
        self.resampler = TimestampResampler(predictor.target_fps)
        self.results: deque[StreamResult] = deque()
        self.shown: StreamResult | None = None  # the result the next written frame shows
        self.pending: list[tuple[int, Any]] = []  # (target frame, pushed image) waiting for their results
        self.latest: Any = None
        self._display: tuple[Any, np.ndarray] | None = None  # (pushed image, its display-size frame), the latest
        self._writer: Mp4Writer | None = None
        self._font = None

    def frames(self, source: Iterable) -> Iterator:
        """``source``'s frames (``Frame`` or ``(image, time_s)``) unchanged, each one also assigned to target frames."""
        for frame in source:
            self._flush()
            image, time_s = (frame.image, frame.time_s) if hasattr(frame, "image") else frame
            assigned = self.resampler.push(time_s)
            if assigned is not None:
                previous, current = assigned
                self.pending += [(t, self.latest) for t in previous] + [(t, image) for t in current]
                self.latest = image
            yield frame

    def add(self, result: StreamResult) -> None:
        """A result of the engine (in frame order)."""
        self.results.append(result)

    def commit(self) -> Path:
        """The stream has ended: write the remaining frames, close the MP4 and move it into place."""
        if self.latest is not None:
            self.pending += [(t, self.latest) for t in self.resampler.finish()]
        self._flush()
        if self._writer is None:
            raise ValueError(f"no overlay for {self.path.name}: the source gave no frame")
        self._writer.close()
        return commit_partial(self.path)

    def close(self) -> None:
        """Close the MP4 under its partial name (after a failure: the frames written so far)."""
        if self._writer is not None:
            self._writer.close()

    def _flush(self) -> None:
        for t, image in self.pending:
            while self.results and self.results[0].frame <= t:
                self.shown = self.results.popleft()
            self._write(self._shown_image(image), t)
        self.pending = []

    def _shown_image(self, image: Any) -> np.ndarray:
        """``image`` at display size, resized once however many target frames show it."""
        if self._display is None or self._display[0] is not image:  # held, so no other image can take its id
            native = image.shape[-2:] if hasattr(image, "permute") else image.shape[:2]
            if self._writer is None:
                self._open(*native)
            size = (self._writer.size[1], self._writer.size[0])
            self._display = (image, resize_frame(image, size).permute(1, 2, 0).contiguous().numpy())
        return self._display[1]

    def _open(self, height: int, width: int) -> None:
        height, width = display_size(height, width, self.short_side)
        fps = Fraction(self.predictor.target_fps).limit_denominator(1001)
        self._writer = Mp4Writer(partial_path(self.path), (width, height), fps, OVERLAY_QP, FRAGMENTED_MP4)
        self._font = _font(max(10, min(height, width) // 20))

    def _write(self, frame: np.ndarray, t: int) -> None:
        time_s = t / self.predictor.target_fps
        result = self.shown
        if result is None:
            text, colour, fraction, border = f"waiting for the first window  {time_s:5.1f} s", WAITING_COLOUR, 0.0, None
        else:
            alarm = "ALARM  " if result.alarm else ""
            text = (
                f"{alarm}{result.level}  P(crash) {result.p_crash:.2f}  smoothed {result.smoothed:.2f}  {time_s:5.1f} s"
            )
            colour, fraction = _colour(result.level, 0), result.smoothed
            border = ALARM_COLOUR if result.alarm else None
        self._writer.write(draw_label(frame, text, colour, fraction, self._font, border))
