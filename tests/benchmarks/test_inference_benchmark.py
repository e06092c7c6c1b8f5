"""benchmarks.inference (scripts/benchmark_inference.py) runs end to end at tiny sizes and prints every
row of the report; timings are never asserted."""

import math

from benchmarks.inference import run


def test_quick_run_reports_every_row(capsys):
    rows = run(quick=True, seconds=1, threads=1)
    names = [name for name, *_ in rows]
    assert [name.split(".")[0] for name in names] == ["1"] * 2 + ["2"] * 6 + ["3"] * len(
        [n for n in names if n.startswith("3.")]
    ) + ["4"] * 2 + ["5"]
    variants = ["fp32", "bf16 autocast", "channels_last", "channels_last + bf16", "onnxruntime (CPU)"]
    assert [name.rsplit(", ", 1)[1] for name in names[2:7]] == variants
    assert "picked: fastest variant within 0.01 of fp32 -> " in names[7]
    assert all(fps is None or (fps > 0 and math.isfinite(fps)) for _, fps, *_ in rows)
    assert "max abs dP vs naive" in rows[0][3] and float(rows[0][3].rsplit(" ", 1)[1]) < 1e-4
    assert all(float(row[3].rsplit(" ", 1)[1]) < 1e-2 for row in rows[2:7])  # every variant close to fp32
    assert names[-4].startswith("3. resnet3d101: smallest step with >= 10 frames/s -> ")
    assert rows[-3][2].endswith("MiB") and rows[-2][2].endswith("MiB") and "vs 1 s" in rows[-2][3]
    assert "latency p50" in rows[-1][2] and "dropped" in rows[-1][3]
    out = capsys.readouterr().out
    assert "SUMMARY" in out and "| measurement | frames/s | result | notes |" in out
