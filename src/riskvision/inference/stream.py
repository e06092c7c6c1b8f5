"""The streaming engine: frames pushed one at a time with their timestamps, results in constant memory.

    engine = StreamEngine(Predictor.from_checkpoint("last.ckpt"))
    for image, time_s in camera:                 # uint8 RGB [H, W, 3] (numpy) or [3, H, W] (torch), seconds
        for result in engine.push(image, time_s):
            show(result.frame, result.p_crash, result.level, result.alarm)
    engine.finish()                              # the last frame's remaining target frames (a file's end)

What it computes is exactly ``scripts/eval.py``'s sliding windows (``evaluation.predict.predict_table_per_frame``;
``tests/offline_reference.py`` decodes a file whole and scores it the same way) on the video at the target rate, one
result per ``step``-th target frame. A note on the bilstm: its training sampler is ``uniform`` (``num_frames`` frames
spread over the WHOLE clip, e.g. 64 frames over a 5-10 s DoTA clip), while a window holds ``num_frames``
CONSECUTIVE frames at the target rate (64 frames = 6.4 s at 10 fps). Its per-frame scores answer "is a crash
happening in the last num_frames / target_fps seconds" under another spacing in time than it was trained on
(``Predictor`` warns when the spans differ); compare them with eval.py's sliding predictions, not with its
clip-level test metrics. The steps:

1. Time base (:class:`TimestampResampler`). Target frame ``i`` has the time ``i / target_fps`` seconds after
   the first pushed frame and takes the pushed frame NEAREST in time (a tie goes to the later frame): frame
   ``n`` stands for ``[(t[n-1] + t[n]) / 2, (t[n] + t[n+1]) / 2)``, the first frame from ``-inf``, the last
   up to ``t[-1] + (t[-1] - t[-2]) / 2``. For a constant rate this is ``riskvision.data.timebase``'s
   ``round(i * native_fps / target_fps)`` (halves up) with the same frame count; a higher rate drops
   frames, a lower one repeats them, and a variable rate (a phone, a camera that stalls) gets each target
   time's nearest picture. A frame whose time is not after the previous one is dropped (counted, warned).
2. Frames: each used frame is resized to the model's ``spec.frame_size`` with ``riskvision.data.readers.resize_frame``
   (the training/eval resize; any input size, also changing mid-stream) and normalised with
   ``Normalize(spec.normalization)``, once however many target frames repeat it; a pushed ``av.VideoFrame`` (a
   file's ``Frame.picture``) is converted to RGB only then, so the frames a lower target rate drops never are.
3. Windows (``riskvision.data.sampling.WindowSampler``): the result of target frame ``t`` (``t % step == 0``)
   is the window of ``num_frames`` consecutive target frames ending at ``t``; one that would start before
   frame 0 repeats frame 0, so the first frames get results at once. A per-frame net (``backend.per_frame``,
   the bilstm) runs its backbone once per target frame into a ring buffer of ``num_frames`` features and
   only its sequence head per result; another net (the 3D-ResNet) keeps a ring buffer of ``num_frames``
   normalised frames and runs one window per result. Frames no result can use (``step > num_frames``) are
   skipped. Memory: two pushed images and ``num_frames`` buffer entries, whatever the video's length.
   A causal net of a task that scores every frame (``Task.per_frame``, ``model=causal_gru``; ``backend.recurrent``)
   has no windows: each target frame's features go through one ``backend.step`` that carries the recurrent state
   (O(1) work and memory per frame), and frame ``t``'s result is its score from frames ``0..t``: eval.py's one pass
   per video (``predict_table_per_frame(every_frame=True)``).
4. Emission: a target frame is complete when the frame it takes is known: at the push of that frame when its
   time is at or before that frame's, else at the next push (or :meth:`StreamEngine.finish`). The results a
   push completes run in batches of the model's ``batch_size`` windows and are returned by that push.
5. Post-processing (:mod:`.smoothing`): the task's probability columns, P(crash) (``Task.crash_probability``),
   its causal smoothing, the risk level and the alarm with hysteresis, and the alarm's on/off events.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import deque
from dataclasses import dataclass, field

import av
import numpy as np
import torch
from torch import Tensor

from riskvision.data.readers import resize_frame
from riskvision.data.sampling import WindowSampler
from riskvision.data.transforms import Normalize
from riskvision.inference.backends import Backend, TorchBackend
from riskvision.inference.loaded import LoadedModel
from riskvision.inference.smoothing import (
    Alarm,
    AlarmEvent,
    Levels,
    Smoother,
    default_levels,
)
from riskvision.video_io import frame_to_rgb

__all__ = ["DEFAULT_TIME_CONSTANT_S", "StreamEngine", "StreamResult", "TimestampResampler"]

DEFAULT_TIME_CONSTANT_S = 0.5  # the default ExponentialSmoother's time constant, seconds


class TimestampResampler:
    """Pushed frame times -> the target-rate frames each pushed frame stands for (module docstring, 1).

    Times are compared with a tolerance of ``tolerance_s`` (1 microsecond): a target time that far from a
    midpoint or a frame time counts as on it, so float timestamps of an exact-rate file (``pts * time_base``)
    reproduce ``timebase.native_index``'s ties (halves go to the later frame).

    Args:
        target_fps: the target frame rate, frames per second.
    """

    def __init__(self, target_fps: float, tolerance_s: float = 1e-6) -> None:
        if not target_fps > 0:
            raise ValueError(f"target_fps={target_fps} must be > 0 (frames per second)")
        self.target_fps = float(target_fps)
        self.tolerance_s = float(tolerance_s)
        self.reset()

    def reset(self) -> None:
        self.origin: float | None = None  # the first pushed time (seconds, as pushed)
        self.last: float | None = None  # the latest accepted frame's time, seconds after the origin
        self.gap: float | None = None  # seconds between the two latest accepted frames
        self.next_target = 0  # the first target frame not yet assigned

    def push(self, time_s: float) -> tuple[list[int], list[int]] | None:
        """A frame at ``time_s`` (seconds, any origin). Returns ``(previous, current)``: the target frames now
        known to take the previous frame, and those that take this one; ``None``: dropped (not after the
        previous frame's time)."""
        t = float(time_s)
        if not math.isfinite(t):
            raise ValueError(f"time_s={time_s!r} is not a finite number of seconds")
        if self.origin is None:
            self.origin = t
        rel = t - self.origin
        if self.last is not None and rel <= self.last:
            return None
        previous = [] if self.last is None else self._take((self.last + rel) / 2 - self.tolerance_s, inclusive=False)
        current = self._take(rel + self.tolerance_s, inclusive=True)
        self.gap = None if self.last is None else rel - self.last
        self.last = rel
        return previous, current

    def finish(self) -> list[int]:
        """The end of the stream: the target frames after the last frame's time that still take it (up to half
        the last gap past it; none after a single frame)."""
        if self.gap is None:
            return []
        return self._take(self.last + self.gap / 2 - self.tolerance_s, inclusive=False)

    def _take(self, bound: float, inclusive: bool) -> list[int]:
        """Assign the next target frames whose time is ``< bound`` (``<=`` when ``inclusive``)."""
        taken = []
        while (time_i := self.next_target / self.target_fps) < bound or (inclusive and time_i == bound):
            taken.append(self.next_target)
            self.next_target += 1
        return taken


@dataclass
class StreamResult:
    """The result of the window ending at target frame ``frame``.

    Attributes:
        frame: target-rate frame index (the window's last frame).
        time_s: its time, ``frame / target_fps`` seconds after the first pushed frame.
        source_time_s: the pushed time (as pushed) of the frame it took.
        probs: the task's probability columns (``Task.prob_columns`` -> value: ``prob_crash``, or
            ``prob_normal`` / ``prob_warning`` / ``prob_danger``).
        p_crash: P(crash) of the window (``Task.crash_probability``), unsmoothed.
        smoothed: ``p_crash`` after the engine's smoother.
        level: the risk level (``Normal`` / ``Warning`` / ``Danger``, or ``low`` / ``medium`` / ``high``).
        alarm: the alarm's state after this result.
        latency_ms: milliseconds from the start of the push (or finish) that completed the window to this
            result.
        events: the alarm's changes at this result (``AlarmEvent``, usually none).
    """

    frame: int
    time_s: float
    source_time_s: float
    probs: dict[str, float]
    p_crash: float
    smoothed: float
    level: str
    alarm: bool
    latency_ms: float
    events: list[AlarmEvent] = field(default_factory=list)


class _Pushed:
    """A pushed image, resized and normalised (and its features computed) only once a target frame uses it."""

    def __init__(self, image: np.ndarray | Tensor | av.VideoFrame, time_s: float) -> None:
        self.image = image
        self.time_s = float(time_s)
        self.prepared: Tensor | None = None  # float [3, H, W], or [D] features for a per-frame backend


class StreamEngine:
    """Per-frame risk of a live or decoded video (see the module docstring).

    Args:
        model: the loaded checkpoint (a :class:`~riskvision.inference.loaded.LoadedModel`, e.g. a ``Predictor``):
            how it is fed (its ``spec``: ``num_frames``, ``frame_size``, ``normalization``, ``target_fps``,
            ``task``, ``threshold``), ``batch_size`` and ``device``.
        backend: what runs the net (:class:`~riskvision.inference.backends.Backend`); ``None``:
            ``TorchBackend(model)``.
        step: a result for every ``step``-th target frame (``0, step, 2*step, ...``).
        smoothing: the smoother of P(crash) (:mod:`riskvision.alarm`); ``None``: the deployed alarm policy's
            (``spec.make_smoother()``: the checkpoint's operating point's policy, else exponential 0.5 s).
            ``NoSmoothing()`` turns it off.
        levels: the risk levels; ``None``: ``smoothing.default_levels(task, threshold)`` (the class names of a
            class task; bands ``low`` < 0.5 * threshold <= ``medium`` < threshold <= ``high`` of the smoothed
            P(crash) for the binary task).
        alarm: the alarm on the smoothed P(crash); ``None``: the deployed one (``spec.make_alarm()``: the
            policy's rule at the checkpoint's operating point, else at the decision threshold).
        latest_only: a live source: when one push completes several results (the source dropped frames, so
            its time jumped), score only the newest and count the others in :attr:`skipped`, so the engine never
            falls behind a live source; ``False`` (files): every result.
    """

    def __init__(
        self,
        model: LoadedModel,
        backend: Backend | None = None,
        step: int = 1,
        smoothing: Smoother | None = None,
        levels: Levels | None = None,
        alarm: Alarm | None = None,
        latest_only: bool = False,
    ) -> None:
        if int(step) < 1:
            raise ValueError(f"step={step} must be >= 1 (a result every step-th target-rate frame)")
        spec = model.spec
        self.spec, self.device, self.batch_size = spec, model.device, model.batch_size
        self.backend = TorchBackend(model) if backend is None else backend
        self.step = int(step)
        self.latest_only = bool(latest_only)
        self.smoother = spec.make_smoother() if smoothing is None else smoothing
        self.levels = default_levels(spec.task, spec.threshold) if levels is None else levels
        self.alarm = spec.make_alarm() if alarm is None else alarm
        self.sampler = WindowSampler(spec.num_frames, eval_step=self.step)
        self.normalize = Normalize(spec.normalization)
        self.resampler = TimestampResampler(spec.target_fps)
        self.recurrent = bool(getattr(self.backend, "recurrent", False))
        if spec.task.per_frame and not self.recurrent:
            raise ValueError(
                f"{spec.name} scores every frame with a carried recurrent state, which "
                f"{type(self.backend).__name__} does not run. Fix: backend=torch with cache_features=True"
            )
        self.reset()

    def reset(self) -> None:
        """Start a new stream (the smoother and the alarm too)."""
        self.resampler.reset()
        self.smoother.reset()
        self.alarm.reset()
        self.latest: _Pushed | None = None
        self.indices: deque[int] = deque(maxlen=self.spec.num_frames)  # target frames in the buffer
        self.buffer: deque[Tensor] = deque(maxlen=self.spec.num_frames)  # their features / frames
        self.state = None  # a recurrent backend's state after the latest target frame
        self.dropped = 0  # pushed frames dropped for a time not after the previous one
        self.skipped = 0  # results not scored because a newer one was ready in the same push (latest_only)
        self.finished = False

    def push(self, image: np.ndarray | Tensor | av.VideoFrame, time_s: float) -> list[StreamResult]:
        """Push one frame: uint8 RGB numpy ``[H, W, 3]`` or torch ``[3, H, W]`` (any size), or a decoded
        ``av.VideoFrame`` (converted to RGB only if a target frame uses it: ``sources.Frame.picture``), at ``time_s``
        seconds (any origin, increasing). Returns the results it completes, in frame order (often one, none
        while frames are dropped by a lower target rate, several when the rate is lower than the target's).

        The engine keeps a reference to ``image`` until the next push: do not write into it meanwhile.
        """
        start = time.perf_counter()
        if self.finished:
            raise RuntimeError("push() after finish(); call reset() to start a new stream")
        _check_image(image)
        assigned = self.resampler.push(time_s)
        if assigned is None:
            self.dropped += 1
            if self.dropped == 1:  # once per stream, not per frame; the count is in self.dropped
                warnings.warn(
                    f"frame at time_s={float(time_s)} is not after the previous frame's; dropped (such "
                    "frames are counted, not warned about again)",
                    stacklevel=2,
                )
            return []
        previous, current = assigned
        pushed = _Pushed(image, time_s)
        targets = [(t, self.latest) for t in previous] + [(t, pushed) for t in current]
        self.latest = pushed
        return self._advance(targets, start)

    def finish(self) -> list[StreamResult]:
        """The end of the stream: the results of the target frames that take the last pushed frame after its
        time (for a file, the same last frame as ``timebase.target_num_frames``). No push after it."""
        start = time.perf_counter()
        if self.finished:
            return []
        targets = [(t, self.latest) for t in self.resampler.finish()]
        results = self._advance(targets, start)
        self.finished, self.latest = True, None
        return results

    @property
    def buffered(self) -> int:
        """Entries in the ring buffer (features or frames): never more than ``num_frames``."""
        return len(self.buffer)

    # ------------------------------------------------------------------ internals
    def _needed(self, t: int) -> bool:
        """Whether a result uses target frame ``t``: the first result at or after it is within the window (every
        frame for a recurrent backend: the state runs through all of them)."""
        return self.recurrent or -(-t // self.step) * self.step - t < self.spec.num_frames

    def _advance(self, targets: list[tuple[int, _Pushed]], start: float) -> list[StreamResult]:
        """Append the target frames (in order) to the ring buffer and score the windows they complete."""
        targets = [(t, pushed) for t, pushed in targets if self._needed(t)]
        self._prepare([pushed for _, pushed in targets])
        ready = [t for t, _ in targets if t % self.step == 0]
        scored = set(ready[-1:]) if self.latest_only else set(ready)
        self.skipped += len(ready) - len(scored)
        if self.recurrent:
            return self._advance_recurrent(targets, scored, start)
        windows: list[tuple[int, float, Tensor]] = []
        for t, pushed in targets:
            self.indices.append(t)
            self.buffer.append(pushed.prepared)
            if t in scored:
                windows.append((t, pushed.time_s, self._window(t)))
        results = []
        size = self.batch_size
        for a in range(0, len(windows), size):
            results += self._score(windows[a : a + size], start)
        return results

    def _advance_recurrent(
        self, targets: list[tuple[int, _Pushed]], scored: set[int], start: float
    ) -> list[StreamResult]:
        """Each target frame (in order) one ``backend.step`` on: its features and the carried state -> its logits;
        the ``scored`` frames' logits become results."""
        rows: list[tuple[int, float]] = []
        logits: list[Tensor] = []
        for t, pushed in targets:
            frame_logits, self.state = self.backend.step(pushed.prepared[None], self.state)  # [1, K]
            if t in scored:
                rows.append((t, pushed.time_s))
                logits.append(frame_logits)
        return self._results(rows, torch.cat(logits), start) if rows else []

    def _prepare(self, used: list[_Pushed]) -> None:
        """Resize + normalise each used pushed image once (and run the backbone once on them, per-frame nets)."""
        todo = list({id(p): p for p in used if p.prepared is None}.values())
        if not todo:
            return
        size, device = self.spec.frame_size, self.device
        normalised = [self.normalize(resize_frame(_rgb(p.image), size)) for p in todo]  # float [3, H, W] each
        frames = torch.stack(normalised).to(device)  # [N, 3, H, W]
        prepared = self.backend.features(frames) if self.backend.per_frame else frames  # [N, D] or [N, 3, H, W]
        for p, x in zip(todo, prepared):
            p.prepared, p.image = x, None  # the image is no longer needed

    def _window(self, t: int) -> Tensor:
        """The buffered window ending at target frame ``t``: ``[T, D]`` or ``[T, 3, H, W]``."""
        entries = dict(zip(self.indices, self.buffer))
        return torch.stack([entries[k] for k in self.sampler.frames(t + 1, t)])

    def _score(self, windows: list[tuple[int, float, Tensor]], start: float) -> list[StreamResult]:
        """One forward pass over ``windows`` (``(frame, source time, window)``) -> their results."""
        batch = torch.stack([w for _, _, w in windows])  # [B, T, D] or [B, T, 3, H, W]
        logits = self.backend.sequence(batch) if self.backend.per_frame else self.backend.window(batch)
        return self._results([(t, source_time) for t, source_time, _ in windows], logits, start)

    def _results(self, rows: list[tuple[int, float]], logits: Tensor, start: float) -> list[StreamResult]:
        """Results of target frames ``rows`` (``(frame, source time)``) from their logits ``[B, K]``: probabilities,
        P(crash), smoothing, level and alarm, in order."""
        task = self.spec.task
        values = task.table_values(logits)  # [B] or [B, K]
        p_crash = task.crash_probability(values)  # [B]
        latency_ms = (time.perf_counter() - start) * 1000
        results = []
        for (t, source_time), row, p in zip(rows, values, p_crash):
            row = np.atleast_1d(row)
            time_s = t / self.spec.target_fps
            smoothed = self.smoother.update(float(p), time_s)
            events = self.alarm.update(smoothed, time_s, t)
            results.append(
                StreamResult(
                    frame=t,
                    time_s=time_s,
                    source_time_s=source_time,
                    probs={name: float(v) for name, v in zip(task.prob_columns, row)},
                    p_crash=float(p),
                    smoothed=smoothed,
                    level=self.levels.level(row, smoothed),
                    alarm=self.alarm.active,
                    latency_ms=latency_ms,
                    events=events,
                )
            )
        return results


def _rgb(image: np.ndarray | Tensor | av.VideoFrame) -> np.ndarray | Tensor:
    """A pushed image as uint8 RGB: a decoded ``av.VideoFrame`` converted (``frame_to_rgb``), anything else as is."""
    return frame_to_rgb(image) if isinstance(image, av.VideoFrame) else image


def _check_image(image: np.ndarray | Tensor | av.VideoFrame) -> None:
    """A TypeError naming what was pushed unless it is uint8 RGB numpy ``[H, W, 3]``, torch ``[3, H, W]`` or a
    decoded ``av.VideoFrame`` (converted to RGB only if a target frame uses it)."""
    if isinstance(image, av.VideoFrame):
        return
    if isinstance(image, np.ndarray):
        ok, expected = image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8, "numpy [H, W, 3]"
    elif isinstance(image, Tensor):
        ok, expected = image.ndim == 3 and image.shape[0] == 3 and image.dtype == torch.uint8, "torch [3, H, W]"
    else:
        raise TypeError(
            f"push() takes a uint8 RGB numpy [H, W, 3] or torch [3, H, W] image, got {type(image).__name__}"
        )
    if not ok:
        raise TypeError(
            f"push() takes a uint8 RGB {expected} image, got {image.dtype} {tuple(image.shape)}. Fix: "
            "convert it to 8-bit RGB (PyAV: frame.to_ndarray(format='rgb24'); OpenCV: cv2.cvtColor(bgr, "
            "cv2.COLOR_BGR2RGB))"
        )
