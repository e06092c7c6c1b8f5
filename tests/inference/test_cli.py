"""``riskvision-predict`` and ``Predictor.stream``: results written as they are made, bad sources listed."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
from checkpoint_fakes import BILSTM, make_checkpoint, write_video
from live_fakes import FifoWriter
from offline_reference import decode_video, score_windows

from riskvision.inference import Predictor
from riskvision.inference.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    return {"ckpt": make_checkpoint(root / "ckpt", BILSTM), "video": write_video(root / "drive.mp4", 2.0, 15, 64, 48)}


def test_stream_api_gives_eval_sliding_scores(files):
    predictor = Predictor.from_checkpoint(files["ckpt"])
    results = predictor.predict_video(files["video"], smoothing=None)
    video = decode_video(files["video"], predictor.frame_size, predictor.target_fps)
    ends, values = score_windows(predictor, video)
    assert [r.frame for r in results] == ends.tolist()
    np.testing.assert_allclose([r.probs["prob_crash"] for r in results], values, atol=1e-5)


def test_console_command_writes_each_source_and_lists_the_bad_ones(files, tmp_path):
    out = tmp_path / "out"
    missing = tmp_path / "nowhere.mp4"
    code = main(
        [str(files["ckpt"]), str(files["video"]), str(missing), "--out", str(out), "--format", "jsonl", "--quiet"]
    )
    assert code == 1  # one source failed, the other was scored
    rows = [json.loads(line) for line in (out / "drive.jsonl").read_text().splitlines()]
    expected = Predictor.from_checkpoint(files["ckpt"]).predict_video(files["video"])
    assert [row["frame"] for row in rows] == [r.frame for r in expected]
    np.testing.assert_allclose([row["p_crash"] for row in rows], [r.p_crash for r in expected], atol=1e-6)
    assert {"time_s", "prob_crash", "smoothed", "level", "alarm", "latency_ms"} <= set(rows[0])
    assert not list(out.glob("*.partial")) or all("nowhere" in p.name for p in out.glob("*.partial"))
    assert main([str(files["ckpt"]), str(files["video"]), "--out", str(tmp_path / "csv"), "--quiet"]) == 0
    with open(tmp_path / "csv" / "drive.csv") as handle:
        assert len(list(csv.DictReader(handle))) == len(expected)


def test_an_unusable_checkpoint_is_exit_code_2_with_the_message(tmp_path, capsys):
    text = tmp_path / "page.ckpt"
    text.write_text("<html>404</html>")
    assert main([str(text), "x.mp4", "--out", str(tmp_path / "out")]) == 2
    assert "page.ckpt is not a readable PyTorch file: a text file" in capsys.readouterr().err


def test_the_console_command_is_declared_and_runs():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["riskvision-predict"] == "riskvision.inference.cli:main"
    proc = subprocess.run(
        [sys.executable, "-m", "riskvision.inference.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0 and "riskvision-predict" in proc.stdout and "rtsp://" in proc.stdout


def test_a_live_mpegts_pipe_is_scored_as_it_arrives(files, tmp_path):
    """A FIFO written live (45 frames at 30 fps, paced; no seeking, no known length), through the console command."""
    fifo = tmp_path / "camera.ts"
    os.mkfifo(fifo)
    writer = FifoWriter(fifo, num_frames=45, pace_s=1 / 30)
    writer.start()
    out = tmp_path / "live"
    assert main([str(files["ckpt"]), str(fifo), "--out", str(out), "--format", "jsonl", "--quiet"]) == 0
    writer.join(60)
    assert not writer.is_alive() and writer.error is None
    rows = [json.loads(line) for line in (out / "camera.jsonl").read_text().splitlines()]
    assert len(rows) >= 3 and [row["frame"] for row in rows] == sorted({row["frame"] for row in rows})
    assert all(0.0 <= row["p_crash"] <= 1.0 for row in rows)


def test_the_timeline_example_and_the_timeline_option(files, tmp_path):
    png = tmp_path / "timeline.png"
    proc = subprocess.run(
        [
            sys.executable,
            "examples/stream_timeline.py",
            str(files["ckpt"]),
            str(files["video"]),
            str(png),
            "0.5",
            "1.5",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert png.stat().st_size > 10_000 and "results, max P(crash)" in proc.stdout
    assert main([str(files["ckpt"]), str(files["video"]), "--out", str(tmp_path / "out"), "--timeline", "--quiet"]) == 0
    assert (tmp_path / "out" / "drive_timeline.png").stat().st_size > 10_000


def test_sources_with_one_stem_get_one_output_each(files, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "drive.mp4").write_bytes(files["video"].read_bytes())
    out = tmp_path / "out"
    assert (
        main(
            [
                str(files["ckpt"]),
                str(tmp_path / "a" / "drive.mp4"),
                str(tmp_path / "b" / "drive.mp4"),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.glob("*.csv")) == ["drive_mp4.csv", "drive_mp4_1.csv"]  # inputs.output_names
