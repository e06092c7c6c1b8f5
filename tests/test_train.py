"""train.py end to end, in subprocesses, on a tiny synthetic data set with tiny nets (CPU, seconds each)."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import hydra
import pytest
import torch
import yaml

from riskvision.checkpoints.loading import CONFIG_KEY, OPERATING_POINT_KEY, RUN_ID_KEY
from riskvision.data.sources.synthetic import ensure_synthetic

ROOT = Path(__file__).resolve().parents[1]
TINY_SIZES = {
    "num_crash": 6,
    "num_normal": 6,
    "width": 32,
    "height": 32,
    "crash_seconds": [2, 3],
    "normal_seconds": [2, 3],
    "clips_per_source": [1, 1],
}
BILSTM = [
    "model=bilstm",
    "model.inputs.frame_size=32",
    "model.inputs.num_frames=4",
    "model.inputs.batch_size=2",
    "model.net.hidden_size=8",
]
R3D101 = [
    "model=resnet3d101",
    "model.inputs.frame_size=32",
    "model.inputs.batch_size=2",
    "model.net.widen_factor=0.125",
]
ONE_EPOCH = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]


@pytest.fixture(scope="session")
def tiny_data(build_once) -> list[str]:
    """Overrides that point the synthetic data config at a tiny cached set (6+6 clips of 32x32), written once per
    test session (the xdist workers share it: tests/conftest.py build_once)."""
    root = build_once("train_synthetic", lambda folder: ensure_synthetic(folder, seed=0, **TINY_SIZES))
    sizes = [f"++data.synthetic.{key}={value}".replace(" ", "") for key, value in TINY_SIZES.items()]
    return [
        f"data.synthetic.root={root}",
        "data.synthetic.seed=0",
        *sizes,
        "data.loader.num_workers=0",
        "data.loader.persistent_workers=false",
        "data.split.val_fraction=0.3",
        "trainer=cpu",
        "extras.print_config=false",
    ]


def run_train(*overrides: str, expect_ok: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python train.py OVERRIDES`` with no stdin; fail with its output if the exit code surprises."""
    env = {**os.environ, "CI": "true", "WANDB_SILENT": "true"}
    env.pop("WANDB_MODE", None)  # the logger config alone must keep wandb offline
    proc = subprocess.run(
        [sys.executable, "train.py", *overrides],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if (proc.returncode == 0) != expect_ok:
        pytest.fail(
            f"train.py exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


def csv_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("model", [BILSTM, R3D101], ids=["bilstm", "resnet3d101"])
def test_fast_dev_run(tmp_path, tiny_data, model):
    run_train(*tiny_data, *model, "debug=fast_dev_run", "test=true", "evaluation=none", f"hydra.run.dir={tmp_path}")


@pytest.mark.parametrize(
    "model, speed",
    [
        (
            BILSTM,
            [
                "trainer.precision=bf16-mixed",
                "model.execution.memory_format=channels_last",
                "model.execution.compile=true",
            ],
        ),
        (
            R3D101,
            ["trainer.precision=bf16-mixed", "model.execution.memory_format=channels_last"],
        ),  # compiling it takes minutes
    ],
    ids=["bilstm", "resnet3d101"],
)
def test_speed_options_train_and_test(tmp_path, tiny_data, model, speed):
    """The training speed options from the command line, together: bf16 autocast, channels-last convolutions and
    (bilstm) torch.compile. The run trains, tests and writes a checkpoint whose weights keep their names (compile
    in place) and load into a plain net."""
    run_train(
        *tiny_data,
        *model,
        *speed,
        *ONE_EPOCH,
        "test=true",
        "evaluation=none",
        "logger=csv",
        f"hydra.run.dir={tmp_path}",
        timeout=600,
    )
    checkpoint = torch.load(next(tmp_path.glob("checkpoints/*.ckpt")), weights_only=True)
    stored = checkpoint[CONFIG_KEY]
    assert stored["model"]["execution"]["compile"] == ("model.execution.compile=true" in speed)
    assert (
        stored["model"]["execution"]["memory_format"] == "channels_last"
        and stored["trainer"]["precision"] == "bf16-mixed"
    )
    assert not [key for key in checkpoint["state_dict"] if "_orig_mod" in key]
    plain = hydra.utils.instantiate({**stored["model"], "execution": {"compile": False, "memory_format": "contiguous"}})
    plain.load_state_dict(checkpoint["state_dict"])
    assert [row for row in csv_metrics(tmp_path) if row.get("test/loss")], "the test ran"


def test_console_shows_one_line_per_epoch_and_the_best_and_test_metrics(tmp_path, tiny_data):
    """Issue 16: each validated epoch logs one line (train loss, the monitored metric with the best so far, the
    headline metrics, per-class F1 of the 3 classes), and the run ends with tables of the best epoch's validation
    metrics and of the test metrics, rounded to 3 decimals; the console and train.log show the same."""
    two_epochs = ["trainer.max_epochs=2", *ONE_EPOCH[1:]]
    proc = run_train(
        *tiny_data, *R3D101, *two_epochs, "test=true", "evaluation=none", "logger=csv", f"hydra.run.dir={tmp_path}"
    )
    log = (tmp_path / "train.log").read_text()
    lines = re.findall(
        r"Epoch (\d)/2: train/loss ([0-9.]+) \| val/f1_macro ([0-9.]+) \(best ([0-9.]+) at epoch (\d)\)"
        r" \| val/loss [0-9.]+ \| val/auroc [0-9.n]+ \| val/ap [0-9.n]+ \| val/acc [0-9.]+"
        r" \| F1 Normal [0-9.]+, Warning [0-9.]+, Danger [0-9.]+ \| [0-9.]+ min",
        log,
    )
    assert [line[0] for line in lines] == ["1", "2"], log
    logged = [row for row in csv_metrics(tmp_path) if row.get("val/f1_macro")]
    for (_, loss, f1, best, _), row in zip(lines, logged):
        assert float(f1) == pytest.approx(float(row["val/f1_macro"]), abs=5e-4) and len(f1.split(".")[1]) == 3
        assert float(best) >= float(f1) - 5e-4
    train_losses = [float(row["train/loss_epoch"]) for row in csv_metrics(tmp_path) if row.get("train/loss_epoch")]
    assert [float(line[1]) for line in lines] == pytest.approx(train_losses, abs=5e-4)
    best_epoch = lines[-1][4]
    table = log.split(f"Best epoch {best_epoch} by val/f1_macro (validation split, one value per validation clip):")[1]
    assert re.search(r"\n  val/f1_macro +[0-9]\.[0-9]{3}\n", table) and "confmat" not in table.split("Test")[0]
    test_table = log.split("Test metrics of ")[1]
    assert "(test split, one value per test clip;" in test_table.split("\n")[0]
    assert re.search(r"\n  test/f1_macro +[0-9]\.[0-9]{3}\n", test_table), test_table
    assert "Epoch 2/2: train/loss" in proc.stdout + proc.stderr  # the console shows what train.log holds
    layers = log.split("Model layers")[1].split("\n[")[0]
    assert re.search(r"\nName +Type +Params +Mode\n", layers) and "trainable" in layers, layers
    assert "FLOPs: 0" not in proc.stdout + log and "GFLOPs per clip" in log  # one FLOPs figure, the right one


@pytest.mark.parametrize("model, chance", [(BILSTM, math.log(2)), (R3D101, math.log(3))], ids=["bilstm", "resnet3d101"])
def test_both_models_overfit_two_batches(tmp_path, tiny_data, model, chance):
    """debug=overfit (20 epochs on the same 2 batches): the loss falls far below chance and every clip is learned, so
    nets, losses, optimisers and schedulers can fit (issue 14: why a full run does not learn lies elsewhere)."""
    run_train(*tiny_data, *model, "debug=overfit", "callbacks=none", "logger=csv", f"hydra.run.dir={tmp_path}")
    final = [row for row in csv_metrics(tmp_path) if row.get("train/loss_epoch")][-1]
    assert float(final["train/acc"]) == 1.0, final
    assert float(final["train/loss_epoch"]) < 0.5 * chance, final


def test_feature_cache_trains_tests_and_is_reused_by_the_next_run(tmp_path, tiny_data):
    """model.feature_cache.enabled=true from the command line: the frozen backbone's features are extracted when the
    fit starts, training and testing read them, and a second run with the same key extracts nothing."""
    cache = [
        "model.net.freeze=all",
        "model.feature_cache.enabled=true",
        f"model.feature_cache.dir={tmp_path / 'cache'}",
    ]
    for run in ("first", "second"):
        run_train(
            *tiny_data,
            *BILSTM,
            *cache,
            *ONE_EPOCH,
            "test=true",
            "evaluation=none",
            "logger=csv",
            f"hydra.run.dir={tmp_path / run}",
        )
    first, second = ((tmp_path / run / "train.log").read_text() for run in ("first", "second"))
    assert "extracted" in first and "0 reused" in first and "Clear it with: rm -rf" in first
    assert "(this run: 0 extracted, 0 backbone frames;" in second
    assert [row["test/f1"] for row in csv_metrics(tmp_path / "second") if row.get("test/f1")]
    checkpoint = torch.load(next((tmp_path / "second").glob("checkpoints/epoch_*.ckpt")), weights_only=True)
    assert checkpoint[CONFIG_KEY]["model"]["feature_cache"]["enabled"] is True
    assert any(key.startswith("net.backbone.") for key in checkpoint["state_dict"])  # the whole net, as without it


def test_train_test_checkpoints_and_config(tmp_path, tiny_data):
    proc = run_train(
        *tiny_data,
        *BILSTM,
        *ONE_EPOCH,
        "logger=csv",
        "test=true",
        "evaluation.step=4",
        "evaluation.n_boot=20",
        "evaluation.latency_repeats=0",
        "evaluation.probes=[none]",
        f"hydra.run.dir={tmp_path}",
    )
    assert "`weights_only` was not set" not in proc.stdout + proc.stderr  # every checkpoint write says what it keeps
    assert (tmp_path / "predictions.parquet").is_file() and (tmp_path / "metrics.json").is_file()  # the test-time hook
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(name.startswith("epoch_") for name in checkpoints), checkpoints
    assert not [name for name in checkpoints if name.endswith(".tmp")]
    best = next(tmp_path.glob("checkpoints/epoch_*.ckpt"))
    # the one epoch is both the best and the last: one file on disk under two names
    assert os.path.samefile(best, tmp_path / "checkpoints" / "last.ckpt") and best.stat().st_nlink == 2
    checkpoint = torch.load(best, weights_only=True)  # plain data only: no pickled code needed
    config = checkpoint[CONFIG_KEY]
    assert config["model"]["inputs"]["num_frames"] == 4 and config["paths"]["output_dir"] == str(tmp_path)
    assert 0.1 <= checkpoint["state_dict"]["threshold"].item() <= 0.9
    assert checkpoint["hyper_parameters"]["pretrained"]["status"] == "none"
    # the alarm operating point chosen on validation, stored in the best checkpoint (last.ckpt still its link)
    point = checkpoint[OPERATING_POINT_KEY]
    assert (point["chosen_on"], point["step"], point["cap_per_hour"]) == ("val", 4, 1.0)
    assert point["policy"] == {
        "smoothing": {"kind": "exponential", "time_constant_s": 0.5},
        "rule": {"kind": "hysteresis", "off_ratio": 0.8, "min_on_s": 0.5},
    }
    deployment = json.loads((tmp_path / "metrics.json").read_text())["deployment"]
    assert deployment["operating_point"]["threshold"] == point["threshold"]
    assert (tmp_path / ".hydra" / "config.yaml").is_file() and (tmp_path / "train.log").is_file()
    rows = csv_metrics(tmp_path)
    logged = {key for row in rows for key, value in row.items() if value}
    assert {"val/f1", "val/f1_tuned", "val/threshold", "val/auroc", "test/f1", "test/threshold"} <= logged
    test_threshold = next(float(row["test/threshold"]) for row in rows if row.get("test/threshold"))
    assert test_threshold == pytest.approx(checkpoint["state_dict"]["threshold"].item())


def test_weights_only_best_checkpoint_keeps_the_run_config_and_tests(tmp_path, tiny_data):
    run_train(
        *tiny_data,
        *BILSTM,
        *ONE_EPOCH,
        "logger=csv",
        "test=true",
        "evaluation=none",
        "callbacks.model_checkpoint.save_weights_only=true",
        f"hydra.run.dir={tmp_path}",
    )
    best, last = next(tmp_path.glob("checkpoints/epoch_*.ckpt")), tmp_path / "checkpoints" / "last.ckpt"
    weights, full = torch.load(best, weights_only=True), torch.load(last, weights_only=True)
    assert "optimizer_states" not in weights and "optimizer_states" in full  # last.ckpt stays resumable
    assert not os.path.samefile(best, last) and best.stat().st_size < last.stat().st_size
    assert weights[CONFIG_KEY] == full[CONFIG_KEY] and weights[RUN_ID_KEY] == full[RUN_ID_KEY]
    assert weights[CONFIG_KEY]["paths"]["output_dir"] == str(tmp_path)
    assert weights["state_dict"]["threshold"].item() == full["state_dict"]["threshold"].item()
    assert any(row.get("test/f1") for row in csv_metrics(tmp_path))  # train.py test=true tested the weights-only file


def test_resume_restores_epoch_optimizer_and_scheduler(tmp_path, tiny_data):
    # replaces the synthetic specialisation's cosine schedule (delete, then add: a dict override would merge)
    halving = [
        "~model.lr_scheduler",
        "+model.lr_scheduler={scheduler:{_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:1,gamma:0.5}}",
    ]
    common = [*tiny_data, *BILSTM, *ONE_EPOCH, *halving, "logger=none", f"hydra.run.dir={tmp_path}"]
    run_train(*common)
    first = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    proc = run_train(*common, "trainer.max_epochs=2", "ckpt_path=last")
    assert "Restoring states from the checkpoint path" in proc.stdout + proc.stderr
    second = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert first["global_step"] == 2 and second["global_step"] == 4  # epoch 1 ran on top of epoch 0
    assert second["loops"]["fit_loop"]["epoch_progress"]["total"]["completed"] == 2
    adam_steps = {float(state["step"]) for state in second["optimizer_states"][0]["state"].values()}
    assert adam_steps == {4.0}  # Adam's moments continued, not restarted
    assert second["lr_schedulers"][0]["last_epoch"] == 2
    lr = [ckpt["optimizer_states"][0]["param_groups"][0]["lr"] for ckpt in (first, second)]
    assert lr[1] == pytest.approx(lr[0] / 2)  # halved once more; a restarted scheduler would repeat lr[0]


def test_last_checkpoint_is_the_latest_epoch_not_the_best(tmp_path, tiny_data):
    # lr 0: every epoch has the same val/f1, so the best checkpoint stays epoch 0 while training goes on
    common = [
        *tiny_data,
        *BILSTM,
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=2",
        "logger=none",
        "model.optimizer.lr=0",
        "~model.lr_scheduler",
        "+model.lr_scheduler=null",
        f"hydra.run.dir={tmp_path}",
    ]
    run_train(*common, "trainer.max_epochs=3")
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    progress = last["loops"]["fit_loop"]["epoch_progress"]["total"]["completed"]
    assert (last["epoch"], last["global_step"], progress) == (3, 6, 3)  # 3 epochs of 2 steps done (Lightning counts)
    # the best is the log's "epoch 1" (names count from 1, as the log does)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["epoch_001.ckpt", "last.ckpt"]
    assert torch.load(tmp_path / "checkpoints" / "epoch_001.ckpt", weights_only=True)["global_step"] == 2  # the best
    assert not os.path.samefile(tmp_path / "checkpoints" / "epoch_001.ckpt", tmp_path / "checkpoints" / "last.ckpt")
    run_train(*common, "trainer.max_epochs=4", "ckpt_path=last")
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (4, 8)  # one more epoch on top of 3, not a re-run from epoch 0


def test_ckpt_path_last_without_a_last_checkpoint_is_an_error(tmp_path, tiny_data):
    proc = run_train(*tiny_data, *BILSTM, "ckpt_path=last", f"hydra.run.dir={tmp_path}", expect_ok=False)
    assert f"ckpt_path=last but {tmp_path}/checkpoints/last.ckpt does not exist" in proc.stderr
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.slow
def test_sigkilled_run_resumes_from_its_last_checkpoint(tmp_path, tiny_data):
    args = [
        *tiny_data,
        *BILSTM,
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "logger=none",
        f"hydra.run.dir={tmp_path}",
    ]
    last = tmp_path / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(
        [sys.executable, "train.py", *args, "trainer.max_epochs=50"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not last.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "no last.ckpt was written"
            time.sleep(0.2)
        time.sleep(1.0)  # land somewhere in the next epochs, possibly mid-save
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed_at = torch.load(last, weights_only=True)["global_step"]  # loads: not truncated
    run_id = json.loads((tmp_path / "run.json").read_text())["run_id"]
    stale = tmp_path / "checkpoints" / ".last.ckpt.k1ll3d.tmp"  # what a kill mid-save leaves
    stale.write_bytes(b"half a checkpoint")
    run_train(*args, f"trainer.max_epochs={killed_at // 2 + 2}", "ckpt_path=last")
    assert torch.load(last, weights_only=True)["global_step"] == 2 * (killed_at // 2 + 2)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["run_id"] == run_id and len(record["resumed"]) == 1  # the same run, resumed once
    assert torch.load(last, weights_only=True)[RUN_ID_KEY] == run_id
    assert not stale.exists()


@pytest.mark.slow
def test_a_second_run_in_a_run_folder_is_refused_and_leaves_it_untouched(tmp_path, tiny_data):
    args = [*tiny_data, *BILSTM, "logger=none", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.Popen(
        [sys.executable, "train.py", *args, "trainer.max_epochs=50"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not (tmp_path / "checkpoints" / "last.ckpt").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the first run wrote no last.ckpt"
            time.sleep(0.2)
        owner = json.loads((tmp_path / "run.json").read_text())["run_id"]
        before = {name: (tmp_path / name).read_bytes() for name in (".hydra/config.yaml", ".hydra/overrides.yaml")}
        for resume in ([], ["ckpt_path=last"]):  # while it runs, neither a new run nor a resume may join it
            refused = run_train(*args, "trainer.max_epochs=1", *resume, expect_ok=False)
            assert f"{tmp_path} is in use by another run (pid {proc.pid} on " in refused.stderr
    finally:
        proc.kill()
        proc.wait()
    after = run_train(*args, "trainer.max_epochs=1", expect_ok=False)  # the first run has ended (killed)
    assert f"{tmp_path} already holds train run {owner}" in after.stderr and "ckpt_path=last" in after.stderr
    assert {name: (tmp_path / name).read_bytes() for name in before} == before  # .hydra/ still the first run's
    assert (tmp_path / "train.log").read_text().count(f"Run {owner} owns") == 1  # only the first run logged there
    assert not [p.name for p in (tmp_path / "checkpoints").iterdir() if "-v" in p.name]  # no last-v1.ckpt


@pytest.mark.slow
def test_multirun_gives_each_job_its_own_folder(tmp_path, tiny_data):
    run_train("-m", *tiny_data, *BILSTM, *ONE_EPOCH, "logger=csv", "seed=1,2", f"hydra.sweep.dir={tmp_path}")
    for job in ("0", "1"):
        assert (tmp_path / job / "checkpoints" / "last.ckpt").is_file()
        assert (tmp_path / job / "csv" / "metrics.csv").is_file()
    seeds = {yaml.safe_load((tmp_path / job / ".hydra" / "config.yaml").read_text())["seed"] for job in ("0", "1")}
    assert seeds == {1, 2}


@pytest.mark.slow
def test_optuna_sweep_two_trials(tmp_path, tiny_data):
    run_train(
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=1",
        *tiny_data,
        *BILSTM,
        *ONE_EPOCH,
        "logger=none",
        f"hydra.sweep.dir={tmp_path}",
    )
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["name"] == "optuna" and 0.0 <= results["best_value"] <= 1.0
    assert (tmp_path / "0").is_dir() and (tmp_path / "1").is_dir()


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, tiny_data):
    proc = run_train(*tiny_data, *BILSTM, *ONE_EPOCH, "trainer=ddp_cpu", "logger=csv", f"hydra.run.dir={tmp_path}")
    output = proc.stdout + proc.stderr
    assert "GLOBAL_RANK: 1" in output or "Initializing distributed: GLOBAL_RANK: 0, MEMBER: 1/2" in output
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)


@pytest.mark.slow
def test_wandb_offline_writes_files_and_never_prompts(tmp_path, tiny_data):
    proc = run_train(*tiny_data, *BILSTM, *ONE_EPOCH, "logger=wandb", f"hydra.run.dir={tmp_path}", timeout=400)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb")), "no offline run files"
    assert "wandb login" not in proc.stdout + proc.stderr


def test_clip_too_short_for_the_net_fails_before_any_data_is_read(tmp_path, tiny_data):
    fresh = tmp_path / "never_created"
    proc = run_train(
        *tiny_data,
        *R3D101,
        "model.inputs.num_frames=4",
        f"data.synthetic.root={fresh}",
        f"hydra.run.dir={tmp_path / 'run'}",
        expect_ok=False,
    )
    assert "model.inputs.num_frames=4 is shorter than the ResNet3D's minimum clip length 9" in proc.stderr
    assert not fresh.exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.inptus.num_frames=3", "Could not override 'model.inptus.num_frames'"),
        ("model=bilstmm", "Could not find 'model/bilstmm'"),
        ("trainer.max_epochs=abc", "trainer.max_epochs='abc' is not an int or None"),
    ],
)
def test_typo_in_an_override_is_a_clear_error(tmp_path, override, message):
    proc = run_train(override, f"hydra.run.dir={tmp_path}", expect_ok=False)
    assert message in proc.stderr
    if override.startswith("trainer."):  # our own check: a one-line error, and the folder is free for the fix
        assert proc.stderr.strip().splitlines()[-1].startswith("Error: config values that their classes cannot take")
        assert "Traceback" not in proc.stderr and not (tmp_path / "run.json").exists()
