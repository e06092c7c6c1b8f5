"""A checkpoint's module rebuilt from its run config, in eval mode on a device, with its :class:`ModelSpec`:
:class:`LoadedModel`, what the backends, the ONNX export and the streaming engine take.
:class:`~riskvision.inference.predictor.Predictor` (the user-facing API) is a ``LoadedModel`` that also loads
checkpoint files, chooses a backend and streams sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from riskvision.checkpoints.loading import CONFIG_KEY, model_name
from riskvision.checkpoints.reading import CheckpointError
from riskvision.inference.spec import ModelSpec
from riskvision.models import FrameFeatureNet

__all__ = ["LoadedModel"]

_Model = TypeVar("_Model", bound="LoadedModel")


class _FromSpec:
    """An attribute of a loaded model that is its spec's, read-only (``model.task`` is ``model.spec.task``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, model: LoadedModel | None, owner: type | None = None) -> Any:
        return self if model is None else getattr(model.spec, self.name)

    def __set__(self, model: LoadedModel, value: Any) -> None:
        raise AttributeError(f"{self.name} is the model's spec's (ModelSpec, frozen); it cannot be set")


@dataclass
class LoadedModel:
    """A loaded checkpoint (``module``, in eval mode on ``device``) and how it must be fed (``spec``).

    Attributes:
        module: the ``RiskModule`` with the checkpoint's weights.
        spec: what it needs as input and what its outputs mean (:class:`ModelSpec`); its attributes read through
            the model too (``model.task``, ``model.threshold``, ``model.num_frames``, ``model.make_alarm()``, ...).
        run_config: the run config it was rebuilt from.
        device: where it runs.
        batch_size: windows per forward pass.
        cache_features: run a ``FrameFeatureNet``'s per-frame part once per frame (``False`` for other nets).
    """

    module: torch.nn.Module
    spec: ModelSpec
    run_config: DictConfig
    device: torch.device
    batch_size: int = 8
    cache_features: bool = True

    name = _FromSpec()
    task = _FromSpec()
    threshold = _FromSpec()
    num_frames = _FromSpec()
    frame_size = _FromSpec()
    normalization = _FromSpec()
    target_fps = _FromSpec()
    train_clip_span_s = _FromSpec()
    operating_point = _FromSpec()
    columns = _FromSpec()
    window_span_s = _FromSpec()
    alarm_policy = _FromSpec()
    alarm_threshold = _FromSpec()
    make_smoother = _FromSpec()
    make_alarm = _FromSpec()
    describe_alarm = _FromSpec()
    span_mismatch = _FromSpec()

    @classmethod
    def from_run(
        cls: type[_Model],
        checkpoint: dict[str, Any],
        run: DictConfig,
        name: str,
        device: str = "cpu",
        batch_size: int = 8,
        cache_features: bool = True,
    ) -> _Model:
        """The module of ``run.model`` (a checkpoint's stored config, checked by ``load_checkpoint``, possibly with
        command-line changes merged over it) with the checkpoint's weights, and its spec."""
        if int(batch_size) < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1 (windows per forward pass)")
        dev = _device(str(device))
        task = OmegaConf.select(run, "model.task", default=None)
        if not OmegaConf.is_dict(task):
            raise ValueError(
                f"{name} was written by an older riskvision (its run config says model.task={task!r}, "
                "before the task objects of riskvision.tasks). Fix: rebuild it with the riskvision "
                "version that wrote it (commit 55a1ffe or earlier), or retrain"
            )
        module = hydra.utils.instantiate(run.model)  # a mapping: model.task is one
        _load_state(module, checkpoint, run, name)
        module.eval().to(dev)
        spec = ModelSpec.from_run(checkpoint, run, name, module.task, float(module.threshold))
        return cls(
            module=module,
            spec=spec,
            run_config=run,
            device=dev,
            batch_size=int(batch_size),
            cache_features=bool(cache_features) and isinstance(module.net, FrameFeatureNet),
        )

    def describe(self) -> str:
        """One line for the log: what it predicts, how it is fed and its alarm."""
        spec, (height, width) = self.spec, self.frame_size
        span = spec.train_clip_span_s
        trained = (
            f"; trained on clips spanning {span['min']:.1f}-{span['max']:.1f} s (median {span['median']:.1f} s)"
            if span
            else ""
        )
        return (
            f"{Path(spec.name).name}: {spec.task.describe(spec.threshold)}; windows of {spec.num_frames} frames "
            f"of {height}x{width} at {spec.target_fps:g} fps ({spec.window_span_s:.1f} s), normalisation "
            f"{spec.normalization!r}, device {self.device}{trained}; {spec.describe_alarm()}"
        )


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
