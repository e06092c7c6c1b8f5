"""Adding a dataset is one source file and one YAML file: a test-only source trains and is evaluated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from riskvision.evaluation.table import find_predictions, read_predictions

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "fixtures" / "toy_source"


def test_a_source_from_one_py_and_one_yaml_trains_and_is_evaluated(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOY), os.environ.get("PYTHONPATH", "")]), "CI": "true"}
    command = [
        sys.executable,
        "train.py",
        "data=common",
        "+data/source@data.sources.toy=toy",
        f"hydra.searchpath=[file://{TOY / 'conf'}]",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path}",
        "model=bilstm",
        "model.inputs.frame_size=16",
        "model.inputs.num_frames=4",
        "model.net.hidden_size=4",
        "model.pretrained.source=null",
        "data.loader.num_workers=0",
        "data.split.val_fraction=0.5",
        "debug=fast_dev_run",
        "test=true",
        "evaluation.step=5",
        "evaluation.n_boot=10",
        "evaluation.latency_repeats=0",
        "evaluation.probes=[none]",
        "extras.print_config=false",
    ]
    proc = subprocess.run(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["counts"]["sources"] == {"toy": 2} and metrics["counts"]["crash_videos"] == 1
    video_ids = read_predictions(find_predictions(tmp_path))["video_id"]
    assert video_ids.str.startswith("toy0").sum() == 2 * 4  # 2 test clips x 4 windows (step 5)
