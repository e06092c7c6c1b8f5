"""The zoo rows of scripts/benchmark_inference.py and scripts/benchmark_train.py (issue 26 item 8): one row per
registered model at tiny sizes, through the scripts' command lines; timings are never asserted."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from benchmarks.inference import zoo_models, zoo_overrides
from benchmarks.training import _compose
from riskvision.models import create_model, list_models
from riskvision.models.complexity import count_parameters
from riskvision.models.registry import UnknownModelError

ROOT = Path(__file__).resolve().parents[2]


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_option_names_every_registered_model_none_or_a_list():
    assert zoo_models("all") == list_models() and zoo_models("none") == []
    assert zoo_models("r3d_18, causal_gru") == ["r3d_18", "causal_gru"]
    with pytest.raises(UnknownModelError, match="Did you mean 'r3d_18'"):
        zoo_models("r3d_19")


def test_recipe_size_is_the_models_own_clip_and_small_the_built_in_datas(tmp_path):
    def clip(model: str, size: str) -> tuple[int, int]:
        inputs = _compose(zoo_overrides(model, size, tmp_path)).model.inputs
        return inputs.num_frames, inputs.frame_size

    assert clip("r3d_18", "recipe") == (16, 112) and clip("r3d_18", "small") == (8, 32)
    assert clip("causal_gru", "recipe") == (32, 224) and clip("bilstm", "recipe") == (64, 224)
    with pytest.raises(ValueError, match="size='huge' is not one of"):
        zoo_overrides("r3d_18", "huge", tmp_path)


def test_inference_zoo_reports_a_row_per_model_with_its_parameters_and_share(capsys):
    models = ["r3d_18", "causal_gru"]  # a window net, a per-frame recurrent one
    rows = script("benchmark_inference").main(["--quick", "--no-seed-rows", "--models", ",".join(models)])
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table[-2:]] == models
    for model, line in zip(models, table[-2:]):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[1] == "4 x 32"  # the quick clip
        assert int(cells[2].replace(",", "")) == count_parameters(create_model(model, num_outputs=1))[0]
        gflops, stream, bound = float(cells[3]), float(cells[4]), float(cells[5])
        assert gflops > 0 and stream > 0 and bound > 0 and int(cells[6].rstrip("%")) > 0
        assert (cells[7] != "") == (model != "r3d_18")  # the backbone-only bound of per-frame nets
    assert rows is None and "ZOO (recipe size" in out


def test_inference_zoo_builds_a_transformers_model_from_a_random_local_folder(capsys, tmp_path):
    pytest.importorskip("transformers", reason="the optional extra [hf] is not installed")
    script("benchmark_inference").main(["--quick", "--no-seed-rows", "--models", "videomae", "--size", "small"])
    line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `videomae`")][-1]
    assert "| 4 x 32 |" in line


def test_training_zoo_reports_the_loop_against_its_model_only_bound(capsys):
    script("benchmark_train").main(["--quick", "--no-seed-rows", "--models", "r3d_18"])
    out = capsys.readouterr().out
    row = [line for line in out.splitlines() if line.startswith("| zoo r3d_18 small (4 frames of 32, batch 8)")]
    assert row and "of its model-only bound" in row[0] and "33,166,785 params" in row[0]
    fps = float(row[0].split("|")[2])
    assert fps > 0 and math.isfinite(fps)
