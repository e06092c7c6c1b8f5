"""Running an ONNX export (:func:`riskvision.inference.export.export_onnx`) with onnxruntime on the CPU.

    backend = OnnxBackend("OUT")                 # model.onnx (+ backbone.onnx, head.onnx) and preprocessing.json
    logits = backend.window(video)               # video float32 [B, T, 3, H, W] (normalised) -> logits [B, K]
    if backend.per_frame:                        # a FrameFeatureNet: per-frame features reused across windows
        logits = backend.sequence(torch.stack([backend.features(frames) for frames in video]))
    probs = probabilities(logits, backend.preprocessing)   # the task's prob columns [B, C]

The members ``per_frame``, ``features``, ``sequence`` and ``window`` are the backend interface of
``riskvision.inference.backends`` (the torch backend has the same). The folder is untrusted input: only
``preprocessing.json`` is parsed (JSON, checked field by field), the graphs are handed to onnxruntime with no
custom-op libraries, and nothing in the folder is imported or executed as Python.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from riskvision.alarm import AlarmPolicy, OperatingPoint, PolicyError
from riskvision.inference.export import EXPORT_FORMAT, PREPROCESSING_FILE, PROBABILITY_RULES, file_sha256

__all__ = ["ExportFolderError", "OnnxBackend", "probabilities", "read_alarm", "read_preprocessing"]

FIX = "Fix: export the checkpoint again (python scripts/export.py ckpt_path=CKPT hydra.run.dir=FOLDER)"
GRAPH_KEYS = {"model": ("video", "logits"), "backbone": ("frames", "features"), "head": ("features", "logits")}


class ExportFolderError(ValueError):
    """An export folder that cannot be used: a missing file, or a ``preprocessing.json`` that is not what
    :func:`~riskvision.inference.export.export_onnx` writes. The message names the file and the fix."""


class OnnxBackend:
    """The graphs of an export folder in onnxruntime sessions (CPUExecutionProvider).

    Args:
        folder: a folder written by ``export_onnx``.
        intra_op_threads: threads per operator (``None``: onnxruntime's default, one per physical core).

    Attributes:
        preprocessing: the parsed, checked ``preprocessing.json`` (how to feed the graphs, how to read them).
        per_frame: the folder has ``backbone.onnx`` + ``head.onnx`` (:meth:`features` and :meth:`sequence` work).
    """

    def __init__(self, folder: str | Path, intra_op_threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ImportError("OnnxBackend needs onnxruntime. Fix: pip install 'riskvision[onnx]'") from None
        self.folder = Path(folder)
        self.preprocessing = read_preprocessing(self.folder)
        graphs = self.preprocessing["graphs"]
        self.per_frame = "backbone" in graphs
        options = onnxruntime.SessionOptions()
        if intra_op_threads is not None:
            options.intra_op_num_threads = int(intra_op_threads)
        # between two frames the decoder needs the cores: idle operator threads sleep instead of spinning
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._sessions = {
            name: _session(onnxruntime, self.folder / spec["file"], options, name, spec)
            for name, spec in graphs.items()
        }
        for spec in graphs.values():  # a graph swapped in from another export (after the name and shape checks)
            recorded, path = spec.get("sha256"), self.folder / spec["file"]
            if recorded is not None and file_sha256(path) != recorded:
                raise ExportFolderError(
                    f"{path} is not the graph this export wrote (its SHA-256 differs from the one "
                    f"{PREPROCESSING_FILE} records): a file was replaced. {FIX}"
                )

    def check_source(self, weights_sha256: str, checkpoint: str) -> None:
        """Refuse an export of another checkpoint: ``preprocessing.json``'s ``source.weights_sha256`` must be
        ``weights_sha256`` (the digest of the loaded net's weights, ``models.base.weights_digest``); an export
        that records none (written before it was recorded) is used with a warning."""
        source = self.preprocessing.get("source") if isinstance(self.preprocessing.get("source"), dict) else {}
        recorded = source.get("weights_sha256")
        if recorded is None:
            warnings.warn(
                f"{self.folder} records no weights digest (an older export), so it cannot be checked to "
                f"come from {checkpoint}. Fix: export the checkpoint again",
                UserWarning,
                stacklevel=2,
            )
        elif recorded != weights_sha256:
            raise ExportFolderError(
                f"{self.folder} is an export of another checkpoint ({source.get('checkpoint')}, run "
                f"{source.get('run_id')}, weights {str(recorded)[:12]}...), not of {checkpoint} (weights "
                f"{weights_sha256[:12]}...); its scores would be another model's. Fix: --onnx / export_dir=<an export "
                f"of this checkpoint>, or export it: python scripts/export.py ckpt_path={checkpoint} "
                "hydra.run.dir=FOLDER"
            )

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame features: normalised float ``frames [N, 3, H, W]`` -> ``[N, D]`` (float32, CPU)."""
        return self._run("backbone", frames)

    def sequence(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` from per-frame features ``[B, T, D]`` (float32, CPU)."""
        return self._run("head", features)

    def window(self, video: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` of normalised float windows ``video [B, T, 3, H, W]`` (float32, CPU)."""
        return self._run("model", video)

    def _run(self, graph: str, x: torch.Tensor) -> torch.Tensor:
        if graph not in self._sessions:
            raise ValueError(
                f"{self.folder} has no per-frame graphs (backbone.onnx, head.onnx: the net is not a "
                "FrameFeatureNet); use window(video) for whole windows"
            )
        spec = self.preprocessing["graphs"][graph]
        ((name, expected),) = spec["inputs"].items()
        shape = tuple(x.shape)
        if len(shape) != len(expected["shape"]) or any(
            want != "batch" and got != want for got, want in zip(shape, expected["shape"])
        ):
            raise ValueError(
                f"{spec['file']} takes {name} of shape {expected['shape']} (batch = any size), got {list(shape)}"
            )
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(self._sessions[graph].run(None, {name: array})[0])


def probabilities(logits: torch.Tensor, preprocessing: dict[str, Any]) -> torch.Tensor:
    """The task's prob columns (``preprocessing["output"]["prob_columns"]``) from logits ``[B, K]``: ``[B, C]``
    (sigmoid of the one logit for the binary task, softmax over K for risk levels)."""
    function = preprocessing["output"]["probabilities"]["function"]
    return torch.sigmoid(logits.float()) if function == "sigmoid" else torch.softmax(logits.float(), dim=1)


def read_preprocessing(folder: str | Path) -> dict[str, Any]:
    """``folder/preprocessing.json`` parsed as JSON and checked (types, the graphs it lists exist);
    :class:`ExportFolderError` naming the file and the fix otherwise."""
    path = Path(folder) / PREPROCESSING_FILE
    if not Path(folder).is_dir():
        raise ExportFolderError(f"{folder} is not a folder. {FIX}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except FileNotFoundError:
        raise ExportFolderError(f"{path} is missing: {folder} is not an ONNX export of riskvision. {FIX}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ExportFolderError(f"{path} is not readable JSON ({error}). {FIX}") from None
    _check(path, data)
    for spec in data["graphs"].values():
        if not (Path(folder) / spec["file"]).is_file():
            raise ExportFolderError(f"{Path(folder) / spec['file']} is missing ({path} lists it). {FIX}")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _check(path: Path, data: Any) -> None:
    """``data`` has every field :class:`OnnxBackend` and a caller feeding the graphs use, with the right types."""

    def fail(key: str, value: Any, expected: str) -> None:
        raise ExportFolderError(f"{path}: {key}={value!r} is not {expected}. {FIX}")

    if not isinstance(data, dict):
        fail("(the file)", type(data).__name__, "a JSON object")
    if [data.get("format"), data.get("format_version")] != list(EXPORT_FORMAT):
        fail(
            "format, format_version",
            [data.get("format"), data.get("format_version")],
            f"{list(EXPORT_FORMAT)} (what this riskvision writes and reads)",
        )
    sections = {key: data.get(key) for key in ("graphs", "input", "output")}
    for key, value in sections.items():
        if not isinstance(value, dict):
            fail(key, value, "a JSON object")
    graphs, inputs, output = sections.values()
    if "model" not in graphs or set(graphs) - set(GRAPH_KEYS) or ("backbone" in graphs) != ("head" in graphs):
        fail("graphs", sorted(graphs), "model, optionally with both backbone and head")
    for name, spec in graphs.items():
        _check_graph(f"graphs.{name}", spec, GRAPH_KEYS[name], fail)
    if not _count(inputs.get("num_frames")):
        fail("input.num_frames", inputs.get("num_frames"), "a positive integer")
    size = inputs.get("frame_size")
    if not (isinstance(size, list) and len(size) == 2 and all(map(_count, size))):
        fail("input.frame_size", size, "[height, width] in pixels")
    if not _positive(inputs.get("target_fps")):
        fail("input.target_fps", inputs.get("target_fps"), "a positive number (frames per second)")
    norm = inputs.get("normalization")
    if not (
        isinstance(norm, dict)
        and isinstance(norm.get("preset"), str)
        and _positive(norm.get("scale"))
        and all(
            isinstance(norm.get(k), list) and len(norm[k]) == 3 and all(map(_number, norm[k])) for k in ("mean", "std")
        )
        and all(map(_positive, norm["std"]))
    ):
        fail("input.normalization", norm, "{preset, scale > 0, mean: 3 numbers, std: 3 positive numbers}")
    if (
        output.get("task") not in PROBABILITY_RULES
        or not isinstance(output.get("probabilities"), dict)
        or output["probabilities"].get("function") != PROBABILITY_RULES[output["task"]]["function"]
    ):
        fail(
            "output.task, output.probabilities",
            [output.get("task"), output.get("probabilities")],
            f"a known task with its rule {PROBABILITY_RULES}",
        )
    columns = output.get("prob_columns")
    if not (isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)):
        fail("output.prob_columns", columns, "a list of column names")
    if not (_number(output.get("threshold")) and 0 <= output["threshold"] <= 1):
        fail("output.threshold", output.get("threshold"), "a number in [0, 1]")
    read_alarm(output.get("alarm"), f"{path}: output.alarm.")


def read_alarm(entry: Any, where: str) -> tuple[AlarmPolicy, float, OperatingPoint | None]:
    """(policy, threshold (``inf``: no alarm), operating point) of an export's ``output.alarm``; an
    :class:`ExportFolderError` naming the key when it is malformed."""
    try:
        if not isinstance(entry, dict) or set(entry) != {"policy", "threshold", "operating_point"}:
            raise PolicyError(f"{where[:-1]}={entry!r} is not {{policy, threshold, operating_point}}. {FIX}")
        policy = AlarmPolicy.from_dict(entry["policy"], f"{where}policy.")
        threshold = entry["threshold"]
        if threshold is not None and not (_number(threshold) and 0 < threshold <= 1):
            raise PolicyError(f"{where}threshold={threshold!r} is not a probability in (0, 1] or null. {FIX}")
        point = entry["operating_point"]
        point = None if point is None else OperatingPoint.from_dict(point, f"{where}operating_point.")
    except PolicyError as error:  # its message names the key; the fix for an export is to export again
        raise ExportFolderError(f"{str(error).rsplit(' Fix: ', 1)[0]} {FIX}") from None
    return policy, math.inf if threshold is None else float(threshold), point


def _check_graph(key: str, spec: Any, names: tuple[str, str], fail: Any) -> None:
    """One ``graphs`` entry: a plain file name in the folder and the input / output names the backend feeds."""
    if not isinstance(spec, dict):
        fail(key, spec, "a JSON object")
    file = spec.get("file")
    if not (isinstance(file, str) and file.endswith(".onnx") and Path(file).name == file and not file.startswith(".")):
        fail(f"{key}.file", file, "a .onnx file name inside the folder (no path)")
    digest = spec.get("sha256")
    if digest is not None and not (
        isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    ):
        fail(f"{key}.sha256", digest, "64 hex digits (the graph file's SHA-256)")
    for part, name in zip(("inputs", "outputs"), names):
        entry = spec.get(part)
        if not (isinstance(entry, dict) and list(entry) == [name] and isinstance(entry[name], dict)):
            fail(f"{key}.{part}", entry, f"{{{name!r}: {{dtype, shape}}}}")
        shape = entry[name].get("shape")
        if not (isinstance(shape, list) and shape and shape[0] == "batch" and all(map(_count, shape[1:]))):
            fail(f"{key}.{part}.{name}.shape", shape, "['batch', positive sizes...]")


def _session(onnxruntime: Any, path: Path, options: Any, graph: str, spec: dict[str, Any]) -> Any:
    """An onnxruntime CPU session of ``path``, checked to have the input and output names of the ``graph`` graph
    and the input shape ``spec`` (its ``preprocessing.json`` entry) says, where the graph fixes a size."""
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own classes (InvalidProtobuf, Fail, ...)
        reason = str(error)[:300]
        raise ExportFolderError(f"{path} is not an ONNX graph onnxruntime can load ({reason}). {FIX}") from None
    names = GRAPH_KEYS[graph]
    got = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    if got != ([names[0]], [names[1]]):
        raise ExportFolderError(
            f"{path} has inputs {got[0]} and outputs {got[1]}; the {graph} graph of an export has "
            f"[{names[0]!r}] -> [{names[1]!r}]. {FIX}"
        )
    graph_shape, json_shape = list(session.get_inputs()[0].shape), spec["inputs"][names[0]]["shape"]
    fixed = [(a, b) for a, b in zip(graph_shape, json_shape) if isinstance(a, int) and isinstance(b, int)]
    if len(graph_shape) != len(json_shape) or any(a != b for a, b in fixed):
        raise ExportFolderError(
            f"{path} takes {names[0]} of shape {graph_shape} but {PREPROCESSING_FILE} says "
            f"{json_shape}: the graph and its description disagree. {FIX}"
        )
    return session


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
