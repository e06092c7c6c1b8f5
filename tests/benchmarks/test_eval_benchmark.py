"""benchmarks.eval_scoring (scripts/benchmark_eval.py) runs end to end at tiny sizes; timings are never
asserted, the agreement of the two scoring paths is."""

import math

from benchmarks.eval_scoring import run


def test_quick_run_reports_both_paths_and_their_agreement(capsys):
    rows = run(quick=True, threads=1)
    assert [name.split(",")[1].strip() for name, *_ in rows] == [
        "backbone once per frame (8-frame windows of 32x32",
        "whole net on every window (8 windows)",
    ]
    assert all(speed > 0 and math.isfinite(speed) for _, speed, *_ in rows)
    assert "x** the whole net per window (target >= 20x)" in rows[0][2]
    assert float(rows[0][3].split("whole net ")[1].split(" ")[0]) < 1e-5  # the same probabilities
    assert "SUMMARY" in capsys.readouterr().out
