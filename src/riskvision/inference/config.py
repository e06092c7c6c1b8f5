"""The typed settings of a predict run (:func:`~riskvision.inference.videos.predict_videos`, what
``scripts/predict_video.py`` and ``riskvision-predict`` run), one frozen dataclass per concern:

    predict_videos(
        "last.ckpt", ["drive.mp4"], "OUT",
        runtime=RuntimeConfig(backend="torch", threads=2),        # how the net runs
        outputs=OutputConfig(fmt="jsonl", overlay=True),          # what each source writes
        alarm=AlarmConfig(policy=AlarmPolicy(NoSmoothing())),     # which alarm it raises (riskvision.alarm)
        inputs=InputConfig(frames_fps=30.0),                      # how the sources are read
    )

Each checks its values when built (a ``ValueError`` naming the field, the value and the fix); the commands check
their own keys first, named as the user typed them (:mod:`.settings`). The alarm itself is defined once, in
:mod:`riskvision.alarm`; :class:`AlarmConfig` only says which policy and threshold a run uses.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from riskvision.alarm import AlarmPolicy, check_threshold
from riskvision.inference.backend_factory import BACKENDS
from riskvision.inference.backends import PRECISIONS
from riskvision.inference.loaded import LoadedModel
from riskvision.inference.outputs import FORMATS
from riskvision.inference.predictor import Predictor
from riskvision.inference.threads import inference_threads

__all__ = ["AlarmConfig", "InputConfig", "OutputConfig", "RunCommand", "RuntimeConfig"]


def _whole(name: str, value: object, minimum: int) -> int:
    """``value`` as an int when it is a whole number >= ``minimum``, else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < minimum:
        raise ValueError(f"{name}={value!r} must be a whole number >= {minimum}. Fix: {name}={minimum}")
    return int(value)


@dataclass(frozen=True)
class RuntimeConfig:
    """How a checkpoint is loaded and its net run (:meth:`Predictor.from_checkpoint`'s settings, plus threads).

    Attributes:
        device: ``cpu``, ``cuda``, ``cuda:1``, ``mps``.
        batch_size: windows per forward pass.
        backend: ``auto`` (onnxruntime on a CPU when installed, else torch), ``torch`` or ``onnxruntime``.
        precision: ``fp32`` or ``bf16`` (torch autocast).
        export_dir: the ONNX export ``onnxruntime`` reads (``scripts/export.py``); ``None``: the export cache.
        threads: the net's intra-op threads, for the torch and the onnxruntime backend alike; ``None``: one core
            left to a live source's decode thread (:func:`~riskvision.inference.threads.inference_threads`), and
            for files the backends' own defaults (torch's current setting, onnxruntime's one per physical core).
        trusted_targets: classes beyond riskvision's own that the checkpoint's stored config may build.
    """

    device: str = "cpu"
    batch_size: int = 8
    backend: str = "auto"
    precision: str = "fp32"
    export_dir: str | Path | None = None
    threads: int | None = None
    trusted_targets: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r} is not one of {list(BACKENDS)}. Fix: backend=auto")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r} is not one of {list(PRECISIONS)}. Fix: precision=fp32")
        object.__setattr__(self, "batch_size", _whole("batch_size", self.batch_size, 1))
        if self.threads is not None:
            object.__setattr__(self, "threads", _whole("threads", self.threads, 1))
        object.__setattr__(self, "trusted_targets", tuple(self.trusted_targets))

    def load(self, checkpoint: str | Path) -> Predictor:
        """``checkpoint`` rebuilt to run with these settings (:meth:`Predictor.from_checkpoint`)."""
        return Predictor.from_checkpoint(
            checkpoint,
            self.device,
            self.batch_size,
            trusted_targets=self.trusted_targets,
            precision=self.precision,
            backend=self.backend,
            export_dir=self.export_dir,
            threads=self.threads,
        )

    def net_threads(self, live: bool) -> tuple[int | None, str]:
        """``(threads, why)``: the net's intra-op threads when sources are ``live`` (a decode thread runs beside the
        net) or files, and the choice in words for the log; ``None``: the backends' own defaults."""
        if self.threads is not None:
            return self.threads, f"threads: {self.threads} for the net (torch / onnxruntime intra-op; threads=)"
        if live:
            chosen = inference_threads(live=True)
            return chosen.net, chosen.describe()
        return None, "threads: the backend's default for the net (torch's setting; onnxruntime: one per core)"


@dataclass(frozen=True)
class OutputConfig:
    """What each source writes besides its results file ``OUT/<name>.<fmt>``.

    Attributes:
        fmt: ``csv`` or ``jsonl``: one row per result, flushed as it is made.
        timeline: also ``OUT/<name>_timeline.png``, drawn from the results file when the source ends.
        overlay: also ``OUT/<name>_overlay.mp4``, encoded while the source is scored.
        overlay_short_side: the overlay's shorter side in pixels (aspect ratio kept, even sides).
    """

    fmt: str = "csv"
    timeline: bool = True
    overlay: bool = False
    overlay_short_side: int = 360

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"format={self.fmt!r} is not one of {list(FORMATS)}. Fix: format=csv")
        object.__setattr__(self, "overlay_short_side", _whole("overlay_short_side", self.overlay_short_side, 2))


@dataclass(frozen=True)
class AlarmConfig:
    """Which alarm a run raises: a policy of :mod:`riskvision.alarm` (its one definition) at a threshold.

    Attributes:
        policy: smoother + rule (``None``: the checkpoint's deployed one, ``Predictor.alarm_policy``).
        threshold: the threshold on the smoothed P(crash) (``None``: the checkpoint's operating point chosen on
            validation, else its decision threshold, ``Predictor.alarm_threshold``).
    """

    policy: AlarmPolicy | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None:
            object.__setattr__(self, "threshold", check_threshold(self.threshold, "alarm_threshold"))

    def resolve(self, model: LoadedModel) -> tuple[AlarmPolicy, float]:
        """The policy and threshold this run uses with ``model`` (its own where this config names none)."""
        policy = model.spec.alarm_policy if self.policy is None else self.policy
        threshold = model.spec.alarm_threshold if self.threshold is None else self.threshold
        return policy, threshold


@dataclass(frozen=True)
class InputConfig:
    """How the sources are read, and what is known about them.

    Attributes:
        frames_fps: the frame rate of folders of frames (a video file or stream states its own).
        annotations: the anomaly spans drawn on the timelines: a DoTA annotation JSON, a folder of them, a DoTA
            metadata JSON, or a CSV ``video,anomaly_start_s,anomaly_end_s`` (:mod:`.annotations`).
    """

    frames_fps: float = 10.0
    annotations: str | Path | None = None

    def __post_init__(self) -> None:
        if isinstance(self.frames_fps, bool) or not isinstance(self.frames_fps, (int, float)) or self.frames_fps <= 0:
            raise ValueError(f"frames_fps={self.frames_fps!r} must be a number > 0. Fix: frames_fps=10")


@dataclass(frozen=True)
class RunCommand:
    """The command a run belongs to.

    Attributes:
        kind: what the run folder records as the command (``riskvision.runs``).
        out_option: the command's option naming the output folder (``hydra.run.dir``, ``--out``), for refusals.
        progress: where the progress line goes (``None``: nowhere).
    """

    kind: str = "predict_video"
    out_option: str = "hydra.run.dir"
    progress: IO[str] | None = field(default=sys.stderr, compare=False)
