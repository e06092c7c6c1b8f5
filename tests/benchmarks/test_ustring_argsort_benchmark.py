"""benchmarks.ustring_argsort (scripts/measure_ustring_argsort.py): its re-implementation of UString's / DSTA's
``evaluation`` with a stable sort gives riskvision's ``ustring`` convention exactly, on every score shape it prints;
the table has one row per shape. The quicksort gap itself is never asserted (it depends on numpy and the CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.ustring_argsort import SHAPES, run, ustring_evaluation
from riskvision.evaluation.anticipation import VideoScores, anticipation_metrics


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_stable_sort_gives_the_ustring_convention(shape):
    pred, labels, toa, fps = SHAPES[shape](np.random.default_rng(0))
    frames = pred.shape[1]
    videos = [
        VideoScores(
            np.arange(frames), scores, bool(crash), int(t) if crash else -1, frames if crash else -1, fps, frames
        )
        for scores, crash, t in zip(pred, labels, toa)
    ]
    ours = anticipation_metrics(videos, convention="ustring")
    theirs = ustring_evaluation(pred, labels, toa, fps, kind="stable")
    assert theirs == pytest.approx(
        {"ap": ours["ap"], "mtta": ours["mtta"], "tta_r80": ours["tta_r80"], "p_r80": ours["precision_r80"]},
        rel=1e-12,
        abs=1e-12,
    )


def test_the_table_has_a_row_per_shape(capsys):
    run(trials=1, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("numpy ") and "over 1 score sets" in lines[0]
    assert [line[:28].strip() for line in lines[2:]] == list(SHAPES)
    assert all(line.endswith("/1") for line in lines[2:])
