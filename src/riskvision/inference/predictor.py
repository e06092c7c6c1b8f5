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
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.models import FrameFeatureNet
from riskvision.models.base import weights_digest
from riskvision.safe_load import CheckpointError
from riskvision.tasks import Task
from riskvision.utils import CLIP_SPAN_KEY, CONFIG_KEY, load_checkpoint, model_name

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
        backend_kind: what :meth:`stream` runs the net with: ``torch`` or ``onnxruntime``.
        export_dir: the ONNX export ``onnxruntime`` reads (``scripts/export.py``); ``None``: exported on first use
            into a temporary folder.
        train_clip_span_s: ``{"min", "median", "max"}`` seconds of video the training clips spanned (the
            checkpoint's ``riskvision_train_clip_span_s``), ``None`` when the checkpoint does not say. A window
            here spans :attr:`window_span_s`; the bilstm's uniform training clips spread their frames over whole
            videos, so the two can differ (a warning says so).
    """

    BACKENDS = ("torch", "onnxruntime")
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
    backend_kind: str = "torch"
    export_dir: Path | None = None
    train_clip_span_s: dict[str, float] | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", batch_size: int = 8,
                        cache_features: bool = True, trusted_targets: Sequence[str] = (), *,
                        precision: str = "fp32", backend: str = "torch", export_dir: str | Path | None = None,
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
        (exported there, or into a temporary folder, when it holds no export yet), checked to be an export of
        this checkpoint. ``threads``: onnxruntime's intra-op threads (``None``: its default; torch's are set with
        ``torch.set_num_threads``, ``riskvision.inference.threads``)."""
        if self.backend_kind == "torch":
            from riskvision.inference.backends import TorchBackend

            return TorchBackend(self, precision=self.precision)
        from riskvision.inference.export import export_onnx
        from riskvision.inference.onnx_backend import OnnxBackend

        if self.export_dir is None:
            self.export_dir = Path(tempfile.mkdtemp(prefix="riskvision-onnx-"))
        if not (self.export_dir / "preprocessing.json").is_file():
            log.info(f"Exporting {self.name} to ONNX in {self.export_dir}")
            export_onnx(self, self.export_dir)
        backend = OnnxBackend(self.export_dir, intra_op_threads=threads)
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
        window_s = int(num_frames) / target_fps
        if span is not None and not 0.75 <= window_s / span["median"] <= 1.25:
            log.warning(f"{name}: its training clips spanned {span['min']:.1f}-{span['max']:.1f} s of video (median "
                        f"{span['median']:.1f} s), a streamed window spans {window_s:.1f} s ({num_frames} consecutive "
                        f"frames at {target_fps:g} fps): its scores answer a question spaced differently in time "
                        "than the one it learned (the note in riskvision.inference.stream)")
        return cls(
            module=module, name=name, run_config=run, task=module.task, threshold=float(module.threshold),
            num_frames=int(num_frames),
            frame_size=(int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1])),
            normalization=str(normalization), target_fps=target_fps, device=dev,
            batch_size=int(batch_size), cache_features=bool(cache_features) and isinstance(module.net, FrameFeatureNet),
            train_clip_span_s=span,
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

    def describe(self) -> str:
        """One line for the log: what it predicts and how it is fed."""
        size = f"{self.frame_size[0]}x{self.frame_size[1]}"
        span = self.train_clip_span_s
        trained = (f"; trained on clips spanning {span['min']:.1f}-{span['max']:.1f} s (median {span['median']:.1f} s)"
                   if span else "")
        return (f"{Path(self.name).name}: {self.task.describe(self.threshold)}; windows of {self.num_frames} frames "
                f"of {size} at {self.target_fps:g} fps ({self.window_span_s:.1f} s), normalisation "
                f"{self.normalization!r}, device {self.device}{trained}")


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
