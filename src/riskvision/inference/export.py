"""ONNX export of a loaded model (:class:`~riskvision.inference.loaded.LoadedModel`, e.g. a
:class:`~riskvision.inference.Predictor`): the graphs and everything needed to feed them.

    report = export_onnx(Predictor.from_checkpoint("RUN/checkpoints/last.ckpt"), "OUT")   # or:
    report = export_checkpoint("RUN/checkpoints/last.ckpt", "OUT")   # also records the training run's id

writes into ``OUT``

- ``model.onnx``: the whole net, input ``video`` float32 ``[B, T, 3, H, W]`` (normalised) -> ``logits`` ``[B, K]``;
- for a :class:`~riskvision.models.FrameFeatureNet` (the bilstm) also ``backbone.onnx`` (``frames [N, 3, H, W]``
  -> ``features [N, D]``) and ``head.onnx`` (``features [B, T, D]`` -> ``logits [B, K]``), so streaming can run the
  per-frame part once per frame under onnxruntime too;
- ``preprocessing.json``: how frames become the input (clip length, frame size, resize rule, uint8 -> float
  scaling, normalisation preset with its mean/std, frame rate, layout), how logits become probabilities
  (sigmoid / softmax), the prob columns, the tuned threshold, the deployed alarm (``output.alarm``: the alarm
  policy's parameters, ``riskvision.alarm``, its threshold and the operating point it came from), the source
  checkpoint, its run id and weights digest (a backend refuses an export of another checkpoint), each graph's
  SHA-256, the opset and the riskvision version. :class:`riskvision.inference.onnx_backend.OnnxBackend` reads the
  folder back.

The batch axis (``B``, ``N``) is dynamic; ``T``, ``H``, ``W`` are fixed at the model's values. Graphs are
exported in eval mode, fp32, on the CPU, and every file is written with :func:`riskvision.files.atomic_write`.

Exporter: torch's TorchScript exporter (``torch.onnx.export(..., dynamo=False)``). Under torch 2.14 both exporters
give graphs that match PyTorch on the LSTM and the 3D convolutions (max abs logit difference ~3e-7), but the
``dynamo=True`` exporter needs the extra ``onnxscript`` package, does not honour ``opset_version=17`` (it exports
opset 18 and its down-conversion fails on these graphs, so the file keeps 18), and is 4-10x slower (13-15 s per
tiny graph). The TorchScript exporter writes the requested opset. It is deprecated in torch (a warning, silenced
here); when it is removed, switch to ``dynamo=True`` with ``opset >= 18``.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn

from riskvision.checkpoints.loading import CONFIG_KEY, RUN_ID_KEY, load_checkpoint
from riskvision.data.transforms import NORMALIZATION_PRESETS
from riskvision.errors import ConfigError
from riskvision.files import atomic_write
from riskvision.inference.loaded import LoadedModel
from riskvision.inference.spec import ModelSpec
from riskvision.models import FrameFeatureNet
from riskvision.models.base import weights_digest

__all__ = [
    "EXPORT_FORMAT",
    "FORMATS",
    "PREPROCESSING_FILE",
    "PROBABILITY_RULES",
    "ExportReport",
    "export_checkpoint",
    "export_onnx",
    "file_sha256",
    "preprocessing",
]

#: ``preprocessing.json`` ``format`` and ``format_version``: what :class:`OnnxBackend` accepts.
EXPORT_FORMAT = ("riskvision-onnx", 2)  # 2: output.alarm (the alarm policy) replaced output.alarm_rule
#: The export formats ``scripts/export.py format=...`` knows.
FORMATS = ("onnx",)
PREPROCESSING_FILE = "preprocessing.json"
#: How each task (``Task.name``) turns logits ``[B, K]`` into its prob columns, and P(crash) from them.
PROBABILITY_RULES = {
    "binary": {"function": "sigmoid", "rule": "prob_crash = sigmoid(logits[:, 0])", "p_crash": "prob_crash"},
    "multiclass": {
        "function": "softmax",
        "rule": "prob_<class k> = softmax(logits, axis=1)[:, k]",
        "p_crash": "1 - (the first class's prob column)",
    },
}
EXAMPLE_BATCH = 2  # batch size of the example inputs the graphs are traced with (not 1: nothing specialises on it)


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_onnx` wrote.

    Attributes:
        folder: the output folder.
        files: the files written (graphs first, ``preprocessing.json`` last).
        preprocessing: the content of ``preprocessing.json``.
    """

    folder: Path
    files: tuple[Path, ...]
    preprocessing: dict[str, Any]

    def describe(self) -> str:
        """One line for the log."""
        names = ", ".join(path.name for path in self.files)
        return f"ONNX export (opset {self.preprocessing['onnx_opset']}) in {self.folder}: {names}"


def export_checkpoint(
    ckpt_path: str | Path,
    out_dir: str | Path,
    format: str = "onnx",
    opset: int = 17,
    trusted_targets: Sequence[str] = (),
) -> ExportReport:
    """Load a train.py checkpoint (``riskvision.checkpoints.loading.load_checkpoint``, as
    ``Predictor.from_checkpoint`` does, once) and :func:`export_onnx` it with its training run's id
    (``checkpoint["riskvision_run_id"]``, if present).

    Raises:
        ConfigError: ``format`` is not one of :data:`FORMATS`, or ``opset`` is not an integer (before anything loads).
    """
    if format not in FORMATS:
        raise ConfigError(f"format={format!r} is not an export format; choose one of {list(FORMATS)}")
    if not isinstance(opset, int) or isinstance(opset, bool) or opset < 7:
        raise ConfigError(f"opset={opset!r} is not an ONNX opset version; pass an integer such as opset=17")
    checkpoint = load_checkpoint(ckpt_path, trusted_targets)
    model = LoadedModel.from_run(checkpoint, OmegaConf.create(checkpoint[CONFIG_KEY]), str(ckpt_path))
    run_id = checkpoint.get(RUN_ID_KEY)
    return export_onnx(model, out_dir, opset, run_id=None if run_id is None else str(run_id))


def export_onnx(model: LoadedModel, out_dir: str | Path, opset: int = 17, run_id: str | None = None) -> ExportReport:
    """Write ``model.onnx`` (+ ``backbone.onnx`` / ``head.onnx`` for a FrameFeatureNet) and ``preprocessing.json``
    into ``out_dir`` (see the module docstring).

    Args:
        model: the loaded checkpoint (a ``LoadedModel``, e.g. a ``Predictor``); it is not changed (a CPU fp32 copy of
            its net is exported).
        out_dir: the folder to write into (created if needed; files of the same names are replaced).
        opset: the ONNX operator set version.
        run_id: the training run's id, recorded in ``preprocessing.json`` (``None``: not known).
    """
    spec = model.spec
    if spec.task.per_frame:  # its graphs would score windows; the stream needs the carried recurrent state
        raise ValueError(
            f"{spec.name} scores every frame with a carried recurrent state (model=causal_gru), "
            "which the exported graphs (whole windows) cannot carry. Fix: stream it with backend=torch"
        )
    onnx = _require_onnx()
    out = Path(out_dir)
    net = copy.deepcopy(model.module.net).to("cpu", torch.float32).eval()
    t, (h, w), k = spec.num_frames, spec.frame_size, spec.task.num_outputs
    video = torch.randn(EXAMPLE_BATCH, t, 3, h, w)
    graphs = {"model": _graph(net, video, ("video", "logits"), [k], opset, out / "model.onnx", onnx)}
    if isinstance(net, FrameFeatureNet):
        with torch.no_grad():
            features = net.forward_features(video)  # [B, T, D]
        graphs["backbone"] = _graph(
            _Backbone(net),
            video[:, 0],
            ("frames", "features"),
            [features.shape[-1]],
            opset,
            out / "backbone.onnx",
            onnx,
        )
        graphs["head"] = _graph(_Head(net), features, ("features", "logits"), [k], opset, out / "head.onnx", onnx)
    data = preprocessing(spec, weights_digest(model.module.net), graphs, opset, run_id)
    written = atomic_write(
        out / PREPROCESSING_FILE, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    )
    return ExportReport(out, tuple(out / spec["file"] for spec in graphs.values()) + (written,), data)


def preprocessing(
    spec: ModelSpec, weights_sha256: str, graphs: dict[str, dict[str, Any]], opset: int, run_id: str | None
) -> dict[str, Any]:
    """The content of ``preprocessing.json`` (plain data) for a model of ``spec`` whose weights have the digest
    ``weights_sha256`` (``models.base.weights_digest``) and the ``graphs`` written."""
    task = spec.task
    if task.name not in PROBABILITY_RULES:
        raise ValueError(
            f"export_onnx does not know how task {task.name!r} ({type(task).__name__}) turns logits into "
            "probabilities. Fix: add it to riskvision.inference.export.PROBABILITY_RULES"
        )
    scale, mean, std = NORMALIZATION_PRESETS[spec.normalization]
    return {
        "format": EXPORT_FORMAT[0],
        "format_version": EXPORT_FORMAT[1],
        "riskvision_version": _version(),
        "onnx_opset": opset,
        "exporter": f"torch.onnx.export (TorchScript, dynamo=False), torch {torch.__version__}",
        "source": {"checkpoint": str(Path(spec.name).resolve()), "run_id": run_id, "weights_sha256": weights_sha256},
        "graphs": graphs,
        "input": {
            "num_frames": spec.num_frames,
            "frame_size": list(spec.frame_size),
            "target_fps": spec.target_fps,
            "layout": "[B, T, C, H, W], C = RGB",
            "resize": {
                "function": "riskvision.data.readers.resize_frame",
                "mode": "bilinear",
                "antialias": True,
                "align_corners": False,
                "rule": "each uint8 RGB frame resized to frame_size [H, W] (no crop), "
                "rounded back to uint8, before scaling",
            },
            "normalization": {
                "preset": spec.normalization,
                "scale": scale,
                "mean": list(mean),
                "std": list(std),
                "rule": "float32 (uint8 * scale - mean[c]) / std[c] per channel c",
            },
        },
        "output": {
            "task": task.name,
            "task_class": type(task).__name__,
            "num_outputs": task.num_outputs,
            "class_names": None if task.class_names is None else list(task.class_names),
            "prob_columns": task.prob_columns,
            "probabilities": PROBABILITY_RULES[task.name],
            "threshold": spec.threshold,
            "alarm": alarm_entry(spec),
        },
    }


def alarm_entry(spec: ModelSpec) -> dict[str, Any]:
    """``output.alarm`` of ``preprocessing.json``: ``policy`` (:meth:`AlarmPolicy.to_dict`: smoother and rule with
    their parameters), ``threshold`` on the smoothed P(crash) (``null``: no alarm) and ``operating_point`` (where
    it came from, :meth:`OperatingPoint.to_dict`; ``null``: the decision threshold, none was chosen)."""
    threshold = spec.alarm_threshold
    point = spec.operating_point
    return {
        "policy": spec.alarm_policy.to_dict(),
        "threshold": None if math.isinf(threshold) else threshold,
        "operating_point": None if point is None else point.to_dict(),
    }


class _Backbone(nn.Module):
    """A FrameFeatureNet's per-frame part: ``frames [N, 3, H, W]`` -> ``features [N, D]``."""

    def __init__(self, net: FrameFeatureNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, frames: Tensor) -> Tensor:
        return self.net.forward_features(frames.unsqueeze(1)).squeeze(1)


class _Head(nn.Module):
    """A FrameFeatureNet's sequence part: ``features [B, T, D]`` -> ``logits [B, K]``."""

    def __init__(self, net: FrameFeatureNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: Tensor) -> Tensor:
        return self.net.forward_sequence(features)


def _graph(
    module: nn.Module,
    example: Tensor,
    names: tuple[str, str],
    output_shape: list[int],
    opset: int,
    path: Path,
    onnx: Any,
) -> dict[str, Any]:
    """Export ``module`` traced on ``example`` to ``path`` atomically (``names``: its input and output; axis 0 of
    both dynamic), checked with ``onnx.checker``. Returns its ``preprocessing.json`` entry: the file, the input and
    output names, dtypes and shapes (``"batch"`` = any size; ``output_shape`` = the output's other axes)."""
    input_name, output_name = names

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.filterwarnings(
                "ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning
            )
            warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
            # nn.LSTM's input-size check (a constant for a fixed D), and its warning that an LSTM traced at batch 2
            # might not run at other batch sizes: it does (tests/inference/test_export.py runs batch 1 and 3)
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module="torch.nn.modules.rnn")
            warnings.filterwarnings(
                "ignore", message="Exporting a model to ONNX with a batch_size other than 1", category=UserWarning
            )
            torch.onnx.export(
                module,
                (example,),
                str(tmp),
                input_names=[input_name],
                output_names=[output_name],
                opset_version=opset,
                dynamo=False,
                do_constant_folding=True,
                dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
            )
        onnx.checker.check_model(str(tmp))

    atomic_write(path, write)
    return {
        "file": path.name,
        "sha256": file_sha256(path),
        "inputs": {input_name: {"dtype": "float32", "shape": ["batch", *example.shape[1:]]}},
        "outputs": {output_name: {"dtype": "float32", "shape": ["batch", *output_shape]}},
    }


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes: ``preprocessing.json`` records each graph's, so a swapped graph is noticed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package. Fix: pip install 'riskvision[onnx]' (or pip install onnx onnxruntime)"
        ) from None
    return onnx


def _version() -> str:
    try:
        return importlib.metadata.version("riskvision")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
