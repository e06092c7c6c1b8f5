"""predict_video's timeline (issue 32 item 8): the level strip has no gap between levels and the legend covers
neither the curves nor the strip."""

from __future__ import annotations

import numpy as np
import pandas as pd
from checkpoint_fakes import R3D101, make_checkpoint

from riskvision.inference import Predictor
from riskvision.inference.outputs import level_spans, write_stream_timeline


def test_level_spans_tile_the_time_axis_without_gaps():
    times = np.arange(10) * 0.1
    levels = np.array(["Normal"] * 3 + ["Warning"] * 2 + ["Danger"] * 3 + ["Normal"] * 2)
    spans = level_spans(times, levels)
    pieces = sorted(piece for runs in spans.values() for piece in runs)
    for (start, length), (next_start, _) in zip(pieces, pieces[1:]):
        assert np.isclose(start + length, next_start)  # each run ends where the next one starts
    assert np.isclose(pieces[0][0], 0.0) and np.isclose(sum(length for _, length in pieces), 1.0)
    assert [len(spans[name]) for name in ("Normal", "Warning", "Danger")] == [2, 1, 1]


def test_the_legend_sits_below_the_axes(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    predictor = Predictor.from_checkpoint(make_checkpoint(tmp_path, R3D101), backend="torch")
    times = np.arange(0, 4, 0.1)
    p = np.clip(np.exp(-(((times - 2) / 0.5) ** 2)), 0, 1)
    table = pd.DataFrame(
        {
            "time_s": times,
            "p_crash": p,
            "smoothed": p,
            "alarm": p > 0.6,
            "level": np.where(p > 0.6, "Danger", np.where(p > 0.3, "Warning", "Normal")),
        }
    )
    for column in predictor.columns:
        table[column] = p / len(predictor.columns)
    seen = {}
    close = plt.close

    def measure_then_close(fig=None):  # the figure as it was saved
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        seen.update(
            legend=ax.get_legend().get_window_extent(renderer),
            axes=ax.get_window_extent(renderer),
            bars=len(ax.collections),
        )
        close(fig)

    monkeypatch.setattr(plt, "close", measure_then_close)
    write_stream_timeline(tmp_path / "t.png", table, predictor, "t.mp4")
    assert seen["legend"].y1 <= seen["axes"].y0  # below the plot: the strip at the top and the curves stay visible
    assert seen["bars"] >= 3  # one broken bar per level
