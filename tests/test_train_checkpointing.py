"""Atomic checkpoint writes: an interrupted save never leaves a truncated .ckpt under the final name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel

from riskvision.checkpoints.writing import AtomicCheckpointIO, LastCheckpoint

WRITER = """
import sys, torch
from riskvision.checkpoints.writing import AtomicCheckpointIO
io = AtomicCheckpointIO()
big = {"state_dict": {"w": torch.ones(8_000_000)}, "epoch": 1}
while True:
    io.save_checkpoint(big, sys.argv[1])
"""


def test_save_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, path)
    AtomicCheckpointIO().save_checkpoint({"epoch": 2}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 2
    assert os.listdir(path.parent) == ["last.ckpt"]


def test_failure_midway_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, path)

    def write_half_then_die(obj, handle):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", write_half_then_die)
    with pytest.raises(OSError, match="disk full"):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert os.listdir(tmp_path) == ["last.ckpt"]


def test_sigkill_during_save_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(1)}, "epoch": 0}, path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any(name.endswith(".tmp") for name in os.listdir(tmp_path)):  # a save is under way
            assert proc.poll() is None and time.monotonic() < deadline, "writer never started a save"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    checkpoint = torch.load(path, weights_only=True)  # the old or a complete new file, never a torn one
    assert checkpoint["epoch"] in (0, 1)


class _ScriptedScore(BoringModel):
    """A BoringModel whose monitored ``score`` follows a script: epochs 1 and 3 improve, epoch 2 does not."""

    SCORES = (0.5, 0.4, 0.7)

    def on_validation_epoch_end(self) -> None:
        self.log("score", self.SCORES[self.current_epoch])


class _StateAtEpochEnd(Checkpoint):
    """A checkpoint callback listed after LastCheckpoint (so it runs after it): at each epoch's end, records what
    last.ckpt holds and what a fresh save would hold."""

    def __init__(self, dirpath):
        self.dirpath, self.epochs = dirpath, []

    def on_train_epoch_end(self, trainer, pl_module):
        last = self.dirpath / "last.ckpt"
        fresh = self.dirpath / f"fresh_{trainer.current_epoch}.pt"
        trainer.save_checkpoint(fresh)
        self.epochs.append(
            {
                "links": last.stat().st_nlink,
                "last": torch.load(last, weights_only=True),
                "fresh": torch.load(fresh, weights_only=True),
            }
        )
        fresh.unlink()


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


def test_last_checkpoint_links_the_best_saved_the_same_epoch_instead_of_writing_it_again(tmp_path, monkeypatch):
    """An improving epoch's last.ckpt is the best file (one write, one inode), and it holds exactly what a fresh
    save would; an epoch that does not improve writes last.ckpt anew; the end of training writes it once more."""
    writes = []
    save = AtomicCheckpointIO.save_checkpoint
    monkeypatch.setattr(
        AtomicCheckpointIO,
        "save_checkpoint",
        lambda self, checkpoint, path, storage_options=None: (
            writes.append(os.path.basename(path)),
            save(self, checkpoint, path),
        )[1],
    )
    dirpath = tmp_path / "checkpoints"
    probe = _StateAtEpochEnd(dirpath)
    best = ModelCheckpoint(
        dirpath=dirpath,
        filename="epoch_{epoch:03d}",
        monitor="score",
        mode="max",
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    trainer = Trainer(
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        callbacks=[best, LastCheckpoint(dirpath), probe],
        plugins=[AtomicCheckpointIO()],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(_ScriptedScore())

    saved = [name for name in writes if not name.startswith("fresh_")]
    # epoch 1: best only (last.ckpt is linked to it); epoch 2: last only; epoch 3: best only; end: last
    assert saved == ["epoch_000.ckpt", "last.ckpt", "epoch_002.ckpt", "last.ckpt"], saved
    assert [epoch["links"] for epoch in probe.epochs] == [2, 1, 2]
    for epoch in probe.epochs:  # what last.ckpt holds at each epoch's end is the full state of that moment
        assert _same(epoch["last"], epoch["fresh"])
    final = torch.load(dirpath / "last.ckpt", weights_only=True)  # written anew: the loops count epoch 3 as done
    assert final["epoch"] == probe.epochs[-1]["last"]["epoch"] + 1 == 3
    assert os.path.samefile(dirpath / "last.ckpt", dirpath / "epoch_002.ckpt")  # linked again when training ended
    assert sorted(p.name for p in dirpath.iterdir()) == ["epoch_002.ckpt", "last.ckpt"]


def test_the_best_checkpoint_and_the_progress_bar_count_epochs_from_1_as_the_log(tmp_path):
    from types import SimpleNamespace

    from riskvision.checkpoints.writing import BestCheckpoint
    from riskvision.utils import EpochProgressBar

    best = BestCheckpoint(
        dirpath=tmp_path, filename="epoch_{epoch:03d}", monitor="val/f1", auto_insert_metric_name=False
    )
    assert best.format_checkpoint_name({"epoch": torch.tensor(8)}) == str(tmp_path / "epoch_009.ckpt")  # "Best epoch 9"
    bar = EpochProgressBar()
    bar._trainer = SimpleNamespace(max_epochs=12)
    assert bar._get_train_description(11).strip() == "Epoch 12/12"  # the last of 12 (Lightning's bar: "Epoch 11/11")
