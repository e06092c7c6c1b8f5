"""``riskvision-predict`` on issue 31's cases: a user's folder, a used --out, Ctrl-C, bad option values."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkpoint_fakes import BILSTM, make_checkpoint, write_video

from riskvision.inference import videos
from riskvision.inference.cli import main
from riskvision.runs import release_run_folder


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli_reliability")
    return {"ckpt": make_checkpoint(root / "ckpt", BILSTM), "video": write_video(root / "video.mp4", 1.0, 15, 64, 48)}


def test_a_users_folder_as_out_loses_no_file(files, tmp_path, capsys):
    out = tmp_path / "d"
    (out / "sub").mkdir(parents=True)
    kept = {out / "video.csv": "my notes", out / ".notes.tmp": "n", out / "sub" / ".draft.tmp": "d"}
    for path, text in kept.items():
        path.write_text(text)
    assert main([str(files["ckpt"]), str(files["video"]), "--out", str(out), "--quiet"]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert all(path.read_text() == text for path, text in kept.items())


def test_a_second_run_into_one_out_is_told_to_use_out(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(files["ckpt"]), str(files["video"]), "--out", str(out), "--quiet"]) == 0
    release_run_folder(out)  # as when that command's process ended
    assert main([str(files["ckpt"]), str(files["video"]), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Fix: --out <a new folder>" in err and "hydra.run.dir" not in err


def test_ctrl_c_says_what_was_kept_without_a_traceback(files, tmp_path, capsys, monkeypatch):
    real = videos.ResultWriter.write

    def write_then_interrupt(self, row):
        real(self, row)
        if self.rows == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(videos.ResultWriter, "write", write_then_interrupt)
    out = tmp_path / "out"
    assert main([str(files["ckpt"]), str(files["video"]), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert f"interrupted; 2 rows kept in {out.resolve() / 'video.csv.partial'}" in err and "Traceback" not in err
    assert len((out / "video.csv.partial").read_text().splitlines()) == 3  # header and 2 rows
