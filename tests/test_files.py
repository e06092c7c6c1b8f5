"""riskvision.files.atomic_write: the final name only ever holds a complete file."""

from __future__ import annotations

import os

import pytest

from riskvision.files import atomic_write


def test_replaces_the_file_with_the_usual_mode(tmp_path):
    target = tmp_path / "sub" / "metrics.json"
    assert atomic_write(target, lambda tmp: tmp.write_text("new")) == target
    assert target.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_a_failing_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "predictions.csv"
    target.write_text("old, complete")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]


def test_a_full_disk_names_the_file_and_keeps_the_previous_version(tmp_path):
    import errno

    target = tmp_path / "metrics.json"
    target.write_text("old, complete")

    def disk_full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"cannot write .*metrics.json: the disk is full. Fix: free space there"):
        atomic_write(target, disk_full)
    assert target.read_text() == "old, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_full_disk_in_numpys_and_torchs_words_is_called_a_full_disk(tmp_path, monkeypatch):
    """Issue 31: numpy's errno-less short write and torch.save's zip-writer RuntimeError on a full disk."""
    from riskvision import files

    target = tmp_path / "entry.npy"
    target.write_text("old, complete")

    def short_write(tmp):
        raise OSError("4096 requested and 4032 written")

    with pytest.raises(
        files.WriteError,
        match=r"cannot write .*entry.npy: the disk is full. Fix: free space there, "
        r"or write elsewhere \(model.feature_cache.dir=...\)",
    ):
        atomic_write(target, short_write, option="model.feature_cache.dir")

    def torch_full(tmp):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file "
            "data/0: file write failed"
        )

    real_usage = files.shutil.disk_usage
    monkeypatch.setattr(files.shutil, "disk_usage", lambda folder: real_usage(folder)._replace(free=0))  # full
    with pytest.raises(files.WriteError, match=r"cannot write .*entry.npy: the disk is full"):
        atomic_write(target, torch_full)
    assert target.read_text() == "old, complete" and [p.name for p in tmp_path.iterdir()] == ["entry.npy"]


def test_a_folder_that_cannot_be_made_names_the_file(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OSError, match=r"cannot write .*a_file/out/metrics.json: .*Fix: hydra.run.dir="):
        atomic_write(tmp_path / "a_file" / "out" / "metrics.json", lambda tmp: tmp.write_text("new"))
