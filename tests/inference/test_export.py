"""riskvision.inference.export and .onnx_backend (and scripts/export.py over them): ONNX graphs of both models
run in onnxruntime give PyTorch's probabilities, at any batch size; preprocessing.json says how to feed them; a
broken export folder is refused naming the file.

The checkpoints come from ``tests/checkpoint_fakes.py`` (tiny nets, random weights, in the format train.py
writes); each model is exported once per module. The measured max abs differences are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_fakes import BILSTM, R3D101, make_checkpoint

from riskvision.checkpoints.loading import RUN_ID_KEY
from riskvision.data.readers import resize_frame
from riskvision.data.transforms import Normalize
from riskvision.inference import Predictor
from riskvision.inference.export import export_checkpoint, export_onnx
from riskvision.models.base import weights_digest
from riskvision.utils import ConfigError

pytest.importorskip("onnxruntime")  # the dev extra installs it (pip install -e '.[dev]')

from riskvision.inference.onnx_backend import ExportFolderError, OnnxBackend, probabilities  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "export.py"
TOLERANCE = 1e-4  # max abs difference of probabilities, fp32
MODELS = {"bilstm": BILSTM, "r3d101": R3D101}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple[Predictor, Path]]:
    """Each model's predictor (the bilstm with a tuned threshold of 0.35) and its export folder."""
    out = {}
    for name, overrides in MODELS.items():
        root = tmp_path_factory.mktemp(name)
        ckpt = make_checkpoint(root, overrides, threshold=(lambda module: 0.35) if name == "bilstm" else None)
        predictor = Predictor.from_checkpoint(ckpt)
        export_onnx(predictor, root / "export", run_id="run-123")
        out[name] = (predictor, root / "export")
    return out


def torch_probabilities(predictor: Predictor, video: torch.Tensor) -> torch.Tensor:
    """The prob columns PyTorch gives (what the predictions table holds): ``[B, C]``."""
    with torch.no_grad():
        logits = predictor.module(video)
    return torch.as_tensor(predictor.task.table_values(logits)).reshape(len(video), -1).float()


def windows(predictor: Predictor, batch: int) -> torch.Tensor:
    torch.manual_seed(batch)
    return torch.randn(batch, predictor.num_frames, 3, *predictor.frame_size)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(MODELS))
def test_onnxruntime_probabilities_match_torch(exported, name: str, batch: int) -> None:
    predictor, folder = exported[name]
    backend = OnnxBackend(folder, intra_op_threads=1)
    video = windows(predictor, batch)
    logits = backend.window(video)
    assert logits.shape == (batch, predictor.task.num_outputs) and logits.dtype == torch.float32
    got = probabilities(logits, backend.preprocessing)
    difference = (got - torch_probabilities(predictor, video)).abs().max().item()
    with torch.no_grad():
        torch_logits = predictor.module(video)
    logit_difference, scale = (logits - torch_logits).abs().max().item(), torch_logits.abs().max().item()
    print(
        f"\n{name} model.onnx batch {batch}: max |p_onnx - p_torch| = {difference:.3g}, "
        f"max |logits_onnx - logits_torch| = {logit_difference:.3g} (max |logit| {scale:.3g})"
    )
    assert difference <= TOLERANCE


@pytest.mark.parametrize("batch", [1, 3])
def test_bilstm_backbone_and_head_match_the_full_graph_and_torch(exported, batch: int) -> None:
    predictor, folder = exported["bilstm"]
    backend = OnnxBackend(folder)
    assert backend.per_frame
    video = windows(predictor, batch)
    features = backend.features(video.flatten(0, 1))  # every frame of every window: N = B * T
    with torch.no_grad():
        torch_features = predictor.module.net.forward_features(video)
    assert features.shape == (batch * predictor.num_frames, 512)
    split = probabilities(backend.sequence(features.view(batch, predictor.num_frames, -1)), backend.preprocessing)
    full = probabilities(backend.window(video), backend.preprocessing)
    reference = torch_probabilities(predictor, video)
    differences = {
        "features vs torch": (features.view_as(torch_features) - torch_features).abs().max().item(),
        "backbone+head vs model.onnx": (split - full).abs().max().item(),
        "backbone+head vs torch": (split - reference).abs().max().item(),
    }
    print(f"\nbilstm batch {batch}: " + ", ".join(f"max |{k}| = {v:.3g}" for k, v in differences.items()))
    assert differences["backbone+head vs model.onnx"] <= TOLERANCE
    assert differences["backbone+head vs torch"] <= TOLERANCE


def test_the_3d_resnet_has_no_per_frame_graphs(exported) -> None:
    predictor, folder = exported["r3d101"]
    backend = OnnxBackend(folder)
    assert not backend.per_frame and not (folder / "backbone.onnx").exists()
    with pytest.raises(ValueError, match="no per-frame graphs"):
        backend.features(torch.zeros(2, 3, *predictor.frame_size))
    with pytest.raises(ValueError, match=r"model.onnx takes video of shape \['batch', 10, 3, 32, 32\]"):
        backend.window(torch.zeros(1, 9, 3, *predictor.frame_size))


@pytest.mark.parametrize("name", list(MODELS))
def test_preprocessing_json_round_trips_and_matches_the_predictor(exported, name: str) -> None:
    predictor, folder = exported[name]
    stored = json.loads((folder / "preprocessing.json").read_text(encoding="utf-8"))
    assert OnnxBackend(folder).preprocessing == stored
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temporary files
    inputs, output = stored["input"], stored["output"]
    assert (inputs["num_frames"], tuple(inputs["frame_size"]), inputs["target_fps"]) == (
        predictor.num_frames,
        predictor.frame_size,
        predictor.target_fps,
    )
    assert stored["onnx_opset"] == 17 and stored["source"] == {
        "checkpoint": str(Path(predictor.name).resolve()),
        "run_id": "run-123",
        "weights_sha256": weights_digest(predictor.module.net),
    }
    assert (output["task"], output["prob_columns"], output["threshold"]) == (
        predictor.task.name,
        predictor.columns,
        pytest.approx(predictor.threshold),
    )
    assert output["probabilities"]["function"] == {"bilstm": "sigmoid", "r3d101": "softmax"}[name]
    assert output["class_names"] == (None if name == "bilstm" else ["Normal", "Warning", "Danger"])
    if name == "bilstm":
        assert output["threshold"] == pytest.approx(0.35) and set(stored["graphs"]) == {"model", "backbone", "head"}
    # the deployed alarm's own parameters, not a sentence (no operating point stored: the decision threshold)
    assert output["alarm"] == {
        "policy": {
            "smoothing": {"kind": "exponential", "time_constant_s": 0.5},
            "rule": {"kind": "hysteresis", "off_ratio": 0.8, "min_on_s": 0.5},
        },
        "threshold": pytest.approx(predictor.threshold),
        "operating_point": None,
    }
    # the stored resize and normalisation rule reproduces the data pipeline's resize_frame + Normalize
    norm = inputs["normalization"]
    assert norm["preset"] == predictor.normalization
    frame = torch.randint(0, 256, (3, 45, 80), dtype=torch.uint8)
    resized = resize_frame(frame, tuple(inputs["frame_size"]))
    by_rule = (resized.float() * norm["scale"] - torch.tensor(norm["mean"])[:, None, None]) / torch.tensor(norm["std"])[
        :, None, None
    ]
    assert torch.allclose(by_rule, Normalize(norm["preset"])(resized), atol=1e-5)


def test_export_script_writes_into_the_run_folder(tmp_path: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "train", BILSTM)
    checkpoint = torch.load(ckpt, weights_only=True)
    torch.save({**checkpoint, RUN_ID_KEY: "train-run-7"}, ckpt)
    out = tmp_path / "out"
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), f"ckpt_path={ckpt}", f"hydra.run.dir={out}"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = {path.name for path in out.iterdir()}
    assert {"model.onnx", "backbone.onnx", "head.onnx", "preprocessing.json", "run.json"} <= written
    backend = OnnxBackend(out)
    predictor = Predictor.from_checkpoint(ckpt)
    assert backend.preprocessing["source"] == {
        "checkpoint": str(ckpt.resolve()),
        "run_id": "train-run-7",
        "weights_sha256": weights_digest(predictor.module.net),
    }
    video = windows(predictor, 2)
    assert (
        probabilities(backend.window(video), backend.preprocessing) - torch_probabilities(predictor, video)
    ).abs().max() <= TOLERANCE


def test_export_checkpoint_refuses_an_unknown_format_before_loading(tmp_path: Path) -> None:
    """scripts/export.py format=torchscript: a ConfigError, printed by the script as one line (exit 1)."""
    with pytest.raises(ConfigError, match=r"format='torchscript' is not an export format; choose one of \['onnx'\]"):
        export_checkpoint(tmp_path / "missing.ckpt", tmp_path / "out", format="torchscript")


def broken(folder: Path, tmp_path: Path, change) -> Path:
    """A copy of the export ``folder`` with ``change(copy)`` applied."""
    copy = tmp_path / "broken"
    shutil.copytree(folder, copy)
    change(copy)
    return copy


def edit_json(change):
    def apply(folder: Path) -> None:
        path = folder / "preprocessing.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(json.dumps(data), encoding="utf-8")

    return apply


BROKEN = [  # (what is done to a good export folder, the error it gives)
    (lambda f: (f / "preprocessing.json").unlink(), r"preprocessing.json is missing: .* is not an ONNX export"),
    (lambda f: (f / "head.onnx").unlink(), r"head.onnx is missing \(.*preprocessing.json lists it\)"),
    (
        lambda f: (f / "preprocessing.json").write_bytes(b"\x80\x04\x95 pickle"),
        r"preprocessing.json is not readable JSON",
    ),
    (
        lambda f: (f / "preprocessing.json").write_text("[1, 2]"),
        r"preprocessing.json: \(the file\)='list' is not a JSON object",
    ),
    (
        lambda f: (f / "preprocessing.json").write_text('{"format": NaN}'),
        r"preprocessing.json is not readable JSON \(NaN",
    ),
    (
        edit_json(lambda d: d["graphs"]["model"].update(file="../../model.onnx")),
        r"graphs.model.file='../../model.onnx' is not a .onnx file name inside the folder",
    ),
    (
        edit_json(lambda d: d["graphs"].pop("head")),
        r"graphs=\['backbone', 'model'\] is not model, optionally with both backbone and head",
    ),
    (edit_json(lambda d: d["input"].update(num_frames="4")), r"input.num_frames='4' is not a positive integer"),
    (edit_json(lambda d: d["input"]["normalization"].update(std=[0, 1, 1])), r"input.normalization=.* is not \{preset"),
    (edit_json(lambda d: d.update(format_version=99)), r"format, format_version=\['riskvision-onnx', 99\]"),
    (lambda f: (f / "model.onnx").write_bytes(b"not a graph"), r"model.onnx is not an ONNX graph onnxruntime can load"),
    # the stored alarm policy (issue 27): refused naming the key
    (edit_json(lambda d: d["output"].pop("alarm")), r"output.alarm=None is not \{policy, threshold, operating_point\}"),
    (
        edit_json(lambda d: d["output"]["alarm"]["policy"]["rule"].update(off_ratio=1.5)),
        r"output.alarm.policy.rule: alarm off_ratio=1.5 is not a number in \[0, 1\]",
    ),
    (
        edit_json(lambda d: d["output"]["alarm"]["policy"]["smoothing"].update(kind="os.system")),
        r"output.alarm.policy.smoothing.kind='os.system' is not one of \['none', 'exponential', 'moving_average'\]",
    ),
    (
        edit_json(lambda d: d["output"]["alarm"]["policy"]["rule"].update(min_on_s="0.5")),
        r"output.alarm.policy.rule.min_on_s='0.5' is not a finite number",
    ),
    (
        edit_json(lambda d: d["output"]["alarm"].update(threshold=1.7)),
        r"output.alarm.threshold=1.7 is not a probability in \(0, 1\] or null",
    ),
    (
        lambda f: shutil.copy(f / "head.onnx", f / "model.onnx"),
        r"model.onnx has inputs \['features'\] and outputs \['logits'\]",
    ),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_a_broken_export_folder_names_the_file_and_the_fix(exported, tmp_path: Path, change, message: str) -> None:
    folder = broken(exported["bilstm"][1], tmp_path, change)
    with pytest.raises(ExportFolderError, match=message) as error:
        OnnxBackend(folder)
    assert "Fix: export the checkpoint again (python scripts/export.py" in str(error.value)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportFolderError, match="is not a folder"):
        OnnxBackend(tmp_path / "nowhere")


@pytest.mark.parametrize("name", list(MODELS))
def test_the_streaming_engine_gives_the_same_results_under_onnxruntime(exported, name):
    """The engine's backend protocol: OnnxBackend (per-frame backbone + head for the bilstm) and TorchBackend
    stream the same frames to the same probabilities."""
    from riskvision.inference.stream import StreamEngine

    predictor, folder = exported[name]
    generator = np.random.default_rng(0)
    frames = [generator.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(25)]
    results = {}
    for backend_name, backend in (("torch", None), ("onnxruntime", OnnxBackend(folder))):
        engine = StreamEngine(predictor, backend=backend, step=2)
        out = [r for i, image in enumerate(frames) for r in engine.push(image, i / 25)] + engine.finish()
        results[backend_name] = out
    torch_out, onnx_out = results["torch"], results["onnxruntime"]
    assert [r.frame for r in torch_out] == [r.frame for r in onnx_out] and len(torch_out) >= 5
    difference = max(abs(a.probs[c] - b.probs[c]) for a, b in zip(torch_out, onnx_out) for c in a.probs)
    assert difference <= TOLERANCE


def test_from_checkpoint_chooses_the_backend_stream_runs_with(tmp_path):
    """backend=onnxruntime exports on first use (or reads export_dir) and streams the same probabilities;
    precision=bf16 stays within 1e-2; unknown values are refused before anything is built."""
    ckpt = make_checkpoint(tmp_path / "bilstm", BILSTM)
    frames = [(np.full((32, 32, 3), 10 * i, np.uint8), i / 10) for i in range(12)]
    reference = [r.p_crash for r in Predictor.from_checkpoint(ckpt).stream(frames)]
    onnx = Predictor.from_checkpoint(ckpt, backend="onnxruntime", export_dir=tmp_path / "export")
    assert np.allclose([r.p_crash for r in onnx.stream(frames)], reference, atol=TOLERANCE)
    assert (tmp_path / "export" / "backbone.onnx").is_file()
    bf16 = Predictor.from_checkpoint(ckpt, precision="bf16")
    assert np.allclose([r.p_crash for r in bf16.stream(frames)], reference, atol=1e-2)
    with pytest.raises(ValueError, match="backend='tensorrt' is not one of"):
        Predictor.from_checkpoint(ckpt, backend="tensorrt")
    with pytest.raises(ValueError, match="precision='fp8' is not one of"):
        Predictor.from_checkpoint(ckpt, precision="fp8")


def test_the_operating_point_travels_from_checkpoint_to_predictor_and_export(tmp_path: Path) -> None:
    """A checkpoint's stored operating point (issue 27) is the predictor's alarm and the export's ``output.alarm``;
    a malformed one is refused naming the key."""
    from riskvision.alarm import AlarmPolicy, ExponentialSmoother, Hysteresis, OperatingPoint
    from riskvision.checkpoints.reading import CheckpointError
    from riskvision.checkpoints.writing import store_operating_point

    ckpt = make_checkpoint(tmp_path, BILSTM)
    policy = AlarmPolicy(ExponentialSmoother(1.0), Hysteresis(off_ratio=0.6, min_on_s=0.3))
    point = OperatingPoint(0.27, 2.0, "val", policy, 1.5, 0.8, 2)
    store_operating_point(ckpt, point.to_dict())
    predictor = Predictor.from_checkpoint(ckpt)
    assert predictor.operating_point == point and predictor.alarm_threshold == 0.27
    alarm = predictor.make_alarm()
    assert (alarm.on, alarm.off, alarm.min_on_s) == (0.27, pytest.approx(0.162), 0.3)
    assert "operating point 0.270 chosen on val for <= 2 false alarms/h" in predictor.describe()
    stored = export_onnx(predictor, tmp_path / "export").preprocessing["output"]["alarm"]
    assert stored == {"policy": policy.to_dict(), "threshold": 0.27, "operating_point": point.to_dict()}
    broken = point.to_dict()
    broken["policy"]["rule"]["min_on_s"] = -1.0
    store_operating_point(ckpt, broken)
    with pytest.raises(
        CheckpointError,
        match=r"tiny.ckpt: stored riskvision_operating_point.policy.rule: alarm "
        r"min_on_s=-1.0 is not a number >= 0",
    ):
        Predictor.from_checkpoint(ckpt)


def test_auto_runs_onnxruntime_on_a_cpu_from_a_cached_export_and_leaves_nothing_in_tmp(tmp_path, monkeypatch, caplog):
    """backend=auto (the default): onnxruntime on a CPU at fp32, exported once into the export cache (not a
    91 MB /tmp/riskvision-onnx-* folder per run), reused by the next predictor; the log says which backend runs."""
    from riskvision.inference import backend_choice
    from riskvision.inference.backends import TorchBackend

    monkeypatch.delenv(backend_choice.BACKEND_ENV, raising=False)
    monkeypatch.setenv(backend_choice.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    ckpt = make_checkpoint(tmp_path / "bilstm", BILSTM)
    frames = [(np.full((32, 32, 3), 10 * i, np.uint8), i / 10) for i in range(12)]
    reference = [r.p_crash for r in Predictor.from_checkpoint(ckpt, backend="torch").stream(frames)]
    with caplog.at_level("INFO", logger="riskvision.inference.backend_factory"):
        auto = Predictor.from_checkpoint(ckpt)
        assert isinstance(auto.make_backend(), OnnxBackend)
    assert "Inference backend: onnxruntime (installed, CPU, fp32" in caplog.text
    assert auto.export_dir == backend_choice.onnx_cache_dir(ckpt)
    assert auto.export_dir.parent.parent == tmp_path / "cache"
    assert sorted(p.name for p in auto.export_dir.parent.iterdir()) == [auto.export_dir.name]  # no half-written one
    assert list((tmp_path / "tmp").iterdir()) == []
    assert np.allclose([r.p_crash for r in auto.stream(frames)], reference, atol=TOLERANCE)
    stamp = (auto.export_dir / "preprocessing.json").stat().st_mtime_ns
    monkeypatch.setattr(
        "riskvision.inference.backend_factory.export_onnx", lambda *a, **k: pytest.fail("exported twice")
    )
    Predictor.from_checkpoint(ckpt).make_backend()  # the cached export is reused
    assert (auto.export_dir / "preprocessing.json").stat().st_mtime_ns == stamp
    shutil.rmtree(auto.export_dir)

    def broken_export(*args, **kwargs):
        raise RuntimeError("the exporter cannot trace this net")

    monkeypatch.setattr("riskvision.inference.backend_factory.export_onnx", broken_export)
    # the export fails: torch runs, and the log says so
    with caplog.at_level("WARNING", logger="riskvision.inference.backend_factory"):
        assert isinstance(Predictor.from_checkpoint(ckpt).make_backend(), TorchBackend)
    assert "Inference backend: torch instead of onnxruntime (the ONNX export failed" in caplog.text


@pytest.mark.parametrize(
    ("device", "precision", "env", "expected"),
    [
        ("cuda", "fp32", None, "torch"),
        ("cpu", "bf16", None, "torch"),
        ("cpu", "fp32", "torch", "torch"),
        ("cuda", "fp32", "onnxruntime", "onnxruntime"),
    ],
)
def test_choose_backend_rule(monkeypatch, device, precision, env, expected):
    from riskvision.inference.backend_choice import BACKEND_ENV, choose_backend

    monkeypatch.delenv(BACKEND_ENV, raising=False)
    if env:
        monkeypatch.setenv(BACKEND_ENV, env)
    backend, why = choose_backend(device, precision)
    assert backend == expected and why


def test_an_export_of_another_checkpoint_or_a_swapped_graph_is_refused(exported, tmp_path: Path) -> None:
    """Issue 31: a whole export of another model, one graph swapped in from it, a graph whose JSON says another
    input size: each refused at load, naming the folder or file and the fix."""
    predictor, folder = exported["bilstm"]
    other = Predictor.from_checkpoint(predictor.name)  # the same model with other weights (another training run)
    with torch.no_grad():
        for parameter in other.module.net.parameters():
            parameter.add_(0.01)
    other_export = tmp_path / "other_export"
    export_onnx(other, other_export)
    predictor.export_dir, predictor.backend_kind = other_export, "onnxruntime"
    try:
        with pytest.raises(ExportFolderError, match=rf"{other_export} is an export of another checkpoint .*Fix: "):
            predictor.make_backend()
        predictor.export_dir = folder
        predictor.make_backend()  # its own export: accepted
    finally:
        predictor.export_dir, predictor.backend_kind = None, "torch"
    swapped = broken(folder, tmp_path, lambda f: shutil.copy(other_export / "backbone.onnx", f / "backbone.onnx"))
    with pytest.raises(ExportFolderError, match=r"backbone.onnx is not the graph this export wrote"):
        OnnxBackend(swapped)
    resized = broken(
        folder,
        tmp_path / "r",
        edit_json(lambda d: d["graphs"]["backbone"]["inputs"]["frames"].update(shape=["batch", 3, 64, 64])),
    )
    with pytest.raises(
        ExportFolderError,
        match=r"backbone.onnx takes frames of shape \['batch', 3, 32, 32\] but "
        r"preprocessing.json says \['batch', 3, 64, 64\]",
    ):
        OnnxBackend(resized)
