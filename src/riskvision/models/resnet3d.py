"""3D-ResNets for clips (Hara, Kataoka & Satoh, "Can Spatiotemporal 3D CNNs Retrace the History of
2D CNNs and ImageNet?", CVPR 2018), written clean-room from the paper and the reference vectors in
``tests/fixtures/r3d``.

Module names equal those of Hara's ``models/resnet.py`` (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0`` ..., ``fc``) so the released Kinetics checkpoints load strictly once their
``module.`` prefix is removed (see :mod:`riskvision.models.pretrained`).

Layout: :meth:`ResNet3D.forward` takes the project's ``[B, T, C, H, W]`` and permutes to the
``[B, C, T, H, W]`` that ``Conv3d`` wants at its entrance; :meth:`ResNet3D.forward_stages` takes
``[B, C, T, H, W]`` directly (the fixtures' layout).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from riskvision.models.base import ClipNet
from riskvision.models.pretrained import WHERE_TO_GET, PretrainedWeights, read_checkpoint
from riskvision.models.registry import register_model
from riskvision.models.tap_conv import MAX_TAP_OUTPUTS, TapConv3d

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet3D",
    "ZeroPadShortcut",
    "resnet3d10",
    "resnet3d18",
    "resnet3d34",
    "resnet3d50",
    "resnet3d101",
    "resnet3d152",
    "resnet3d200",
]

BASE_WIDTHS = (64, 128, 256, 512)
#: Input preset of each Hara checkpoint format (``riskvision.models.pretrained``).
HARA_NORMALIZATION = {"hara-2017": "activitynet", "hara-2020": "kinetics"}
STAGE_NAMES = ("stem_relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "pooled", "logits")


def conv3x3x3(in_planes: int, out_planes: int, stride: int = 1) -> TapConv3d:
    """3x3x3 convolution, padding 1, no bias (a BN follows)."""
    return TapConv3d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1x1(in_planes: int, out_planes: int, stride: int = 1) -> TapConv3d:
    """1x1x1 convolution, no bias (a BN follows)."""
    return TapConv3d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Shortcut 'A': parameter-free identity with strided subsampling and zero channel padding.

    ``[B, C_in, T, H, W] -> [B, C_out, ceil(T/s), ceil(H/s), ceil(W/s)]``; channels ``C_in..C_out``
    are zeros. Hara's version concatenates ``out.data`` and so blocks the gradient through the
    shortcut; the forward pass here is identical, but gradients flow.
    """

    def __init__(self, out_planes: int, stride: int) -> None:
        super().__init__()
        self.out_planes = out_planes
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = x[:, :, :: self.stride, :: self.stride, :: self.stride]
        return F.pad(out, (0, 0, 0, 0, 0, 0, 0, self.out_planes - out.shape[1]))

    def extra_repr(self) -> str:
        return f"out_planes={self.out_planes}, stride={self.stride}"


class BasicBlock(nn.Module):
    """Two 3x3x3 convolutions; ``[B, in_planes, T, H, W] -> [B, planes, T/s, H/s, W/s]``."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3x3(planes, planes)
        self.bn2 = nn.BatchNorm3d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1x1 -> 3x3x3 (carries the stride) -> 1x1x1;
    ``[B, in_planes, T, H, W] -> [B, 4 * planes, T/s, H/s, W/s]``."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = conv3x3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = conv1x1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = type[BasicBlock] | type[Bottleneck]

# depth -> (block, blocks per layer), as in Hara's generate_model
DEPTHS: dict[int, tuple[Block, tuple[int, int, int, int]]] = {
    10: (BasicBlock, (1, 1, 1, 1)),
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
    200: (Bottleneck, (3, 24, 36, 3)),
}


class ResNet3D(ClipNet):
    """Hara et al.'s 3D-ResNet: ``video [B, T, C, H, W] -> logits [B, num_outputs]``.

    Stem: Conv3d(C, 64w, (conv1_t_size, 7, 7), stride (conv1_t_stride, 2, 2)) -> BN -> ReLU ->
    MaxPool3d(3, stride 2, padding 1) (unless ``no_max_pool``). Four layers of ``DEPTHS[depth]``
    blocks with widths ``64/128/256/512 * widen_factor``; layers 2-4 stride 2 in T, H and W.
    Head: global average pool over (T, H, W) -> Dropout -> Linear. BN eps 1e-5.

    Shapes for the defaults (depth 101, input ``[B, 10, 3, 224, 224]``): stem ``[B, 64, 10, 112,
    112]``, maxpool ``[B, 64, 5, 56, 56]``, layer1 ``[B, 256, 5, 56, 56]``, layer2 ``[B, 512, 3,
    28, 28]``, layer3 ``[B, 1024, 2, 14, 14]``, layer4 ``[B, 2048, 1, 7, 7]``, pooled ``[B, 2048]``.

    Args:
        depth: one of ``DEPTHS`` (10, 18, 34, 50, 101, 152, 200).
        shortcut_type: ``"A"`` (parameter-free zero padding; the seed's table model) or ``"B"``
            (1x1x1 conv + BN projection; the released Kinetics checkpoints).
        widen_factor: multiplies every width (the fixtures use 0.125 and 0.0625).
        num_outputs: logits per clip, the classifier's width (``task.num_outputs``).
        conv1_t_size: temporal kernel of conv1 (padding ``conv1_t_size // 2``).
        conv1_t_stride: temporal stride of conv1.
        no_max_pool: drop the stem's max-pool (no 2x reduction in T, H, W there).
        n_input_channels: input channels C.
        dropout: dropout probability before ``fc`` (0 = Hara's model).
        zero_init_residual: start the last BN of every block (``bn2`` of a BasicBlock, ``bn3`` of a
            Bottleneck) at weight 0, so each residual branch starts as the identity (Goyal et al.
            2017, torchvision's option of the same name). Off in Hara's model; it matters only for
            training from random weights: a random 101-layer net with it off diverged on the
            synthetic quickstart (training loss 2.7-3.9, validation loss 15-311).
        tap_backward_max_outputs: every convolution is a :class:`~riskvision.models.tap_conv.TapConv3d`;
            those whose output grid has at most this many positions (``T' x H' x W'``) compute their
            CPU backward tap by tap, which at small frame sizes is 2-15x faster than oneDNN's (layer3
            and layer4 at 32x32 frames). The same gradients within float32 rounding; 0 = oneDNN
            everywhere. At the seed's 224x224 no grid is that small, so nothing changes there.

    Attribute ``min_frames``: the smallest clip length T for which every temporally strided stage
    (conv1 when ``conv1_t_stride > 1``, the max-pool, layer2-4) still receives at least two frames.
    Below it some stride-2 stage is fed a single frame: its 3-tap temporal kernel sees that frame
    and zero padding only, so the deeper layers do no temporal modelling at all (any T >= 1 runs,
    but the net degenerates towards a per-frame 2D model). 9 for the defaults (T 9 -> 5 -> 5 -> 3 ->
    2 -> 1 from the stem to layer4).
    """

    default_normalization = "kinetics"

    def __init__(
        self,
        depth: int = 101,
        shortcut_type: str = "B",
        widen_factor: float = 1.0,
        num_outputs: int = 3,
        conv1_t_size: int = 7,
        conv1_t_stride: int = 1,
        no_max_pool: bool = False,
        n_input_channels: int = 3,
        dropout: float = 0.0,
        zero_init_residual: bool = False,
        tap_backward_max_outputs: int = MAX_TAP_OUTPUTS,
    ) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"ResNet3D depth={depth} is not one of {sorted(DEPTHS)}")
        if shortcut_type not in ("A", "B"):
            raise ValueError(f"ResNet3D shortcut_type={shortcut_type!r}; expected 'A' or 'B'")
        block, layers = DEPTHS[depth]
        widths = [int(w * widen_factor) for w in BASE_WIDTHS]
        self.min_frames = _min_frames(conv1_t_stride, strided_stages=3 + (not no_max_pool))

        self.conv1 = TapConv3d(
            n_input_channels,
            widths[0],
            kernel_size=(conv1_t_size, 7, 7),
            stride=(conv1_t_stride, 2, 2),
            padding=(conv1_t_size // 2, 3, 3),
            bias=False,
        )
        self.bn1 = nn.BatchNorm3d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if no_max_pool else nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        in_planes = (widths[0], *(w * block.expansion for w in widths[:3]))
        self.layer1 = _make_layer(block, in_planes[0], widths[0], layers[0], 1, shortcut_type)
        self.layer2 = _make_layer(block, in_planes[1], widths[1], layers[1], 2, shortcut_type)
        self.layer3 = _make_layer(block, in_planes[2], widths[2], layers[2], 2, shortcut_type)
        self.layer4 = _make_layer(block, in_planes[3], widths[3], layers[3], 2, shortcut_type)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(widths[3] * block.expansion, num_outputs)
        self._init_weights(zero_init_residual)
        for m in self.modules():
            if isinstance(m, TapConv3d):
                m.max_tap_outputs = tap_backward_max_outputs

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _stem(self, x: Tensor) -> Tensor:
        return self.relu(self.bn1(self.conv1(x)))

    def _pool(self, x: Tensor) -> Tensor:
        return torch.flatten(self.avgpool(x), 1)

    def _head(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(x))

    def _stages(self) -> list[tuple[str, Callable[[Tensor], Tensor]]]:
        stages = (self._stem, self.maxpool, self.layer1, self.layer2, self.layer3, self.layer4)
        return list(zip(STAGE_NAMES, (*stages, self._pool, self._head)))

    def forward_stages(self, x: Tensor) -> dict[str, Tensor]:
        """Every stage's activation for ``x [B, C, T, H, W]``: ``stem_relu``, ``maxpool``,
        ``layer1``..``layer4`` (``[B, C', T', H', W']``), ``pooled [B, D]``, ``logits [B, K]``."""
        out = {}
        for name, stage in self._stages():
            x = stage(x)
            out[name] = x
        return out

    def forward(self, video: Tensor) -> Tensor:
        """``video [B, T, C, H, W]`` (normalised) -> ``logits [B, num_outputs]``."""
        x = video.permute(0, 2, 1, 3, 4)
        for _, stage in self._stages():
            x = stage(x)
        return x

    @classmethod
    def read_pretrained(cls, source: str | Path, config: Mapping[str, Any]) -> PretrainedWeights:
        """A Hara checkpoint or a ResNet3D state dict file, and the input preset its format implies."""
        if str(source) in ("torchvision", "imagenet"):
            raise ValueError(
                f"ResNet3D has no torchvision weights (source={source!r}); pass a Hara checkpoint file. {WHERE_TO_GET}"
            )
        state, fmt, notes = read_checkpoint(Path(source))
        return PretrainedWeights(
            str(source), fmt, HARA_NORMALIZATION.get(fmt, cls.default_normalization), state, notes=notes
        )


def _make_layer(
    block: Block, in_planes: int, planes: int, blocks: int, stride: int, shortcut_type: str
) -> nn.Sequential:
    """``blocks`` blocks; the first carries the stride and, when the shape changes, the shortcut
    (``[B, in_planes, T, H, W] -> [B, planes * expansion, T/stride, H/stride, W/stride]``)."""
    out_planes = planes * block.expansion
    downsample: nn.Module | None = None
    if stride != 1 or in_planes != out_planes:
        downsample = (
            ZeroPadShortcut(out_planes, stride)
            if shortcut_type == "A"
            else nn.Sequential(conv1x1x1(in_planes, out_planes, stride), nn.BatchNorm3d(out_planes))
        )
    rest = [block(out_planes, planes) for _ in range(1, blocks)]
    return nn.Sequential(block(in_planes, planes, stride, downsample), *rest)


def _min_frames(conv1_t_stride: int, strided_stages: int) -> int:
    """Smallest T whose stride-2 stages (``strided_stages`` of them after conv1) each get >= 2
    frames: working back from the last one, a stride-2 stage needs ``2n - 1`` frames to emit
    ``n``; conv1 (odd kernel, same padding) needs ``(n - 1) * s + 1`` to emit ``n``."""
    after_conv1 = 2 ** (strided_stages - 1) + 1
    return (after_conv1 - 1) * conv1_t_stride + 1


@register_model("resnet3d10")
def resnet3d10(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
    """ResNet3D-10 (BasicBlock [1, 1, 1, 1])."""
    return ResNet3D(depth=10, num_outputs=num_outputs, **kwargs)


@register_model("resnet3d18")
def resnet3d18(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
    """ResNet3D-18 (BasicBlock [2, 2, 2, 2])."""
    return ResNet3D(depth=18, num_outputs=num_outputs, **kwargs)


@register_model("resnet3d34")
def resnet3d34(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
    """ResNet3D-34 (BasicBlock [3, 4, 6, 3])."""
    return ResNet3D(depth=34, num_outputs=num_outputs, **kwargs)


@register_model("resnet3d50")
def resnet3d50(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
    """ResNet3D-50 (Bottleneck [3, 4, 6, 3])."""
    return ResNet3D(depth=50, num_outputs=num_outputs, **kwargs)


@register_model("resnet3d101")
def resnet3d101(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
    """ResNet3D-101 (Bottleneck [3, 4, 23, 3]); the seed's risk classifier."""
    return ResNet3D(depth=101, num_outputs=num_outputs, **kwargs)


@register_model("resnet3d152")
def resnet3d152(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
    """ResNet3D-152 (Bottleneck [3, 8, 36, 3])."""
    return ResNet3D(depth=152, num_outputs=num_outputs, **kwargs)


@register_model("resnet3d200")
def resnet3d200(*, num_outputs: int, **kwargs: Any) -> ResNet3D:
    """ResNet3D-200 (Bottleneck [3, 24, 36, 3])."""
    return ResNet3D(depth=200, num_outputs=num_outputs, **kwargs)
