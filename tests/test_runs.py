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
    code = (
        "import sys; from riskvision.runs import claim_run_folder\n"
        f"try: print(claim_run_folder({str(folder)!r}, 'train', {resume}).run_id)\n"
        "except Exception as error: sys.exit(f'{type(error).__name__}: {error}')"
    )
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
    with pytest.raises(
        RunFolderError,
        match=rf"already holds train run {first.run_id} .* Fix: a new hydra.run.dir.*"
        "ckpt_path=last to resume that run",
    ):
        claim_run_folder(folder, "train")
    resumed = claim_run_folder(folder, "train", resume=True)
    assert resumed.run_id == first.run_id and resumed.resumed
    assert len(json.loads((folder / RUN_FILE).read_text())["resumed"]) == 1


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run(folder):
    claim_run_folder(folder, "train")  # the killed run's record
    release_run_folder(folder)
    (folder / "checkpoints").mkdir(parents=True)
    stale = [folder / "checkpoints" / ".last.ckpt.k1l2.tmp", folder / ".metrics.json.x9.tmp"]
    kept = [folder / "checkpoints" / "last.ckpt", folder / "notes.tmp"]
    for path in stale + kept:
        path.write_text("x")
    claim_run_folder(folder, "train", resume=True)
    assert not any(path.exists() for path in stale) and all(path.exists() for path in kept)


def test_a_users_folder_is_refused_and_keeps_every_file(tmp_path):
    """Issue 31: a folder without run.json holding a user's files (even ``.*.tmp``) is never claimed or cleaned."""
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    files = {folder / "video.csv": "mine", folder / ".notes.tmp": "notes", folder / "sub" / ".draft.tmp": "draft"}
    for path, text in files.items():
        path.write_text(text)
    with pytest.raises(
        RunFolderError,
        match=r"is not a run folder \(no run.json\) and holds files \(.notes.tmp, "
        r"sub, video.csv\).* Fix: --out <a new or empty folder>",
    ):
        claim_run_folder(folder, "predict", option="--out")
    assert all(path.read_text() == text for path, text in files.items()) and not (folder / RUN_FILE).exists()
    hydra_only = tmp_path / "job"  # what Hydra writes into a multirun job's folder before it is claimed
    (hydra_only / ".hydra").mkdir(parents=True)
    (hydra_only / "train.log").write_text("")
    claim_run_folder(hydra_only, "train")
    release_run_folder(hydra_only)


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
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from riskvision.runs import claim_run_folder; "
            f"claim_run_folder({str(folder)!r}, 'train', True); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
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
    with pytest.raises(
        OSError,
        match=r"the run folder .*a_file/run cannot be created or written .*Fix: "
        r"hydra.run.dir=<a folder you can write>",
    ):
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
    with pytest.raises(
        ValueError,
        match=rf"b: predictions.parquet comes from run {new_id} but metrics.json from run "
        rf"{metrics_id}: .*do not belong together",
    ):
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


def test_an_abandoned_run_removes_the_folder_it_created_and_keeps_one_that_existed(tmp_path):
    created = tmp_path / "new"
    claim_run_folder(created, "train")
    (created / ".hydra").mkdir()
    (created / "train.log").write_text("Error: data.dota_root=/nope does not exist")
    abandon_run_folder(created)  # a failed check: no folder left behind
    assert not created.exists()
    existing = tmp_path / "given"
    existing.mkdir()
    claim_run_folder(existing, "train")
    abandon_run_folder(existing)  # a folder the user made (hydra.run.dir=...) stays, without the claim
    assert existing.is_dir() and not (existing / RUN_FILE).exists()


def test_train_with_a_missing_data_root_fails_before_any_work_and_leaves_no_run_folder(tmp_path):
    run_dir = tmp_path / "logs" / "run"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "data=dota_bdd",
            f"data.dota_root={tmp_path}/nope",
            f"hydra.run.dir={run_dir}",
            "logger=none",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"Error: data.dota_root={tmp_path}/nope does not exist" in proc.stderr
    assert "Fix: set data.dota_root to the folder" in proc.stderr
    output = proc.stdout + proc.stderr
    for work in ("Instantiating model", "PRETRAINED", "Starting training", "Traceback"):  # nothing was done
        assert work not in output
    assert not run_dir.exists()
