"""Which backend runs a predictor when none is named (``backend=auto``), and where its ONNX export is kept.

The rule, from ``scripts/benchmark_inference.py`` (2 shared CPU cores, 2026-12-01, bilstm end to end from a 720p
file: onnxruntime 20.6 frames/s against torch fp32 12.4, P(crash) within 1.2e-7) and issue 32's measurement
(``riskvision-predict``: 9-10 ms per result with onnxruntime against 196-390 ms with torch at load 3-4):

- **onnxruntime** when ``onnx`` and ``onnxruntime`` are installed (the ``onnx`` extra), the device is the CPU and
  the precision fp32: the checkpoint is exported once into :func:`onnx_cache_dir` and reused by later runs;
- **torch** otherwise (a GPU, bf16, the extra not installed, or an export that fails: the log says why).

``RISKVISION_BACKEND=torch|onnxruntime`` makes that backend the default instead (the test suite sets ``torch``).
Standard library only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

__all__ = ["BACKEND_ENV", "CACHE_ENV", "choose_backend", "onnx_cache_dir"]

#: Environment variable naming the backend ``auto`` stands for (``torch`` or ``onnxruntime``).
BACKEND_ENV = "RISKVISION_BACKEND"
#: Environment variable naming riskvision's cache folder (default ``~/.cache/riskvision``).
CACHE_ENV = "RISKVISION_CACHE_DIR"


def choose_backend(device: str, precision: str) -> tuple[str, str]:
    """``(backend, why)`` for ``backend=auto`` on ``device`` (``cpu``, ``cuda``, ...) at ``precision``.

    ``backend`` is ``onnxruntime`` or ``torch``; ``why`` is the reason in words, for the run log.
    """
    forced = os.environ.get(BACKEND_ENV)
    if forced in ("torch", "onnxruntime"):
        return forced, f"{BACKEND_ENV}={forced}"
    if not str(device).startswith("cpu"):
        return "torch", f"device {device} (the onnxruntime backend runs on the CPU)"
    if precision != "fp32":
        return "torch", f"precision {precision} (the ONNX export is fp32)"
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        return "torch", f"{' and '.join(missing)} not installed (pip install 'riskvision[onnx]' for ~1.7x frames/s)"
    return "onnxruntime", "installed, CPU, fp32: the fastest measured CPU backend (README: Inference)"


def onnx_cache_dir(checkpoint: str | os.PathLike) -> Path:
    """The folder that keeps ``checkpoint``'s ONNX export between runs:
    ``$RISKVISION_CACHE_DIR/onnx/<key>`` (default ``~/.cache/riskvision/onnx/<key>``), ``key`` a hash of the
    checkpoint's resolved path, size and modification time (a rewritten checkpoint gets a new export)."""
    path = Path(checkpoint).resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "riskvision")
    return root / "onnx" / f"{path.stem}-{key}"
