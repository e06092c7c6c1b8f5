"""Predictor: a trained checkpoint, rebuilt, with everything its stored run config says about its inputs; the
user-facing API of inference.

    predictor = Predictor.from_checkpoint("RUN/checkpoints/last.ckpt", device="cpu")
    predictor.task, predictor.threshold      # what it predicts and its (validation-tuned) decision threshold
    predictor.num_frames, predictor.frame_size, predictor.normalization, predictor.target_fps
    for result in predictor.stream("drive.mp4"): ...   # live too: "rtsp://...", "/dev/video0", a FIFO
    results = predictor.predict_video("drive.mp4")

The checkpoint is a ``train.py`` checkpoint: its weights (``state_dict``) and the resolved run config under
``riskvision_cfg`` (``riskvision.checkpoints.loading``), which gives the clip length
``model.inputs.num_frames``, the frame size ``data.frames.size``, the normalisation preset
``data.frames.normalization``, the target frame rate ``data.frames.target_fps`` and the task with its class names; a
task that tunes a threshold keeps it in the ``threshold`` buffer. ``scripts/eval.py``, ``scripts/predict_video.py``
and the notebook load checkpoints through here.

Below it (each imports only what is below it): :mod:`.spec` (``ModelSpec``: how the model is fed, frozen),
:mod:`.loaded` (``LoadedModel``: the module on its device with its spec; a ``Predictor`` is one), the backends
(:mod:`.backends`, :mod:`.onnx_backend`, :mod:`.export`), the backend factory (:mod:`.backend_factory`) and the
streaming engine (:mod:`.stream`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from riskvision.checkpoints.loading import CONFIG_KEY, load_checkpoint
from riskvision.inference.backend_factory import BACKENDS, make_backend
from riskvision.inference.backends import PRECISIONS, Backend
from riskvision.inference.loaded import LoadedModel
from riskvision.inference.sources import FrameSource, open_source
from riskvision.inference.stream import StreamEngine, StreamResult

__all__ = ["Predictor"]

log = logging.getLogger(__name__)


@dataclass
class Predictor(LoadedModel):
    """A loaded checkpoint (:class:`~riskvision.inference.loaded.LoadedModel`: ``module`` in eval mode on ``device``,
    its ``spec`` and the ``run_config`` it was rebuilt from) and how it runs.

    The spec's attributes read through it: ``name``, ``task``, ``threshold``, ``num_frames``, ``frame_size``,
    ``normalization``, ``target_fps``, ``train_clip_span_s``, ``operating_point``, ``window_span_s``,
    ``alarm_policy``, ``alarm_threshold``, ``make_smoother()``, ``make_alarm()``, ``describe_alarm()``,
    ``span_mismatch()`` (:class:`~riskvision.inference.spec.ModelSpec`).

    Attributes:
        precision: ``fp32`` or ``bf16`` (autocast) for the torch backend of :meth:`make_backend`.
        backend_kind: what :meth:`stream` runs the net with: ``auto`` (the fastest correct one for the device and
            precision, :func:`~riskvision.inference.backend_choice.choose_backend`), ``torch`` or ``onnxruntime``.
        export_dir: the ONNX export ``onnxruntime`` reads (``scripts/export.py``); ``None``: exported on first use
            into the export cache (:func:`~riskvision.inference.backend_choice.onnx_cache_dir`) and reused.
        threads: the net's intra-op threads for :meth:`make_backend`'s backend, torch or onnxruntime alike
            (``None``: torch's current setting, onnxruntime's one per physical core).
    """

    BACKENDS = BACKENDS
    PRECISIONS = PRECISIONS

    precision: str = "fp32"
    backend_kind: str = "auto"
    export_dir: Path | None = None
    threads: int | None = None
    _span_told: bool = field(default=False, repr=False)  # span_mismatch was logged once (stream)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "cpu",
        batch_size: int = 8,
        cache_features: bool = True,
        trusted_targets: Sequence[str] = (),
        *,
        precision: str = "fp32",
        backend: str = "auto",
        export_dir: str | Path | None = None,
        threads: int | None = None,
    ) -> Predictor:
        """Load ``path`` (``riskvision.checkpoints.loading.load_checkpoint``: ``weights_only``, and the stored config
        names only trusted targets, plus ``trusted_targets``) and rebuild it from its stored run config; ``precision``,
        ``backend``, ``export_dir`` and ``threads``: what :meth:`stream` runs the net with (:meth:`make_backend`)."""
        if backend not in cls.BACKENDS:
            raise ValueError(f"backend={backend!r} is not one of {list(cls.BACKENDS)}")
        if precision not in cls.PRECISIONS:
            raise ValueError(f"precision={precision!r} is not one of {list(cls.PRECISIONS)}")
        if backend == "onnxruntime" and precision != "fp32":
            raise ValueError(f"precision={precision!r} is a torch setting; the onnxruntime export is fp32")
        checkpoint = load_checkpoint(path, trusted_targets)
        predictor = cls.from_run(
            checkpoint, OmegaConf.create(checkpoint[CONFIG_KEY]), str(path), device, batch_size, cache_features
        )
        predictor.precision, predictor.backend_kind = precision, backend
        predictor.export_dir = None if export_dir is None else Path(export_dir)
        predictor.threads = None if threads is None else int(threads)
        return predictor

    def make_backend(self, threads: int | None = None) -> Backend:
        """What runs the net for :meth:`stream` (:func:`~riskvision.inference.backend_factory.make_backend` with this
        predictor's ``backend_kind``, ``precision`` and ``export_dir``; the export folder it read becomes
        :attr:`export_dir`). ``threads``: the net's intra-op threads, whichever backend runs (``None``: this
        predictor's :attr:`threads`)."""
        threads = self.threads if threads is None else threads
        backend, export_dir = make_backend(self, self.backend_kind, self.precision, self.export_dir, threads)
        self.export_dir = export_dir
        return backend

    def stream(self, source: Any, step: int = 1, backend: Any = None, **post: Any) -> Iterator[StreamResult]:
        """Results as frames arrive (``riskvision.inference.stream.StreamEngine``), in constant memory::

            for result in predictor.stream("drive.mp4"):           # or "rtsp://...", "/dev/video0", a FIFO, a folder
                print(result.time_s, result.p_crash, result.level, result.alarm)

        ``source``: a spec for ``riskvision.inference.sources.open_source``, an open ``FrameSource``, or any
        iterable of ``(image, time_s)`` pairs (uint8 RGB ``[H, W, 3]``, seconds). ``backend``: ``None``
        (:meth:`make_backend`: the ``backend`` / ``precision`` it was loaded with) or e.g. ``OnnxBackend(folder)``;
        ``post``: the engine's ``smoothing`` / ``levels`` / ``alarm`` / ``latest_only`` (default: whether the source is
        live).
        """
        frames = open_source(source) if isinstance(source, (str, Path)) else source
        post.setdefault("latest_only", bool(getattr(frames, "live", False)))  # never fall behind a live source
        if not self._span_told and self.span_mismatch():
            log.warning(self.span_mismatch())
            self._span_told = True
        engine = StreamEngine(self, backend=backend or self.make_backend(), step=step, **post)
        try:
            for frame in frames:
                image, time_s = (frame.picture, frame.time_s) if hasattr(frame, "picture") else frame
                yield from engine.push(image, time_s)
            yield from engine.finish()
        finally:
            if isinstance(frames, FrameSource) and frames is not source:
                frames.close()

    def predict_video(self, path: str | Path, step: int = 1, **post: Any) -> list[StreamResult]:
        """Every result of a video file (or frame folder), streamed: :meth:`stream` collected into a list."""
        return list(self.stream(path, step, **post))
