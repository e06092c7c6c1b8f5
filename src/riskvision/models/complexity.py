"""Model size and cost: parameter counts and forward FLOPs per clip."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_parameters", "forward_gflops", "model_summary"]


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(total, trainable)`` parameter counts (buffers such as BN statistics excluded)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def forward_gflops(model: nn.Module, video_shape: Sequence[int]) -> float:
    """Forward GFLOPs (1e9 FLOPs) per clip for an input of ``video_shape`` (``[B, T, C, H, W]``).

    Counted with ``torch.utils.flop_counter.FlopCounterMode``: convolutions and matrix products
    (LSTM gates included), one multiply-add = 2 FLOPs, so this is twice the "GMACs" many papers
    quote; BatchNorm, ReLU, pooling and other elementwise ops are not counted. The total is
    divided by B. The eval-mode forward runs on ``meta`` copies of the parameters and buffers
    (``torch.func.functional_call``): shapes only, no arithmetic, the model itself untouched, and
    the same count on every device (CPU's fused LSTM kernel would otherwise hide from the counter).
    """
    tensors = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    meta = {name: torch.empty_like(t, device="meta") for name, t in tensors.items()}
    video = torch.zeros(tuple(video_shape), device="meta")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            functional_call(model, meta, (video,))
    finally:
        model.train(was_training)
    return counter.get_total_flops() / video_shape[0] / 1e9


def model_summary(model: nn.Module, video_shape: Sequence[int]) -> str:
    """One line for the run log: class, total / trainable parameters and forward GFLOPs per clip."""
    total, trainable = count_parameters(model)
    gflops = forward_gflops(model, video_shape)
    return (
        f"{type(model).__name__}: {total:,} parameters ({trainable:,} trainable), "
        f"{gflops:.2f} GFLOPs per clip of {list(video_shape[1:])} (FLOPs = 2 x MACs)"
    )
