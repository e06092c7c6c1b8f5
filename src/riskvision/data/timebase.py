"""One target frame rate for every source (docs/architecture.md, "Frame-rate convention").

Target frame ``i`` is native frame ``round(i * native_fps / target_fps)`` (halves round up). The
anomaly span ``[s, e)`` becomes the target frames whose native frame lies in ``[s, e)``; an annotated alert
frame (``VideoRecord.alert_start``) becomes the first target frame at or after it. Everything above the data
layer sees only :class:`TargetVideo` indices. Times in seconds (CSV annotations) become native frames with
:func:`frame_at`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from riskvision.data.records import VideoRecord


def native_index(i: int, native_fps: float, target_fps: float) -> int:
    """Native frame index of target frame ``i``."""
    return int(math.floor(i * native_fps / target_fps + 0.5))


def frame_at(seconds: float, fps: float) -> int:
    """The first frame shown at or after ``seconds`` (>= 0) of a video at ``fps``: ``ceil(seconds * fps)``
    (a time within a microframe of a frame's own time is that frame)."""
    return max(0, math.ceil(seconds * fps - 1e-6))


def frame_in_video(seconds: float, fps: float, num_frames: int, what: str) -> int:
    """:func:`frame_at` of ``seconds`` in a video of ``num_frames`` frames at ``fps``.

    Raises:
        ValueError: the frame is past the video's last one (the message names ``what``, the time and the length).
    """
    frame = frame_at(seconds, fps)
    if frame >= num_frames:
        raise ValueError(
            f"{what} {seconds:g} s is past the video's end ({num_frames / fps:g} s: {num_frames} frames at {fps:g} fps)"
        )
    return frame


def target_num_frames(num_native: int, native_fps: float, target_fps: float) -> int:
    """Number of target frames whose native frame exists (``native_index(i) < num_native``)."""
    if num_native <= 0:
        return 0
    return _first_target_at_or_after(num_native, native_fps, target_fps)


def _first_target_at_or_after(native: int, native_fps: float, target_fps: float) -> int:
    """Smallest target index ``i`` with ``native_index(i) >= native``."""
    ratio = native_fps / target_fps
    i = max(0, math.ceil((native - 0.5) / ratio))
    while i > 0 and native_index(i - 1, native_fps, target_fps) >= native:
        i -= 1
    while native_index(i, native_fps, target_fps) < native:
        i += 1
    return i


@dataclass(frozen=True)
class TargetVideo:
    """A :class:`VideoRecord` seen at the target frame rate.

    Attributes:
        record: the native-rate record.
        fps: target frame rate (frames per second).
        num_frames: length in target frames.
        anomaly_start: first target frame of the anomaly, ``None`` without one.
        anomaly_end: target frame after the anomaly (exclusive), ``None`` without one.
        alert_start: first target frame of an annotated Warning phase, ``None`` without one (or without an
            anomaly).
    """

    record: VideoRecord
    fps: float
    num_frames: int
    anomaly_start: int | None
    anomaly_end: int | None
    alert_start: int | None = None

    @property
    def has_anomaly(self) -> bool:
        return self.anomaly_start is not None

    def native_indices(self, target_indices: list[int]) -> list[int]:
        """Native frame indices of ``target_indices`` (each in ``[0, num_frames)``)."""
        last = self.record.num_frames - 1
        rate = self.record.native_fps
        return [min(native_index(i, rate, self.fps), last) for i in target_indices]


def to_target(record: VideoRecord, target_fps: float = 10.0) -> TargetVideo:
    """Convert ``record`` to ``target_fps``; a non-empty native anomaly stays non-empty; an alert frame becomes the
    first target frame at or after it.

    Raises:
        ValueError: ``target_fps`` is not positive.
    """
    if target_fps <= 0:
        raise ValueError(f"target_fps must be > 0, got {target_fps}; set data.frames.target_fps (default 10)")
    rate = record.native_fps
    n = target_num_frames(record.num_frames, rate, target_fps)
    if not record.has_anomaly:
        return TargetVideo(record, float(target_fps), n, None, None)
    start = min(_first_target_at_or_after(record.anomaly_start, rate, target_fps), n - 1)
    end = min(_first_target_at_or_after(record.anomaly_end, rate, target_fps), n)
    alert = None
    if record.alert_start is not None:
        alert = min(_first_target_at_or_after(record.alert_start, rate, target_fps), n - 1)
    return TargetVideo(record, float(target_fps), n, start, max(end, start + 1), alert)
