"""The backend factory: what runs a loaded model's net, built (:func:`make_backend`).

``torch`` is :class:`~riskvision.inference.backends.TorchBackend`; ``onnxruntime`` is
:class:`~riskvision.inference.onnx_backend.OnnxBackend` of an export folder (exported there, or into the export
cache, when it holds none yet), checked to be an export of this model's weights; ``auto`` picks one
(:func:`~riskvision.inference.backend_choice.choose_backend`) and falls back to torch when the export fails. The log
says which backend runs and why.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import torch

from riskvision.inference.backend_choice import choose_backend, onnx_cache_dir
from riskvision.inference.backends import Backend, TorchBackend
from riskvision.inference.export import PREPROCESSING_FILE, export_onnx
from riskvision.inference.loaded import LoadedModel
from riskvision.inference.onnx_backend import OnnxBackend
from riskvision.models.base import weights_digest

__all__ = ["BACKENDS", "make_backend"]

#: The backends a model can run with (``auto``: :func:`~riskvision.inference.backend_choice.choose_backend`).
BACKENDS = ("auto", "torch", "onnxruntime")

log = logging.getLogger(__name__)


def make_backend(
    model: LoadedModel,
    kind: str = "auto",
    precision: str = "fp32",
    export_dir: Path | None = None,
    threads: int | None = None,
) -> tuple[Backend, Path | None]:
    """What runs ``model``'s net, and the export folder it reads (``None``: none, or a temporary one removed once
    loaded).

    Args:
        model: the loaded checkpoint.
        kind: one of :data:`BACKENDS`.
        precision: the torch backend's ``fp32`` or ``bf16``.
        export_dir: the ONNX export ``onnxruntime`` reads (``scripts/export.py``); ``None``: exported on first use
            into the export cache (:func:`~riskvision.inference.backend_choice.onnx_cache_dir`) and reused.
        threads: the net's intra-op threads, for whichever backend runs (onnxruntime's session threads; torch's
            while the torch backend runs, :class:`~riskvision.inference.backends.TorchBackend`); ``None``:
            onnxruntime's one per physical core, torch's current setting.
    """
    chosen, why = (kind, "asked for") if kind != "auto" else choose_backend(str(model.device), precision)
    if chosen == "onnxruntime":
        try:
            backend, export_dir = _onnx_backend(model, export_dir, threads)
            shown = f"{threads} intra-op threads" if threads else "onnxruntime's threads (one per physical core)"
            log.info(f"Inference backend: onnxruntime ({why}), {shown}, export {export_dir or 'removed after loading'}")
            return backend, export_dir
        except (ImportError, RuntimeError, ValueError, OSError) as error:
            if kind != "auto":
                raise
            why = f"the ONNX export failed: {error}"
            log.warning(f"Inference backend: torch instead of onnxruntime ({why})")
    log.info(f"Inference backend: torch {precision} ({why}), {threads or torch.get_num_threads()} threads")
    return TorchBackend(model, precision=precision, threads=threads), export_dir


def _onnx_backend(model: LoadedModel, export_dir: Path | None, threads: int | None) -> tuple[OnnxBackend, Path | None]:
    """``OnnxBackend`` of ``export_dir``; with none, of the checkpoint's cached export (written on first use,
    atomically: an interrupted export is never read), or of a temporary export removed once loaded."""
    name = model.spec.name
    if export_dir is not None:
        if not (export_dir / PREPROCESSING_FILE).is_file():
            log.info(f"Exporting {name} to ONNX in {export_dir}")
            export_onnx(model, export_dir)
        return _checked(model, OnnxBackend(export_dir, intra_op_threads=threads)), export_dir
    if not Path(name).is_file():  # no checkpoint file to key a cache on: load from a temporary export
        with tempfile.TemporaryDirectory(prefix="riskvision-onnx-") as folder:
            export_onnx(model, folder)
            # the sessions hold the graphs in memory; the folder goes
            return _checked(model, OnnxBackend(folder, intra_op_threads=threads)), None
    cached = onnx_cache_dir(name)
    if not (cached / PREPROCESSING_FILE).is_file():
        log.info(
            f"Exporting {name} to ONNX once, into the export cache {cached} (remove it to free the "
            "space; RISKVISION_CACHE_DIR moves the cache)"
        )
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{cached.name}.", dir=cached.parent) as folder:
            export_onnx(model, folder)
            try:
                os.rename(folder, cached)  # atomic; another process may have finished the same export first
            except OSError:
                if not (cached / PREPROCESSING_FILE).is_file():
                    raise
            os.makedirs(folder, exist_ok=True)  # TemporaryDirectory removes its (now renamed) folder
    return _checked(model, OnnxBackend(cached, intra_op_threads=threads)), cached


def _checked(model: LoadedModel, backend: OnnxBackend) -> OnnxBackend:
    """``backend`` once its export is known to come from ``model``'s weights (not an export of another checkpoint)."""
    backend.check_source(weights_digest(model.module.net), model.spec.name)
    return backend
