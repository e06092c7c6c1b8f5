"""Predictor: a trained checkpoint, rebuilt, with everything its stored run config says about its inputs.

    predictor = Predictor.from_checkpoint("RUN/checkpoints/last.ckpt", device="cpu")
    predictor.task, predictor.threshold      # what it predicts and its (validation-tuned) decision threshold
    predictor.num_frames, predictor.frame_size, predictor.normalization, predictor.target_fps
    for result in predictor.stream("drive.mp4"): ...   # live too: "rtsp://...", "/dev/video0", a FIFO
    results = predictor.predict_video("drive.mp4")

The checkpoint is a ``train.py`` checkpoint: its weights (``state_dict``) and the resolved run config under
``riskvision_cfg`` (``riskvision.utils.checkpointing``), which gives the clip length
``model.inputs.num_frames``, the frame size ``data.frame_size``, the normalisation preset
``data.normalization``, the target frame rate ``data.target_fps`` and the task with its class names; a task
that tunes a threshold keeps it in the ``threshold`` buffer. ``scripts/eval.py``, ``scripts/predict_video.py``
and the notebook load checkpoints through here.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from riskvision.alarm import Alarm, AlarmPolicy, OperatingPoint, PolicyError, Smoother
from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.models import FrameFeatureNet
from riskvision.models.base import weights_digest
from riskvision.safe_load import CheckpointError
from riskvision.tasks import Task
from riskvision.utils import CLIP_SPAN_KEY, CONFIG_KEY, OPERATING_POINT_KEY, load_checkpoint, model_name

if TYPE_CHECKING:
    from riskvision.inference.stream import StreamResult

__all__ = ["Predictor"]

log = logging.getLogger(__name__)


@dataclass
class Predictor:
    """A loaded checkpoint (``module``, in eval mode on ``device``) and how it must be fed.

    Attributes:
        module: the ``RiskModule`` with the checkpoint's weights.
        name: what to call it in logs (the checkpoint's path).
        run_config: the run config it was rebuilt from.
        task, threshold: what it predicts and its decision threshold.
        num_frames: frames per window (``T``).
        frame_size: ``(H, W)`` frames are resized to.
        normalization: the input preset (``riskvision.data.transforms.NORMALIZATION_PRESETS``).
        target_fps: the frame rate windows are sampled at, frames per second.
        device: where it runs.
        batch_size: windows per forward pass.
        cache_features: run a ``FrameFeatureNet``'s per-frame part once per frame (``False`` for other nets).
        precision: ``fp32`` or ``bf16`` (autocast) for the torch backend of :meth:`make_backend`.
        backend_kind: what :meth:`stream` runs the net with: ``auto`` (the fastest correct one for the device and
            precision, :func:`~riskvision.inference.backend_choice.choose_backend`), ``torch`` or ``onnxruntime``.
        export_dir: the ONNX export ``onnxruntime`` reads (``scripts/export.py``); ``None``: exported on first use
            into the export cache (:func:`~riskvision.inference.backend_choice.onnx_cache_dir`) and reused.
        train_clip_span_s: ``{"min", "median", "max"}`` seconds of video the training clips spanned (the
            checkpoint's ``riskvision_train_clip_span_s``), ``None`` when the checkpoint does not say. A window
            here spans :attr:`window_span_s`; the bilstm's uniform training clips spread their frames over whole
            videos, so the two can differ (a warning says so).
        operating_point: the alarm threshold and policy chosen on validation (the checkpoint's
            ``riskvision_operating_point``, ``riskvision.alarm.OperatingPoint``); ``None`` when it has none: the
            alarm then uses the default policy at the decision :attr:`threshold`.
    """

    BACKENDS = ("auto", "torch", "onnxruntime")
    PRECISIONS = ("fp32", "bf16")

    module: torch.nn.Module
    name: str
    run_config: DictConfig
    task: Task
    threshold: float
    num_frames: int
    frame_size: tuple[int, int]
    normalization: str
    target_fps: float
    device: torch.device
    batch_size: int = 8
    cache_features: bool = True
    precision: str = "fp32"
    backend_kind: str = "auto"
    export_dir: Path | None = None
    train_clip_span_s: dict[str, float] | None = None
    operating_point: OperatingPoint | None = None
    _span_told: bool = field(default=False, repr=False)  # span_mismatch was logged once (stream)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", batch_size: int = 8,
                        cache_features: bool = True, trusted_targets: Sequence[str] = (), *,
                        precision: str = "fp32", backend: str = "auto", export_dir: str | Path | None = None,
                        ) -> Predictor:
        """Load ``path`` (``riskvision.utils.load_checkpoint``: ``weights_only``, and the stored config names only
        trusted targets, plus ``trusted_targets``) and rebuild it from its stored run config; ``precision``,
        ``backend`` and ``export_dir``: what :meth:`stream` runs the net with (:meth:`make_backend`)."""
        if backend not in cls.BACKENDS:
            raise ValueError(f"backend={backend!r} is not one of {list(cls.BACKENDS)}")
        if precision not in cls.PRECISIONS:
            raise ValueError(f"precision={precision!r} is not one of {list(cls.PRECISIONS)}")
        if backend == "onnxruntime" and precision != "fp32":
            raise ValueError(f"precision={precision!r} is a torch setting; the onnxruntime export is fp32")
        checkpoint = load_checkpoint(path, trusted_targets)
        predictor = cls.from_run(checkpoint, OmegaConf.create(checkpoint[CONFIG_KEY]), str(path), device, batch_size,
                                 cache_features)
        predictor.precision, predictor.backend_kind = precision, backend
        predictor.export_dir = None if export_dir is None else Path(export_dir)
        return predictor

    def make_backend(self, threads: int | None = None) -> Any:
        """What runs the net for :meth:`stream`: ``TorchBackend(self, precision)`` or ``OnnxBackend(export_dir)``
        (exported there, or into the export cache, when it holds no export yet), checked to be an export of this
        checkpoint. ``auto`` picks one (:func:`~riskvision.inference.backend_choice.choose_backend`) and falls back to
        torch when the export fails; the log says which backend runs and why. ``threads``: onnxruntime's intra-op
        threads (``None``: one per physical core; torch's are set with ``torch.set_num_threads``,
        ``riskvision.inference.threads``)."""
        from riskvision.inference.backend_choice import choose_backend
        from riskvision.inference.backends import TorchBackend

        kind, why = (self.backend_kind, "asked for") if self.backend_kind != "auto" else choose_backend(
            str(self.device), self.precision)
        if kind == "onnxruntime":
            try:
                backend = self._onnx_backend(threads)
                shown = f"{threads} intra-op threads" if threads else "onnxruntime's threads (one per physical core)"
                log.info(f"Inference backend: onnxruntime ({why}), {shown}, "
                         f"export {self.export_dir or 'removed after loading'}")
                return backend
            except (ImportError, RuntimeError, ValueError, OSError) as error:
                if self.backend_kind != "auto":
                    raise
                why = f"the ONNX export failed: {error}"
                log.warning(f"Inference backend: torch instead of onnxruntime ({why})")
        log.info(f"Inference backend: torch {self.precision} ({why}), {torch.get_num_threads()} threads")
        return TorchBackend(self, precision=self.precision)

    def _onnx_backend(self, threads: int | None = None) -> Any:
        """``OnnxBackend`` of :attr:`export_dir`; with none, of the checkpoint's cached export (written on first use,
        atomically: an interrupted export is never read), or of a temporary export removed once loaded."""
        from riskvision.inference.backend_choice import onnx_cache_dir
        from riskvision.inference.export import export_onnx
        from riskvision.inference.onnx_backend import OnnxBackend

        if self.export_dir is not None:
            if not (self.export_dir / "preprocessing.json").is_file():
                log.info(f"Exporting {self.name} to ONNX in {self.export_dir}")
                export_onnx(self, self.export_dir)
            return self._checked(OnnxBackend(self.export_dir, intra_op_threads=threads))
        if not Path(self.name).is_file():  # no checkpoint file to key a cache on: load from a temporary export
            with tempfile.TemporaryDirectory(prefix="riskvision-onnx-") as folder:
                export_onnx(self, folder)
                # the sessions hold the graphs in memory; the folder goes
                return self._checked(OnnxBackend(folder, intra_op_threads=threads))
        cached = onnx_cache_dir(self.name)
        if not (cached / "preprocessing.json").is_file():
            log.info(f"Exporting {self.name} to ONNX once, into the export cache {cached} (remove it to free the "
                     "space; RISKVISION_CACHE_DIR moves the cache)")
            cached.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=f".{cached.name}.", dir=cached.parent) as folder:
                export_onnx(self, folder)
                try:
                    os.rename(folder, cached)  # atomic; another process may have finished the same export first
                except OSError:
                    if not (cached / "preprocessing.json").is_file():
                        raise
                os.makedirs(folder, exist_ok=True)  # TemporaryDirectory removes its (now renamed) folder
        self.export_dir = cached
        return self._checked(OnnxBackend(cached, intra_op_threads=threads))

    def _checked(self, backend: Any) -> Any:
        """``backend`` (an ``OnnxBackend``) once its export is known to come from this checkpoint's weights."""
        backend.check_source(weights_digest(self.module.net), self.name)  # not an export of another checkpoint
        return backend

    @classmethod
    def from_run(cls, checkpoint: dict[str, Any], run: DictConfig, name: str, device: str = "cpu",
                 batch_size: int = 8, cache_features: bool = True) -> Predictor:
        """The module of ``run.model`` (a checkpoint's stored config, checked by ``load_checkpoint``, possibly with
        command-line changes merged over it) with the checkpoint's weights."""
        if int(batch_size) < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1 (windows per forward pass)")
        dev = _device(str(device))
        task = OmegaConf.select(run, "model.task", default=None)
        if not OmegaConf.is_dict(task):
            raise ValueError(f"{name} was written by an older riskvision (its run config says model.task={task!r}, "
                             "before the task objects of riskvision.tasks). Fix: rebuild it with the riskvision "
                             "version that wrote it (commit 55a1ffe or earlier), or retrain")
        num_frames = _stored(run, "model.inputs.num_frames", name, _positive_int)
        size = _stored(run, "data.frame_size", name, _frame_size)
        normalization = _stored(run, "data.normalization", name, _preset)
        target_fps = float(_stored(run, "data.target_fps", name, _positive_number))
        model_size = OmegaConf.select(run, "model.inputs.frame_size")
        if model_size is not None and model_size != size:
            log.warning(f"{name}: data.frame_size={size} differs from model.inputs.frame_size={model_size}; using "
                        "data.frame_size, what the model was fed in training and in eval.py")
        span = _clip_span(checkpoint.get(CLIP_SPAN_KEY), name)
        module = hydra.utils.instantiate(_stored(run, "model", name, OmegaConf.is_dict))
        _load_state(module, checkpoint, run, name)
        module.eval().to(dev)
        return cls(
            module=module, name=name, run_config=run, task=module.task, threshold=float(module.threshold),
            num_frames=int(num_frames),
            frame_size=(int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1])),
            normalization=str(normalization), target_fps=target_fps, device=dev,
            batch_size=int(batch_size), cache_features=bool(cache_features) and isinstance(module.net, FrameFeatureNet),
            train_clip_span_s=span, operating_point=_operating_point(checkpoint.get(OPERATING_POINT_KEY), name),
        )  # fmt: skip

    def stream(self, source: Any, step: int = 1, backend: Any = None, **post: Any) -> Iterator[StreamResult]:
        """Results as frames arrive (``riskvision.inference.stream.StreamEngine``), in constant memory::

            for result in predictor.stream("drive.mp4"):           # or "rtsp://...", "/dev/video0", a FIFO, a folder
                print(result.time_s, result.p_crash, result.level, result.alarm)

        ``source``: a spec for ``riskvision.inference.sources.open_source``, an open ``FrameSource``, or any
        iterable of ``(image, time_s)`` pairs (uint8 RGB ``[H, W, 3]``, seconds). ``backend``: ``None``
        (:meth:`make_backend`: the ``backend`` / ``precision`` it was loaded with) or e.g. ``OnnxBackend(folder)``; ``post``: the engine's ``smoothing`` / ``levels`` / ``alarm`` /
        ``latest_only`` (default: whether the source is live).
        """
        from riskvision.inference.sources import FrameSource, open_source
        from riskvision.inference.stream import StreamEngine

        frames = open_source(source) if isinstance(source, (str, Path)) else source
        post.setdefault("latest_only", bool(getattr(frames, "live", False)))  # never fall behind a live source
        if not self._span_told and self.span_mismatch():
            log.warning(self.span_mismatch())
            self._span_told = True
        engine = StreamEngine(self, backend=backend or self.make_backend(), step=step, **post)
        try:
            for frame in frames:
                image, time_s = (frame.image, frame.time_s) if hasattr(frame, "image") else frame
                yield from engine.push(image, time_s)
            yield from engine.finish()
        finally:
            if isinstance(frames, FrameSource) and frames is not source:
                frames.close()

    def predict_video(self, path: str | Path, step: int = 1, **post: Any) -> list[StreamResult]:
        """Every result of a video file (or frame folder), streamed: :meth:`stream` collected into a list."""
        return list(self.stream(path, step, **post))

    @property
    def columns(self) -> list[str]:
        """The probability columns of the predictions table (``prob_crash`` or ``prob_<class>``)."""
        return self.task.prob_columns

    @property
    def window_span_s(self) -> float:
        """Seconds of video a streamed window spans: ``num_frames / target_fps``."""
        return self.num_frames / self.target_fps

    @property
    def alarm_policy(self) -> AlarmPolicy:
        """The deployed alarm policy: the operating point's, else :class:`~riskvision.alarm.AlarmPolicy`'s defaults."""
        return self.operating_point.policy if self.operating_point is not None else AlarmPolicy()

    @property
    def alarm_threshold(self) -> float:
        """The alarm's threshold: the operating point's (``inf``: no alarm), else the decision :attr:`threshold`."""
        return self.operating_point.threshold if self.operating_point is not None else self.threshold

    def make_smoother(self) -> Smoother:
        """A fresh smoother of :attr:`alarm_policy` (one per stream)."""
        return self.alarm_policy.smoother()

    def make_alarm(self) -> Alarm:
        """A fresh alarm of :attr:`alarm_policy` at :attr:`alarm_threshold`."""
        return self.alarm_policy.alarm(self.alarm_threshold)

    def describe_alarm(self) -> str:
        """The deployed alarm in words, and where its threshold came from."""
        if self.operating_point is not None:
            return f"alarm {self.alarm_policy.describe(self.alarm_threshold)} ({self.operating_point.describe()})"
        return (f"alarm {self.alarm_policy.describe(self.alarm_threshold)} (the decision threshold: this checkpoint "
                "stores no operating point; train.py test=true or scripts/eval.py store_operating_point=true chooses "
                "one on validation)")
    def span_mismatch(self) -> str | None:
        """Why sliding-window scores (streaming, eval.py's ``sliding`` scoring) answer another question than the one
        the model learned, with the fix; ``None`` when its training clips spanned about as long as a window
        (a median within 0.75-1.25x of :attr:`window_span_s`) or the checkpoint does not say. Said only where such
        windows are scored (:meth:`stream`, ``eval.py`` with sliding scoring), not on every load."""
        span, window_s = self.train_clip_span_s, self.window_span_s
        if span is None or 0.75 <= window_s / span["median"] <= 1.25:
            return None
        return (f"{self.name}: its training clips spanned {span['min']:.1f}-{span['max']:.1f} s of video (median "
                f"{span['median']:.1f} s), a streamed window spans {window_s:.1f} s ({self.num_frames} consecutive "
                f"frames at {self.target_fps:g} fps): its scores answer a question spaced differently in time than "
                "the one it learned. Fix: read them against eval.py's sliding scores, not its clip metrics (eval.py "
                "settings.scoring=clips scores the clips it was trained on); to stream what it learned, train it on "
                "consecutive frames (model.inputs.sampler=window)")

    def describe(self) -> str:
        """One line for the log: what it predicts, how it is fed and its alarm."""
        size = f"{self.frame_size[0]}x{self.frame_size[1]}"
        span = self.train_clip_span_s
        trained = (f"; trained on clips spanning {span['min']:.1f}-{span['max']:.1f} s (median {span['median']:.1f} s)"
                   if span else "")
        return (f"{Path(self.name).name}: {self.task.describe(self.threshold)}; windows of {self.num_frames} frames "
                f"of {size} at {self.target_fps:g} fps ({self.window_span_s:.1f} s), normalisation "
                f"{self.normalization!r}, device {self.device}{trained}; {self.describe_alarm()}")


def _stored(run: DictConfig, key: str, name: str, valid: Callable[[Any], bool]) -> Any:
    """``run``'s value at ``key``; a :class:`CheckpointError` when it is absent or ``valid`` rejects it."""
    value = OmegaConf.select(run, key, default=None)
    if value is None:
        raise CheckpointError(f"{name}: the stored run config has no {key!r}; it was not written by this version "
                              "of riskvision's train.py. Fix: retrain, or evaluate it with the code version that wrote it")
    if not valid(value):
        raise CheckpointError(f"{name}: stored {key}={value!r} is not {_EXPECTED[valid]}. Fix: pass a checkpoint "
                              f"written by riskvision's train.py, or set it on the command line (+{key}=...)")
    return value


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _frame_size(value: Any) -> bool:
    return _positive_int(value) or (OmegaConf.is_list(value) and len(value) == 2 and all(map(_positive_int, value)))


def _preset(value: Any) -> bool:
    return value in NORMALIZATION_PRESETS


_EXPECTED = {_positive_int: "a positive integer", _positive_number: "a positive number",
             _frame_size: "a positive integer or a [height, width] pair",
             _preset: f"one of {list(NORMALIZATION_PRESETS)}",
             OmegaConf.is_dict: "a model config (a mapping)"}


def _clip_span(value: Any, name: str) -> dict[str, float] | None:
    """The checkpoint's training clip span (``None`` when absent); :class:`CheckpointError` when it is malformed."""
    if value is None:
        return None
    keys = ("min", "median", "max")
    if not (isinstance(value, dict) and set(value) == set(keys) and all(map(_positive_number, value.values()))
            and value["min"] <= value["median"] <= value["max"]):
        raise CheckpointError(f"{name}: stored {CLIP_SPAN_KEY}={value!r} is not {{'min', 'median', 'max'}} seconds "
                              "(positive, in order). Fix: pass a checkpoint written by riskvision's train.py")
    return {key: float(value[key]) for key in keys}


def _operating_point(value: Any, name: str) -> OperatingPoint | None:
    """The checkpoint's operating point (``None`` when absent); :class:`CheckpointError` naming the key when it is
    malformed."""
    if value is None:
        return None
    try:
        return OperatingPoint.from_dict(value, f"{name}: stored {OPERATING_POINT_KEY}.")
    except PolicyError as error:
        raise CheckpointError(str(error)) from None


def _load_state(module: torch.nn.Module, checkpoint: dict[str, Any], run: DictConfig, name: str) -> None:
    """``module.load_state_dict`` of the checkpoint's weights; a mismatch says which model each side is."""
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
        first = f" (first: {lines[0][:200]})" if lines else ""
        stored = model_name(checkpoint[CONFIG_KEY]["model"])
        built = model_name(OmegaConf.to_container(run.model, resolve=True))
        raise CheckpointError(
            f"{name}: its weights ({stored}) do not fit the model built from its config with the command line's "
            f"changes ({built}): {len(lines)} mismatch(es){first}. Fix: drop the +model.* overrides that change "
            "the architecture"
        ) from None


def _device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a torch device ({error}). Fix: device=cpu or device=cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available on this machine. Fix: device=cpu")
    return dev
