"""benchmarks.live_load (scripts/benchmark_live.py) runs end to end at tiny sizes; timings are never
asserted."""

import math

from benchmarks.live_load import run


def test_quick_run_reports_every_row(capsys):
    rows = run(seconds=1.0, busy=1, frame_size=32)
    assert [name.split(".")[0] for name, *_ in rows] == ["1", "2", "3", "4", "5"]
    assert all(fps > 0 and math.isfinite(fps) for _, fps, *_ in rows[:4]) and rows[4][1] is None
    assert "of file" in rows[1][2] and "dropped" in rows[2][3] and "row 3 is" in rows[3][2]
    assert rows[4][2].endswith("ms")
    assert "SUMMARY (1 busy processes" in capsys.readouterr().out
