"""``TapConv3d``: an ``nn.Conv3d`` whose CPU backward runs tap by tap when its output grid is small.

Why: the deep stages of a 3D-ResNet at small frame sizes work on tiny grids (layer3 of the
3D-ResNet-101 on 10 frames of 32x32 is ``[B, 256, 2, 2, 2]``, layer4 ``[B, 512, 1, 1, 1]``). There
oneDNN's convolution backward is 8-20x slower than its forward (measured on 2 cores, batch 16: 60 ms
against 7 ms for a 256-channel 3x3x3 convolution on a 2x2x2 grid), and most of the 27 kernel taps
only ever meet zero padding. Tap by tap, the backward is one pair of matrix products per tap that
touches real input, over exactly the output positions where it does.

What it computes: the same gradients as ``nn.Conv3d`` (within float32 rounding; the forward is
``F.conv3d`` itself), for ``groups=1``, ``dilation=1`` and zero padding. The tap path runs only on
CPU, outside autocast, when autograd will need a gradient and the output grid has at most ``max_tap_outputs``
positions (``T' x H' x W'``); everything else is ``nn.Conv3d.forward`` unchanged. Parameters and
state-dict names are those of ``nn.Conv3d``, so checkpoints load either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MAX_TAP_OUTPUTS", "TapConv3d", "conv3d_tap_backward"]

#: Output grids up to this many positions (``T' x H' x W'``) take the tap path. Measured on 2 cores,
#: batch 16, 3x3x3 kernels, backward against oneDNN's forward + backward: 2.1-2.6x faster on 2x2x2 grids,
#: 6-30x on 1x1x1; about even on 3x4x4 (48 positions), so larger grids stay on oneDNN.
MAX_TAP_OUTPUTS = 8

_Triple = tuple[int, int, int]


def _tap_spans(size_in: int, size_out: int, kernel: int, stride: int, pad: int):
    """For each tap ``a`` of one axis that meets real input: ``(a, output slice, input slice)``.

    Output position ``o`` reads input ``o * stride + a - pad``; the slices hold the outputs for which
    that index lies in ``[0, size_in)`` and the inputs they read (with the stride)."""
    spans = []
    for a in range(kernel):
        first = max(0, -((a - pad) // stride))  # ceil((pad - a) / stride)
        last = min(size_out - 1, (size_in - 1 + pad - a) // stride)
        if first <= last:
            start = first * stride + a - pad
            spans.append((a, slice(first, last + 1), slice(start, last * stride + a - pad + 1, stride)))
    return spans


def conv3d_tap_backward(
    x: Tensor, weight: Tensor, grad_out: Tensor, stride: _Triple, padding: _Triple, needs: tuple[bool, bool]
) -> tuple[Tensor | None, Tensor | None]:
    """Gradients of ``F.conv3d(x, weight, stride=stride, padding=padding)`` w.r.t. ``x`` and ``weight``.

    Shapes: ``x [B, C, T, H, W]``, ``weight [O, C, kT, kH, kW]``, ``grad_out [B, O, T', H', W']``.
    ``needs``: which of the two to compute (the other comes back as ``None``)."""
    out_ch, in_ch = weight.shape[:2]
    spans = [
        _tap_spans(x.shape[2 + d], grad_out.shape[2 + d], weight.shape[2 + d], stride[d], padding[d]) for d in range(3)
    ]
    taps = [(t, h, w) for t in spans[0] for h in spans[1] for w in spans[2]]
    # Tap-major views: with channels-last weights (``model.execution.memory_format=channels_last``) a tap's
    # [O, C] matrix is a plain strided view, so nothing is gathered; contiguous weights are copied per tap.
    w_taps = weight.permute(2, 3, 4, 0, 1)  # [kT, kH, kW, O, C]
    go = grad_out.permute(0, 2, 3, 4, 1)  # [B, T', H', W', O]
    xc = x.permute(0, 2, 3, 4, 1)  # [B, T, H, W, C]
    grad_w = torch.zeros_like(weight) if needs[1] else None
    grad_w_taps = grad_w.permute(2, 3, 4, 0, 1) if grad_w is not None else None
    grad_x = torch.zeros_like(x) if needs[0] else None
    grad_xc = grad_x.permute(0, 2, 3, 4, 1) if grad_x is not None else None
    for (a, out_t, in_t), (b, out_h, in_h), (c, out_w, in_w) in taps:
        g = go[:, out_t, out_h, out_w].reshape(-1, out_ch)
        if grad_w_taps is not None:
            grad_w_taps[a, b, c] = g.t() @ xc[:, in_t, in_h, in_w].reshape(-1, in_ch)
        if grad_xc is not None:
            region = grad_xc[:, in_t, in_h, in_w]
            region += (g @ w_taps[a, b, c]).view(region.shape)
    return grad_x, grad_w


class _TapConv3dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, stride: _Triple, padding: _Triple):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return F.conv3d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight = ctx.saved_tensors  # grad_out keeps its layout: the tap slices are reshaped as they are
        needs = (ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        grad_x, grad_w = conv3d_tap_backward(x, weight, grad_out, ctx.stride, ctx.padding, needs)
        grad_b = grad_out.sum((0, 2, 3, 4)) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b, None, None


class TapConv3d(nn.Conv3d):
    """``nn.Conv3d`` with the tap-by-tap CPU backward for output grids of at most ``max_tap_outputs``
    positions (module docstring). ``[B, C, T, H, W] -> [B, O, T', H', W']``, as ``nn.Conv3d``."""

    max_tap_outputs = MAX_TAP_OUTPUTS

    def _output_positions(self, x: Tensor) -> int:
        positions = 1
        for d in range(3):
            span = x.shape[2 + d] + 2 * self.padding[d] - self.kernel_size[d]
            positions *= span // self.stride[d] + 1
        return positions

    def _takes_tap_path(self, x: Tensor) -> bool:
        return (
            x.device.type == "cpu"
            and torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu")
            and x.dtype == self.weight.dtype
            and (x.requires_grad or self.weight.requires_grad)
            and self.groups == 1
            and self.dilation == (1, 1, 1)
            and self.padding_mode == "zeros"
            and not isinstance(self.padding, str)
            and self._output_positions(x) <= self.max_tap_outputs
        )

    def forward(self, x: Tensor) -> Tensor:
        if self._takes_tap_path(x):
            return _TapConv3dFunction.apply(x, self.weight, self.bias, tuple(self.stride), tuple(self.padding))
        return super().forward(x)
