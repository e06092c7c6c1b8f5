"""riskvision.tasks.CrashAnticipation and anticipation_loss (issue 26, item 4), and RiskModule training a causal net
with it."""

from __future__ import annotations

import math

import pytest
import torch

from riskvision.module import RiskModule
from riskvision.tasks import BinaryCrash, CrashAnticipation, anticipation_loss

NET = {"_target_": "riskvision.models.FrameNet", "backbone": "resnet18", "head": "gru", "hidden_size": 8}
TASK = {"_target_": "riskvision.tasks.CrashAnticipation"}
OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3}
WINDOW = {"sampler": "window", "num_frames": 3}


def test_loss_by_hand_on_three_frames():
    """Frames t = 0, 1, 2 with logits 0, ln 3, -ln 3 (p = 1/2, 3/4, 1/4), accident at frame 2, 2 frames per second.
    Crash clip: weights exp(-max(0, 2 - t) / 2) = e^-1, e^-1/2, 1 on -log p = ln 2, ln 4/3, ln 4.
    Normal clip (same logits): -log(1 - p) = ln 2, ln 4, ln 4/3, unweighted. Mean over the 6 frames."""
    logits = torch.tensor([[0.0, math.log(3), -math.log(3)]] * 2)
    loss = anticipation_loss(
        logits,
        positive=torch.tensor([1, 0]),
        frames=torch.tensor([[0, 1, 2]] * 2),
        toa=torch.tensor([2, -1]),
        fps=torch.tensor([2.0, 2.0]),
    )
    crash = math.exp(-1) * math.log(2) + math.exp(-0.5) * math.log(4 / 3) + 1 * math.log(4)
    normal = math.log(2) + math.log(4) + math.log(4 / 3)
    assert loss.item() == pytest.approx((crash + normal) / 6, abs=1e-6)


def test_frames_after_the_accident_and_without_one_weigh_one():
    logits = torch.tensor([[0.5, -1.0, 2.0]])
    plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    for toa in (0, -1):  # the accident at the first frame; a crash video without annotated start
        loss = anticipation_loss(
            logits, torch.tensor([1]), torch.tensor([[3, 4, 5]]), torch.tensor([toa]), torch.tensor([10.0])
        )
        assert loss.item() == pytest.approx(plain.item(), abs=1e-6)


def test_frame_loss_reads_each_frames_time_from_the_batch():
    """A window of T = 3 consecutive frames ending at ``end_frame``: frame i is ``max(0, end - 2 + i)``."""
    task = CrashAnticipation()
    logits = torch.randn(2, 3, 1)
    batch = {
        "crash": torch.tensor([1, 1]),
        "end_frame": torch.tensor([9, 1]),
        "anomaly_start": torch.tensor([10, 4]),
        "fps": torch.tensor([10.0, 10.0]),
    }
    expected = anticipation_loss(
        logits, batch["crash"], torch.tensor([[7, 8, 9], [0, 0, 1]]), batch["anomaly_start"], batch["fps"]
    )
    assert torch.equal(task.frame_loss(logits, batch), expected)
    assert task.per_frame and not BinaryCrash.per_frame and task.name == "binary"
    with pytest.raises(ValueError, match=r"pos_weight=2\.0: .* Fix: model\.task\.pos_weight=null"):
        CrashAnticipation(pos_weight=2.0)


def test_module_refuses_a_non_causal_net_or_non_consecutive_clips():
    with pytest.raises(ValueError, match=r"needs a causal per-frame net; FrameNet is none\. Fix: model=causal_gru"):
        RiskModule({**NET, "head": "bilstm"}, TASK, OPTIMIZER, inputs=WINDOW)
    with pytest.raises(ValueError, match=r"model\.inputs\.sampler='uniform'.* Fix: model\.inputs\.sampler=window"):
        RiskModule(NET, TASK, OPTIMIZER, inputs={**WINDOW, "sampler": "uniform"})


def test_module_trains_every_frame_on_videos_and_on_cached_features():
    """The training loss is the task's frame loss over forward_frames; the clip metrics get the last frame's logits;
    a batch of cached features gives the same loss as the batch of frames they came from."""
    torch.manual_seed(0)
    module = RiskModule(NET, TASK, OPTIMIZER, inputs=WINDOW)
    video = torch.randn(2, 3, 3, 32, 32)
    batch = {
        "video": video,
        "crash": torch.tensor([1, 0]),
        "end_frame": torch.tensor([5, 2]),
        "anomaly_start": torch.tensor([6, -1]),
        "fps": torch.tensor([10.0, 10.0]),
    }
    module.log = lambda *args, **kwargs: None
    loss = module.training_step(batch, 0)
    frame_logits = module.net.forward_frames(module.net.forward_features(video))
    torch.testing.assert_close(loss, module.task.frame_loss(frame_logits, batch))
    loss.backward()
    assert module.net.head.rnn.weight_ih_l0.grad is not None
    features = {**{k: v for k, v in batch.items() if k != "video"}, "features": module.net.forward_features(video)}
    torch.testing.assert_close(module.training_step(features, 0), loss)
    torch.testing.assert_close(module.logits(batch), frame_logits[:, -1])
