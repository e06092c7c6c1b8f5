"""compare.py and the notebook on synthetic run folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from checkpoint_fakes import BILSTM, make_checkpoint, write_video
from evaluation_fakes import write_fake_run
from nbclient import NotebookClient

from riskvision.evaluation.report import comparison_table, find_runs, load_runs, to_markdown
from riskvision.metrics.catalog import METRICS, lookup

ROOT = Path(__file__).resolve().parents[2]
MINMAX_ROW = "DoTA frame AUC, per-video min-max (DoTA convention) [95% CI]"
NEXAR_ROW = "Nexar mAP (AP at 0.5 / 1.0 / 1.5 s before the event)"
DEPLOYMENT_CI_ROWS = (
    "false alarms / h of normal driving at threshold [95% CI]",
    "recall at the false-alarm cap [95% CI]",
    "mTTA (s) at the false-alarm cap [95% CI]",
)


def test_find_runs_recursively_and_names_unique(fake_runs, tmp_path):
    folders = fake_runs()
    assert find_runs([tmp_path / "runs", folders[0]]) == sorted(folders)
    twins = [write_fake_run(tmp_path / seed / "bilstm", "binary", 1.0) for seed in ("seed1", "seed2")]
    assert [run.name for run in load_runs(twins)] == ["bilstm (seed1/bilstm)", "bilstm (seed2/bilstm)"]
    with pytest.raises(FileNotFoundError, match="no run folder"):
        find_runs([ROOT / "conf"])


def test_comparison_table_has_runs_ci_and_paired_difference(fake_runs):
    runs = load_runs(fake_runs())
    table = comparison_table(runs, n_boot=100)
    assert list(table.columns) == ["bilstm", "resnet3d101", "bilstm − resnet3d101"]
    assert table.loc["task"].tolist()[:2] == ["binary", "multiclass"]
    assert "[" in table.loc["window AUROC [95% CI]", "bilstm"]
    diff = table.loc["DoTA frame AUC [95% CI]", "bilstm − resnet3d101"]
    assert diff.startswith("+") and "P(>0)=" in diff  # the skill-2 run beats the skill-1 run
    markdown = to_markdown(table)
    assert markdown.count("\n") == len(table) + 1


def test_in_domain_next_to_cross_domain_keeps_each_ci_and_pairs_nothing(fake_runs):
    runs = load_runs(fake_runs())
    runs[1].table["video_id"] = "ccd_" + runs[1].table["video_id"].astype(str)  # another data set's videos
    runs[1].metrics["run"]["data"] = "data=ccd"
    table = comparison_table(runs, n_boot=50)
    difference = table["bilstm − resnet3d101"]
    assert difference["window AUROC [95% CI]"] == "no shared videos (other data): not paired"
    assert "[" in table.loc["window AUROC [95% CI]", "resnet3d101"]  # its own CI stays
    assert table.loc["evaluated on", "resnet3d101"] == "test split of data=ccd"
    assert table.loc["evaluated on", "bilstm"] == "test split of the training data set"  # the split, never "training"


def test_comparison_rows_name_each_convention(fake_runs):
    runs = load_runs(fake_runs())
    table = comparison_table(runs, n_boot=20)
    metrics = runs[0].metrics
    assert table.loc["mTTA (s), UString convention", "bilstm"] == f"{metrics['anticipation_ustring']['mtta']:.2f}"
    assert table.loc["mTTA (s), riskvision convention", "bilstm"] == f"{metrics['anticipation']['mtta']:.2f}"
    assert table.loc["P@R80, DSTA convention", "bilstm"] == f"{metrics['anticipation_ustring']['precision_r80']:.3f}"
    assert "[" in table.loc[MINMAX_ROW, "bilstm"] and "P(>0)=" in table.loc[MINMAX_ROW, "bilstm − resnet3d101"]


def test_comparison_rows_of_nexar_and_deployment(fake_runs):
    runs = load_runs(fake_runs())
    table = comparison_table(runs[:1], n_boot=20)
    metrics = runs[0].metrics
    assert table.loc[NEXAR_ROW, "bilstm"].startswith(f"{metrics['nexar']['map']:.3f} (")
    for label in DEPLOYMENT_CI_ROWS:
        assert "[" in table.loc[label, "bilstm"], label
    assert "cap 1 / h" in table.loc["threshold at the false-alarm cap on test", "bilstm"]
    # the deployed alarm: its policy, and the operating point chosen on validation with its test metrics
    assert (
        table.loc["alarm policy (deployed: replayed per video)", "bilstm"]
        == "exponential (time_constant_s 0.5); on for 0.5 s, off below 0.8 x threshold"
    )
    assert "on val, step 1)" in table.loc["alarm operating point (chosen on validation)", "bilstm"]
    for label in ("false alarms / h at the operating point [95% CI]", "recall at the operating point [95% CI]"):
        assert "[" in table.loc[label, "bilstm"], label


@pytest.mark.parametrize(
    "label",
    [
        "mTTA (s), UString convention",
        MINMAX_ROW,
        NEXAR_ROW,
        "threshold at the false-alarm cap on test",
        *DEPLOYMENT_CI_ROWS,
        "alarm policy (deployed: replayed per video)",
        "alarm operating point (chosen on validation)",
    ],
)
def test_rows_of_an_older_metrics_json_read_as_missing(label):
    old = {"run": {"task": "binary"}, "counts": {}, "ci": {}, "anticipation": {}}  # before these metrics existed
    spec = next(spec for spec in METRICS if spec.label == label)
    assert spec.fmt(lookup(old, spec.path)) == "—"


def test_compare_script_writes_report(fake_runs, tmp_path):
    fake_runs()
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/compare.py",
            f"runs=[{tmp_path / 'runs'}]",
            f"hydra.run.dir={out}",
            "n_boot=50",
            "wandb.mode=offline",
            "review.enabled=true",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    assert "wandb:" not in console and "logged to the offline wandb run" in console  # one line of ours, not wandb's 7
    log = (out / "compare.log").read_text()  # the job log holds what the console showed
    assert "| window AUROC [95% CI] |" in log and "Headline metrics:" in log and "window AUROC" in log
    report = (out / "comparison.md").read_text()
    assert "[review page](review/index.html)" in report and (out / "review" / "index.html").is_file()
    assert "| window AUROC [95% CI] |" in report and "bilstm − resnet3d101" in report
    for figure in ("roc_pr", "deployment_curve", "reliability", "confusion_matrices", "timelines"):
        assert (out / f"{figure}.png").stat().st_size > 1000
        assert f"]({figure}.png)" in report


def test_notebook_executes_on_synthetic_runs(fake_runs, tmp_path, monkeypatch):
    folders = fake_runs()
    metrics = json.loads((folders[0] / "metrics.json").read_text())  # the first run's model, as eval.py records it
    metrics["run"]["checkpoint"] = str(make_checkpoint(tmp_path / "ckpt", BILSTM))
    (folders[0] / "metrics.json").write_text(json.dumps(metrics))
    monkeypatch.setenv(
        "RISKVISION_VIDEO", str(write_video(tmp_path / "drive.mp4", seconds=1, fps=10, width=48, height=32))
    )
    monkeypatch.setenv("RISKVISION_RUNS", os.pathsep.join(map(str, folders)))
    monkeypatch.setenv("RISKVISION_COMPARE_OUT", str(tmp_path / "nb"))
    monkeypatch.setenv("RISKVISION_N_BOOT", "30")
    notebook = nbformat.read(ROOT / "notebooks" / "compare.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    markdown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert any("bilstm − resnet3d101" in text for text in markdown)
    frames = [o["data"]["text/plain"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("window_auroc" in text and "frame_auc_minmax" in text for text in frames)  # every metric as numbers
    assert len(list((tmp_path / "nb").glob("*.png"))) == 6  # five comparison figures (a deployment curve), a timeline
    assert (tmp_path / "nb" / "video_timeline.png").stat().st_size > 1000
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "tiny.ckpt: binary P(crash)" in printed and "windows of 4 frames of 32x32" in printed


def test_report_without_review_tells_the_command(fake_runs, tmp_path):
    from riskvision.evaluation.report import load_runs, review_line

    runs = load_runs(fake_runs())
    line = review_line(runs, tmp_path)
    assert f"python scripts/review.py runs=[{runs[0].folder},{runs[1].folder}] videos=[DATA_ROOT]" in line
