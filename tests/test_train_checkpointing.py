"""Atomic checkpoint writes: an interrupted save never leaves a truncated .ckpt under the final name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from riskvision.utils import AtomicCheckpointIO

WRITER = """
import sys, torch
from riskvision.utils import AtomicCheckpointIO
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
