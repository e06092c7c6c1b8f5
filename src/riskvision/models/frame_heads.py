"""Temporal heads: what a per-frame net (``frame_nets.FrameNet``) runs over its frames' features.

Every head maps per-frame features ``[B, T, D]`` to clip logits ``[B, K]``. A CAUSAL head (:attr:`TemporalHead.causal`,
the unidirectional GRU / LSTM) also gives logits at every frame from the frames up to it (:meth:`RecurrentHead.
forward_frames`, ``[B, T, K]``) and advances one frame at a time from a carried state (:meth:`RecurrentHead.step`):
a stream costs O(1) per frame, and its scores equal the one-pass ones.

- ``bilstm``: :class:`BiLSTMHead`, the bilstm seed's head (bidirectional LSTM, readout ``last`` / ``mean`` /
  ``attention``, Linear);
- ``gru`` / ``lstm``: :class:`RecurrentHead`, a unidirectional recurrent net with a Linear on every frame's output
  (clip logits: the last frame's); causal;
- ``transformer``: :class:`TransformerHead`, a small temporal transformer encoder (learned positions, mean over
  time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

__all__ = [
    "HEADS",
    "AttentionReadout",
    "BiLSTMHead",
    "LastHiddenReadout",
    "MeanReadout",
    "RecurrentHead",
    "TemporalHead",
    "TransformerHead",
    "build_head",
]


class LastHiddenReadout(nn.Module):
    """The seed's readout: last layer's final forward and backward hidden states, concatenated.

    ``outputs [B, T, 2H]``, ``h_n [2 * num_layers, B, H]`` -> ``[B, 2H]``.
    """

    def forward(self, outputs: Tensor, h_n: Tensor) -> Tensor:
        return torch.cat((h_n[-2], h_n[-1]), dim=1)


class MeanReadout(nn.Module):
    """Mean of the LSTM outputs over time: ``outputs [B, T, 2H]`` -> ``[B, 2H]``."""

    def forward(self, outputs: Tensor, h_n: Tensor) -> Tensor:
        return outputs.mean(dim=1)


class AttentionReadout(nn.Module):
    """Attention pooling over time: softmax over ``Linear(2H, 1)`` scores weights the outputs.

    ``outputs [B, T, 2H]`` -> ``[B, 2H]``; :meth:`weights` gives the ``[B, T]`` weights.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def weights(self, outputs: Tensor) -> Tensor:
        return torch.softmax(self.score(outputs).squeeze(-1), dim=1)

    def forward(self, outputs: Tensor, h_n: Tensor) -> Tensor:
        return torch.einsum("bt,btd->bd", self.weights(outputs), outputs)


READOUTS = {
    "last": lambda dim: LastHiddenReadout(),
    "mean": lambda dim: MeanReadout(),
    "attention": AttentionReadout,
}


class TemporalHead(nn.Module):
    """Per-frame features ``[B, T, D]`` -> clip logits ``[B, K]``. ``causal``: the head also has
    ``forward_frames`` and ``step`` (see :class:`RecurrentHead`)."""

    causal: ClassVar[bool] = False


class BiLSTMHead(TemporalHead):
    """The bilstm seed's sequence model: bidirectional LSTM -> readout -> dropout -> ``Linear(2H, K)``.

    Args:
        feature_dim: D, the per-frame feature size.
        num_outputs: K, logits per clip.
        hidden_size: LSTM hidden size per direction (H).
        num_layers: stacked bidirectional layers.
        dropout: on the readout vector, and between LSTM layers when ``num_layers > 1``.
        readout: ``last`` (final forward and backward hidden states, the seed), ``mean`` over time or ``attention``.
    """

    def __init__(
        self,
        feature_dim: int,
        num_outputs: int,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        readout: str = "last",
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"bilstm head readout={readout!r}; expected one of {list(READOUTS)}")
        self.lstm = nn.LSTM(
            feature_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.readout = READOUTS[readout](2 * hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, num_outputs)

    def forward(self, features: Tensor) -> Tensor:
        """``features [B, T, D]`` -> ``[B, K]``."""
        outputs, (h_n, _) = self.lstm(features)
        return self.head(self.dropout(self.readout(outputs, h_n)))


class RecurrentHead(TemporalHead):
    """A unidirectional GRU or LSTM with ``Linear(H, K)`` on every frame's output: causal, logits at every frame
    from the frames up to it. The clip's logits are its last frame's.

    Args:
        feature_dim: D, the per-frame feature size.
        num_outputs: K, logits per frame.
        cell: ``gru`` or ``lstm``.
        hidden_size: hidden size H.
        num_layers: stacked layers.
        dropout: on every frame's output before the Linear, and between layers when ``num_layers > 1``.
    """

    causal = True
    CELLS: ClassVar[dict[str, type[nn.Module]]] = {"gru": nn.GRU, "lstm": nn.LSTM}

    def __init__(
        self,
        feature_dim: int,
        num_outputs: int,
        cell: str = "gru",
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"recurrent head cell={cell!r}; expected one of {list(self.CELLS)}")
        self.cell = cell
        self.rnn = self.CELLS[cell](
            feature_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_outputs)

    def step(self, features: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """One frame for each of B streams: ``features [B, D]`` and the state after the previous frame (``None``
        before the first) -> logits ``[B, K]`` of this frame and the state after it (GRU: ``h [L, B, H]``;
        LSTM: ``(h, c)``). Work per call does not depend on how many frames came before."""
        outputs, state = self.rnn(features[:, None], state)
        return self.head(self.dropout(outputs[:, 0])), state

    def forward_frames(self, features: Tensor) -> Tensor:
        """Logits at every frame, each from the frames up to it: ``features [B, T, D]`` -> ``[B, T, K]``."""
        outputs, _ = self.rnn(features)
        return self.head(self.dropout(outputs))

    def forward(self, features: Tensor) -> Tensor:
        """The last frame's logits: ``features [B, T, D]`` -> ``[B, K]``."""
        outputs, _ = self.rnn(features)
        return self.head(self.dropout(outputs[:, -1]))


class TransformerHead(TemporalHead):
    """A small temporal transformer: ``Linear(D, d_model)`` + learned position embedding -> ``num_layers``
    pre-norm encoder layers (``num_heads`` heads, feed-forward ``4 * d_model``) -> mean over time -> LayerNorm ->
    ``Linear(d_model, K)``. Not causal (every frame attends to every frame of the window).

    Args:
        feature_dim: D; num_outputs: K.
        hidden_size: d_model.
        num_layers: encoder layers.
        dropout: inside the encoder layers and before the Linear.
        num_heads: attention heads (must divide ``hidden_size``).
        max_frames: the longest window it takes (the position table's length).
    """

    def __init__(
        self,
        feature_dim: int,
        num_outputs: int,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        num_heads: int = 4,
        max_frames: int = 256,
    ) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"transformer head hidden_size={hidden_size} is not divisible by num_heads={num_heads}")
        self.max_frames = int(max_frames)
        self.project = nn.Linear(feature_dim, hidden_size)
        self.position = nn.Parameter(torch.zeros(1, self.max_frames, hidden_size))
        nn.init.trunc_normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            hidden_size, num_heads, 4 * hidden_size, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_outputs)

    def forward(self, features: Tensor) -> Tensor:
        """``features [B, T, D]`` (T <= ``max_frames``) -> ``[B, K]``."""
        t = features.shape[1]
        if t > self.max_frames:
            raise ValueError(
                f"transformer head got {t} frames, more than its max_frames={self.max_frames}. Fix: "
                f"model.net.head_options.max_frames={t} (or more), or fewer model.inputs.num_frames"
            )
        x = self.encoder(self.project(features) + self.position[:, :t])
        return self.head(self.dropout(self.norm(x.mean(dim=1))))


#: Head name (``model.net.head``) -> class.
HEADS: dict[str, type[TemporalHead]] = {
    "bilstm": BiLSTMHead,
    "gru": RecurrentHead,
    "lstm": RecurrentHead,
    "transformer": TransformerHead,
}


def build_head(
    name: str,
    feature_dim: int,
    num_outputs: int,
    hidden_size: int,
    num_layers: int,
    dropout: float,
    options: Mapping[str, Any] | None = None,
) -> TemporalHead:
    """The head ``name`` (:data:`HEADS`) over ``feature_dim``-d features with ``num_outputs`` logits; ``options``:
    head-specific arguments (``readout`` for ``bilstm``, ``num_heads`` / ``max_frames`` for ``transformer``)."""
    if name not in HEADS:
        raise ValueError(f"model.net.head={name!r} is not a temporal head. Fix: one of {sorted(HEADS)}")
    options = dict(options or {})
    cell = {"cell": name} if name in ("gru", "lstm") else {}
    try:
        return HEADS[name](
            feature_dim, num_outputs, hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, **options, **cell
        )
    except TypeError as error:
        raise ValueError(
            f"model.net.head_options={options} do not fit head {name!r} ({error}). "
            f"Fix: remove the keys {HEADS[name].__name__} does not take"
        ) from None
