"""A run folder is owned by one run at a time, and files that belong together carry one run id (issue 11, item 3)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from riskvision.evaluation.predict import write_evaluation
from riskvision.evaluation.report import load_runs
from riskvision.evaluation.summary import RunInfo
from riskvision.runs import RUN_FILE, RunFolderError, abandon_run_folder, claim_run_folder, release_run_folder
from riskvision.utils.run_folder import resumes_run
from tests.evaluation.evaluation_fakes import synthetic_table, task_of, write_fake_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "run"
    yield path
    release_run_folder(path)


def claim_in_another_process(folder: Path, resume: bool = False) -> subprocess.CompletedProcess:
    code = ("import sys; from riskvision.runs import claim_run_folder\n"
            f"try: print(claim_run_folder({str(folder)!r}, 'train', {resume}).run_id)\n"
            "except Exception as error: sys.exit(f'{type(error).__name__}: {error}')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_a_folder_in_use_is_refused_to_another_process_and_free_after(folder):
    run = claim_run_folder(folder, "train")
    assert claim_run_folder(folder, "eval") is run  # idempotent within the process
    record = json.loads((folder / RUN_FILE).read_text())
    assert record["run_id"] == run.run_id and record["kind"] == "train"
    for resume in (False, True):  # even a resume waits for the running process to end
        refused = claim_in_another_process(folder, resume)
        assert refused.returncode != 0
        assert f"RunFolderError: {folder.resolve()} is in use by another run (pid " in refused.stderr
        assert "Fix: hydra.run.dir=<another folder>" in refused.stderr
    release_run_folder(folder)
    resumed = claim_in_another_process(folder, resume=True)  # the lock went with the holder
    assert resumed.returncode == 0 and resumed.stdout.strip() == run.run_id


def test_a_folder_that_holds_a_finished_run_is_refused_unless_the_run_is_resumed(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["scripts/eval.py", "ckpt_path=x"])
    claim_run_folder(tmp_path / "eval", "eval")
    release_run_folder(tmp_path / "eval")
    with pytest.raises(RunFolderError, match=r"already holds eval run .*timestamped folder\)$"):  # no resume hint
        claim_run_folder(tmp_path / "eval", "eval")
    monkeypatch.setattr(sys, "argv", ["train.py", "model=bilstm"])
    first = claim_run_folder(folder, "train")
    release_run_folder(folder)
    with pytest.raises(RunFolderError, match=rf"already holds train run {first.run_id} .* Fix: a new hydra.run.dir.*"
                                             "ckpt_path=last to resume that run"):
        claim_run_folder(folder, "train")
    resumed = claim_run_folder(folder, "train", resume=True)
    assert resumed.run_id == first.run_id and resumed.resumed
    assert len(json.loads((folder / RUN_FILE).read_text())["resumed"]) == 1


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run(folder):
    (folder / "checkpoints").mkdir(parents=True)
    stale = [folder / "checkpoints" / ".last.ckpt.k1l2.tmp", folder / ".metrics.json.x9.tmp"]
    kept = [folder / "checkpoints" / "last.ckpt", folder / "notes.tmp"]
    for path in stale + kept:
        path.write_text("x")
    claim_run_folder(folder, "train", resume=True)
    assert not any(path.exists() for path in stale) and all(path.exists() for path in kept)


def test_a_run_that_produced_nothing_gives_its_folder_back(folder):
    claim_run_folder(folder, "train")
    (folder / ".hydra").mkdir()
    (folder / "train.log").write_text("Error: ...")
    abandon_run_folder(folder)  # e.g. a config error before anything was built
    assert not (folder / RUN_FILE).exists()
    second = claim_run_folder(folder, "train")  # the corrected command may use the folder
    (folder / "checkpoints").mkdir()
    abandon_run_folder(folder)  # this one produced a checkpoint folder: its record stays
    assert json.loads((folder / RUN_FILE).read_text())["run_id"] == second.run_id


def test_a_child_rank_joins_the_folder_its_parent_holds(folder, monkeypatch):
    parent = claim_run_folder(folder, "train")
    release_run_folder(folder)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from riskvision.runs import claim_run_folder; "
                               f"claim_run_folder({str(folder)!r}, 'train', True); print('held', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("LOCAL_RANK", "1")
        child = claim_run_folder(folder, "train", resume=True)
        assert child.run_id == parent.run_id and child.lock is None
    finally:
        holder.kill()
        holder.wait()


def test_a_run_folder_that_cannot_be_created_names_it(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OSError, match=r"the run folder .*a_file/run cannot be created or written .*Fix: "
                                      r"hydra.run.dir=<a folder you can write>"):
        claim_run_folder(tmp_path / "a_file" / "run", "train")


def test_resumes_run():
    assert resumes_run("last", "/x/run") and resumes_run("/x/run/checkpoints/epoch_3.ckpt", "/x/run")
    assert not resumes_run(None, "/x/run") and not resumes_run("/y/other.ckpt", "/x/run")


# ------------------------------------------------------------------------------------- files that belong together
def test_predictions_and_metrics_of_different_evaluations_are_refused(tmp_path):
    a, b = write_fake_run(tmp_path / "a", "binary", 2.0), write_fake_run(tmp_path / "b", "binary", 0.5, seed=1)
    assert len(load_runs([a, b])) == 2
    metrics_id = json.loads((b / "metrics.json").read_text())["run"]["id"]
    table = synthetic_table("binary", skill=3.0, seed=2, probes=("none", "shuffled", "repeated"))
    interrupted = tmp_path / "interrupted"  # a killed eval: its new predictions.parquet next to b's old metrics.json
    write_evaluation(table, RunInfo("new", task_of("binary")), interrupted, n_boot=10)
    shutil.copy(interrupted / "predictions.parquet", b / "predictions.parquet")
    new_id = json.loads((interrupted / "metrics.json").read_text())["run"]["id"]
    with pytest.raises(ValueError, match=rf"b: predictions.parquet comes from run {new_id} but metrics.json from run "
                                         rf"{metrics_id}: .*do not belong together"):
        load_runs([a, b])


def test_files_without_a_run_id_and_a_run_given_twice_are_refused(tmp_path):
    a = write_fake_run(tmp_path / "a", "binary", 2.0)
    shutil.copytree(a, tmp_path / "copy")
    with pytest.raises(ValueError, match=r"hold the same evaluation \(run id .*\): a copy compared with itself"):
        load_runs([a, tmp_path / "copy"])
    metrics = json.loads((a / "metrics.json").read_text())
    del metrics["run"]["id"]
    (a / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match=r"carry no run id .* Fix: evaluate the checkpoint again"):
        load_runs([a])
