"""TapConv3d: the tap-by-tap CPU backward gives nn.Conv3d's gradients, and runs only where it should."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from riskvision.models import ResNet3D, tap_conv
from riskvision.models.tap_conv import TapConv3d, conv3d_tap_backward


def reference_grads(x, weight, bias, grad_out, stride, padding):
    x = x.detach().requires_grad_()
    weight = weight.detach().requires_grad_()
    inputs = (x, weight) if bias is None else (x, weight, bias.detach().requires_grad_())
    out = F.conv3d(x, weight, inputs[2] if bias is not None else None, stride, padding)
    return torch.autograd.grad(out, inputs, grad_out)


@pytest.mark.parametrize(
    ("in_shape", "out_ch", "kernel", "stride", "padding"),
    [
        ((3, 8, 2, 2, 2), 6, (3, 3, 3), (1, 1, 1), (1, 1, 1)),  # layer3 at 32x32: every tap meets input
        ((3, 8, 1, 1, 1), 6, (3, 3, 3), (1, 1, 1), (1, 1, 1)),  # layer4: only the centre tap does
        ((3, 8, 2, 2, 2), 6, (3, 3, 3), (2, 2, 2), (1, 1, 1)),  # layer4's strided entry: 8 taps
        ((2, 4, 3, 4, 4), 5, (3, 3, 3), (2, 2, 2), (1, 1, 1)),  # odd sizes, stride 2
        ((2, 4, 2, 3, 2), 5, (1, 1, 1), (1, 1, 1), (0, 0, 0)),  # 1x1x1 kernel
        ((2, 4, 2, 2, 2), 5, (1, 1, 1), (2, 2, 2), (0, 0, 0)),  # strided 1x1x1 shortcut
        ((2, 3, 3, 4, 4), 5, (3, 7, 7), (1, 2, 2), (1, 3, 3)),  # a stem-like kernel
        ((2, 3, 4, 3, 3), 5, (3, 2, 2), (1, 1, 1), (0, 0, 0)),  # no padding, even kernel
    ],
)
@pytest.mark.parametrize("channels_last", [False, True])
def test_tap_backward_equals_conv3d_gradients(in_shape, out_ch, kernel, stride, padding, channels_last) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(in_shape, generator=gen, dtype=torch.float64)
    weight = torch.randn(out_ch, in_shape[1], *kernel, generator=gen, dtype=torch.float64)
    if channels_last:
        x = x.to(memory_format=torch.channels_last_3d)
        weight = weight.to(memory_format=torch.channels_last_3d)
    grad_out = torch.randn(F.conv3d(x, weight, None, stride, padding).shape, generator=gen, dtype=torch.float64)
    expected_x, expected_w = reference_grads(x, weight, None, grad_out, stride, padding)
    grad_x, grad_w = conv3d_tap_backward(x, weight, grad_out, stride, padding, (True, True))
    torch.testing.assert_close(grad_x, expected_x, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad_w, expected_w, rtol=1e-10, atol=1e-10)
    only_w = conv3d_tap_backward(x, weight, grad_out, stride, padding, (False, True))
    assert only_w[0] is None
    torch.testing.assert_close(only_w[1], expected_w, rtol=1e-10, atol=1e-10)


def test_module_backward_with_bias_matches_nn_conv3d_and_takes_the_tap_path() -> None:
    torch.manual_seed(0)
    plain = nn.Conv3d(6, 4, kernel_size=3, stride=2, padding=1, bias=True).double()
    tap = TapConv3d(6, 4, kernel_size=3, stride=2, padding=1, bias=True).double()
    tap.load_state_dict(plain.state_dict())
    x = torch.randn(2, 6, 3, 3, 3, dtype=torch.float64)  # output grid 2x2x2 = 8 positions
    assert tap._takes_tap_path(x.requires_grad_())
    outputs = []
    for conv in (plain, tap):
        xi = x.detach().requires_grad_()
        out = conv(xi)
        out.square().sum().backward()
        outputs.append((out.detach(), xi.grad, conv.weight.grad, conv.bias.grad))
    for got, expected in zip(outputs[1], outputs[0]):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    assert type(tap(x).grad_fn).__name__ == "_TapConv3dFunctionBackward"  # not ConvolutionBackward
    assert gradcheck_ok(tap, torch.randn(1, 6, 2, 2, 2, dtype=torch.float64, requires_grad=True))


def gradcheck_ok(conv: nn.Module, x: torch.Tensor) -> bool:
    return torch.autograd.gradcheck(lambda inp: conv(inp), (x,), eps=1e-6, atol=1e-6)


def test_tap_path_only_on_small_grids_with_grad_outside_autocast() -> None:
    conv = TapConv3d(4, 4, kernel_size=3, padding=1, bias=False)
    small = torch.randn(1, 4, 2, 2, 2)  # 8 output positions
    large = torch.randn(1, 4, 3, 3, 3)  # 27
    assert conv._takes_tap_path(small)  # the weight wants a gradient
    assert not conv._takes_tap_path(large)
    with torch.no_grad():
        assert not conv._takes_tap_path(small)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not conv._takes_tap_path(small)
    conv.requires_grad_(False)
    assert not conv._takes_tap_path(small)  # nothing needs a gradient
    assert conv._takes_tap_path(small.requires_grad_())
    assert not conv._takes_tap_path(small.double())  # the dtypes must agree
    conv.max_tap_outputs = 0
    assert not conv._takes_tap_path(small)
    assert type(conv(large.requires_grad_()).grad_fn).__name__ == "ConvolutionBackward0"


def test_resnet3d_tap_backward_gives_the_same_step_as_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole 3D-ResNet-50 (small widths) whose layer3/layer4 grids are tiny: the same loss and gradients
    with the tap backward on (the default) and off, and the option reaches every convolution."""
    video = torch.randn(2, 8, 3, 16, 16, dtype=torch.float64)  # layer2's grid is 2x2x2, layer3's and layer4's 1x1x1
    target = torch.tensor([0, 2])
    calls = []
    real = tap_conv.conv3d_tap_backward
    monkeypatch.setattr(tap_conv, "conv3d_tap_backward", lambda *args: calls.append(1) or real(*args))
    grads, tap_calls = [], []
    for max_outputs in (8, 0):
        torch.manual_seed(0)
        net = ResNet3D(depth=50, widen_factor=0.125, num_outputs=3, tap_backward_max_outputs=max_outputs).double()
        convs = [m for m in net.modules() if isinstance(m, nn.Conv3d)]
        assert convs and all(isinstance(m, TapConv3d) and m.max_tap_outputs == max_outputs for m in convs)
        F.cross_entropy(net(video), target).backward()
        grads.append({name: p.grad for name, p in net.named_parameters()})
        tap_calls.append(len(calls))
        calls.clear()
    assert tap_calls[0] > 20 and tap_calls[1] == 0  # layer2-4's convolutions, then none
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(
            grads[0][name], grads[1][name], rtol=1e-9, atol=1e-9, msg=name
        )  # gradients reach 1e3 here


def test_tap_conv_state_dict_is_nn_conv3d_s() -> None:
    plain = nn.Conv3d(3, 5, kernel_size=3, padding=1, bias=False)
    tap = TapConv3d(3, 5, kernel_size=3, padding=1, bias=False)
    assert plain.state_dict().keys() == tap.state_dict().keys()
    tap.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(1, 3, 4, 4, 4)
    torch.testing.assert_close(tap(x), plain(x))
