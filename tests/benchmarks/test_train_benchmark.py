"""benchmarks.training (scripts/benchmark_train.py) runs end to end at tiny sizes and reports every
row; timings are never asserted."""

import math

from benchmarks.training import VARIANTS, run


def test_quick_run_reports_every_variant_of_both_models(capsys):
    rows = run(quick=True, threads=1)
    names = [name for name, *_ in rows]
    for model in ("bilstm", "resnet3d101"):
        # the tap-by-tap backward is the 3D-ResNet's; its oneDNN twin is measured for it alone
        variants = ["fp32", "channels_last"] + (["onednn_backward"] if model == "resnet3d101" else [])
        mine = [name.split(": ", 1)[1] for name in names if name.startswith(f"{model} quickstart")]
        assert mine[0].startswith("loader (") and mine[1:-1] == variants and mine[-1].startswith("loader vs")
        seed = [name.split(": ", 1)[1] for name in names if name.startswith(f"{model} seed")]
        assert seed[1 : 1 + len(variants)] == variants
        cached = [name for name in seed if name.startswith("cached features")]
        # the bilstm's frozen backbone is cached; the 3D-ResNet has no per-frame features to cache
        assert [name.split(",")[1].split("(")[0].strip() for name in cached] == (
            ["extraction", "training"] if model == "bilstm" else []
        )
    cached = {name.rsplit(", ", 1)[1].split(" (")[0]: row for row in rows for name in [row[0]] if "cached" in name}
    assert (
        "of the backbone's inference bound" in cached["extraction"][2] and "x fp32 on pixels" in cached["training"][2]
    )
    assert all(fps is None or (fps > 0 and math.isfinite(fps)) for _, fps, *_ in rows)
    assert all("model-only bound" in row[3] for row in rows if row[0].endswith(VARIANTS))
    assert VARIANTS == ("fp32", "bf16", "channels_last", "compile", "onednn_backward")  # a full run measures all
    assert "SUMMARY" in capsys.readouterr().out


def test_quickstart_variants_can_be_chosen_and_fp32_stays_the_base(capsys):
    rows = run(quick=True, threads=1, models=("resnet3d101",), settings=("quickstart",), variants=("onednn_backward",))
    assert [name.split(": ", 1)[1] for name, *_ in rows][1:3] == ["fp32", "onednn_backward"]
    assert rows[2][2].endswith("x fp32")
