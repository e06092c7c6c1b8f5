"""Streaming FrameNet models. A causal per-frame model (model=causal_gru): the recurrent state is carried from frame
to frame, each frame costs one backbone frame and one head step (counted), and the results equal the one-pass scores of
the decoded file (eval.py's ``predict_table_per_frame(every_frame=True)``) within 1e-5. model=frame_net with any head
streams eval.py's sliding windows (backbone once per frame, head per window), as the bilstm does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checkpoint_fakes import make_checkpoint, write_video
from offline_reference import decode_video, score_windows
from test_stream import decoded, stream_all

from riskvision.data.transforms import Normalize
from riskvision.inference import Predictor
from riskvision.inference.backends import TorchBackend
from riskvision.inference.smoothing import NoSmoothing
from riskvision.inference.stream import StreamEngine

CAUSAL = [
    "model=causal_gru",
    "model.inputs.frame_size=32",
    "model.inputs.num_frames=4",
    "model.net.hidden_size=8",
    "model.pretrained.source=null",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("causal")
    return {
        "ckpt": make_checkpoint(root / "causal", CAUSAL),
        "clip": write_video(root / "clip.mp4", seconds=3, fps=30, width=96, height=64),
    }  # 90 frames -> 30


@pytest.fixture(scope="module")
def predictor(files) -> Predictor:
    return Predictor.from_checkpoint(files["ckpt"], batch_size=3)


class CountingBackend(TorchBackend):
    """TorchBackend that counts the frames its backbone sees and the frames each head call advances."""

    def __init__(self, predictor: Predictor) -> None:
        super().__init__(predictor)
        self.backbone_frames, self.head_frames = 0, []

    def features(self, frames):
        self.backbone_frames += len(frames)
        return super().features(frames)

    def step(self, features, state=None):
        self.head_frames.append(features.shape[0])
        return super().step(features, state)

    def sequence(self, features):
        raise AssertionError("a recurrent stream runs no windows")


@torch.no_grad()
def one_pass(predictor: Predictor, frames: torch.Tensor) -> np.ndarray:
    """P(crash) of every frame from ONE pass of the causal head over the whole decoded video."""
    net = predictor.module.net.eval()
    features = net.forward_features(Normalize(predictor.normalization)(frames)[None])
    return predictor.task.table_values(net.forward_frames(features)[0])


@pytest.mark.parametrize("step", [1, 4])
def test_stream_carries_the_state_and_equals_one_pass(files, predictor, step):
    backend = CountingBackend(predictor)
    assert backend.recurrent and predictor.task.per_frame
    engine = StreamEngine(predictor, backend=backend, step=step, smoothing=NoSmoothing())
    results = stream_all(engine, decoded(files["clip"]))
    offline = decode_video(files["clip"], predictor.frame_size, predictor.target_fps)
    scores = one_pass(predictor, offline)
    assert [r.frame for r in results] == list(range(0, len(offline), step))
    np.testing.assert_allclose([r.p_crash for r in results], scores[::step], atol=1e-5)
    # O(1) per frame: every target frame once through the backbone and once through a one-frame head step
    assert backend.backbone_frames == len(offline) == len(backend.head_frames) == 30
    assert set(backend.head_frames) == {1} and engine.buffered == 0


def test_the_state_starts_again_after_reset(files, predictor):
    engine = StreamEngine(predictor, smoothing=NoSmoothing())
    frames = decoded(files["clip"])[:10]
    first = [r.p_crash for r in stream_all(engine, frames)]
    engine.reset()
    assert [r.p_crash for r in stream_all(engine, frames)] == first


def test_a_backend_without_recurrent_state_is_refused(predictor):
    class WindowsOnly:
        per_frame = True

    with pytest.raises(ValueError, match=r"carried recurrent state, which WindowsOnly does not run\. Fix: "):
        StreamEngine(predictor, backend=WindowsOnly())


@pytest.mark.parametrize(
    ("backbone", "head"), [("mobilenet_v3_large", "transformer"), ("regnet_y_800mf", "gru"), ("resnet18", "bilstm")]
)
def test_frame_net_streams_eval_windows(files, tmp_path, backbone, head):
    overrides = [
        "model=frame_net",
        f"model.net.backbone={backbone}",
        f"model.net.head={head}",
        "model.inputs.frame_size=32",
        "model.inputs.num_frames=4",
        "model.net.hidden_size=8",
        "model.pretrained.source=null",
    ]
    predictor = Predictor.from_checkpoint(make_checkpoint(tmp_path, overrides), batch_size=3)
    backend = TorchBackend(predictor)
    assert backend.per_frame and not backend.recurrent
    offline = decode_video(files["clip"], predictor.frame_size, predictor.target_fps)
    ends, values = score_windows(predictor, offline, step=2)
    results = stream_all(StreamEngine(predictor, step=2, smoothing=NoSmoothing()), decoded(files["clip"]))
    assert [r.frame for r in results] == ends.tolist()
    np.testing.assert_allclose([r.p_crash for r in results], values, atol=1e-5)


def test_export_refuses_a_model_whose_stream_carries_state(predictor, tmp_path):
    from riskvision.inference.export import export_onnx

    with pytest.raises(ValueError, match=r"carried recurrent state .* Fix: stream it with backend=torch"):
        export_onnx(predictor, tmp_path / "export")
    assert not (tmp_path / "export").exists()  # nothing half-written
