"""The review page's data without a browser: outcomes against metrics.json, the replayed alarm policy, the clips
(frames, duration, size, missing reasons), the written files and the entry points."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from review_fakes import FRAMES, browser_unavailable, synthetic_table, write_frame_folder, write_video

from riskvision.alarm import AlarmPolicy, ExponentialSmoother, Hysteresis, NoSmoothing, PolicyError
from riskvision.evaluation.deployment import OUTCOMES, choose_operating_point, deployment_metrics, video_outcomes
from riskvision.evaluation.review import ClipSettings, RunPolicy, policy_trace, run_policy
from riskvision.evaluation.review.clips import ClipError, find_videos, write_clip

ROOT = Path(__file__).resolve().parents[2]


def _decoded(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return frames, float(container.duration) / 1e6


RAW = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=1.0, min_on_s=0.0))  # conf/alarm/raw.yaml


def _check_counts(outcomes: pd.DataFrame, deployment: dict, entry: str) -> None:
    """``outcomes`` (video_outcomes) against metrics.json's ``deployment[entry]``, video by video where it can."""
    at = deployment[entry]
    counts = outcomes["outcome"].value_counts()
    positives = sum(counts.get(o, 0) for o in OUTCOMES[:3])
    assert positives == deployment["n_positive_videos"] == 8
    assert counts.get("detected", 0) == round(at["recall"]["value"] * positives)
    assert counts.get("false alarm", 0) + counts.get("correct rejection", 0) == deployment["n_negative_videos"]
    assert outcomes["false_alarms"].sum() == at["false_alarms"]
    negatives = outcomes.dropna(subset=["false_alarms"])
    assert dict(zip(negatives["video_id"], negatives["false_alarms"])) == {
        v: n for v, n in at["alarm_events_per_video"].items() if v in set(negatives["video_id"])
    }
    detected = outcomes[outcomes["outcome"] == "detected"]
    if len(detected):
        assert np.isclose(detected["tta_s"].mean(), at["mtta"]["value"])


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
@pytest.mark.parametrize("policy", [AlarmPolicy(), RAW], ids=["hysteresis", "raw"])
def test_outcome_counts_are_metrics_json_policy_counts(threshold, policy):
    table = synthetic_table("binary", n_crash=8, n_normal=8, skill=1.0, seed=3)
    deployment = deployment_metrics(table, threshold, n_boot=2, policy=policy)
    _check_counts(video_outcomes(table, policy, threshold), deployment, "at_threshold")


def test_outcome_counts_at_the_operating_point_are_metrics_json_operating_point_counts():
    table = synthetic_table("binary", n_crash=8, n_normal=8, skill=1.0, seed=3)
    point = choose_operating_point(
        synthetic_table("binary", n_crash=8, n_normal=8, skill=1.0, seed=4), AlarmPolicy(), cap_per_hour=100.0
    )
    deployment = deployment_metrics(table, 0.5, n_boot=2, operating_point=point)
    assert deployment["operating_point"]["threshold"] != 0.5
    _check_counts(video_outcomes(table, point.policy, point.threshold), deployment, "operating_point")


def _one_video(video_id: str, scores: list[float], crash: bool, start: int = -1) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame(
        {
            "video_id": video_id,
            "source": "dota" if crash else "bdd",
            "category": "x",
            "ego": False,
            "night": False,
            "end_frame": np.arange(n),
            "fps": 10.0,
            "num_frames": n,
            "anomaly_start": start,
            "anomaly_end": start + 2 if start >= 0 else -1,
            "crash": int(crash),
            "risk": 0,
            "probe": "none",
            "prob_crash": scores,
            "p_crash": scores,
        }
    )


def test_each_outcome_by_hand():
    """Under the raw policy (no smoothing, off below the threshold, no minimum on-time) an episode is a run of
    windows >= threshold."""
    table = pd.concat(
        [
            _one_video("a_detected", [0.1, 0.9, 0.1, 0.1, 0.1, 0.1], True, start=3),  # alarm at frame 1 < 3
            _one_video("b_late", [0.1, 0.1, 0.1, 0.1, 0.9, 0.1], True, start=3),  # first alarm at 4 >= 3
            _one_video("c_missed", [0.1] * 6, True, start=3),
            _one_video("d_false_alarm", [0.9, 0.1, 0.9, 0.9, 0.1, 0.9], False),  # three episodes
            _one_video("e_rejection", [0.4] * 6, False),
            _one_video("f_no_span", [0.9] * 6, True),
        ]
    )
    out = video_outcomes(table, RAW, 0.5).set_index("video_id")
    assert list(out["outcome"]) == ["detected", "late", "missed", "false alarm", "correct rejection", "no span"]
    assert out.at["a_detected", "tta_s"] == pytest.approx(0.2) and out.at["b_late", "tta_s"] == pytest.approx(-0.1)
    assert out.at["d_false_alarm", "false_alarms"] == 3 and out.at["e_rejection", "false_alarms"] == 0
    assert np.isnan(out.at["a_detected", "false_alarms"]) and out.at["c_missed", "first_alarm"] == -1
    assert out.at["e_rejection", "max_p"] == pytest.approx(0.4) and out.at["f_no_span", "first_alarm"] == 0


def test_outcomes_follow_the_policy_not_the_raw_threshold():
    table = pd.concat(
        [
            _one_video("a_spike", [0.1, 0.9, 0.1, 0.1, 0.1, 0.1], True, start=4),  # one window >= 0.5
            _one_video("b_held", [0.1, 0.9, 0.9, 0.1, 0.1, 0.1], True, start=4),  # two: 0.1 s held
            _one_video("c_dips", [0.9, 0.3, 0.9, 0.9, 0.1, 0.9], False),  # 3 raw episodes
        ]
    )
    held = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=0.5, min_on_s=0.1))  # on after 0.1 s, off below 0.25
    out = video_outcomes(table, held, 0.5).set_index("video_id")
    assert out.at["a_spike", "outcome"] == "missed" and out.at["a_spike", "first_alarm"] == -1
    assert out.at["b_held", "outcome"] == "detected" and out.at["b_held", "first_alarm"] == 2  # on at the 2nd window
    assert out.at["b_held", "tta_s"] == pytest.approx(0.2)
    assert out.at["c_dips", "false_alarms"] == 1  # 0.3 >= 0.25 keeps it on; 0.9 at frame 5 is one window, not 0.1 s
    raw = video_outcomes(table, RAW, 0.5).set_index("video_id")
    assert list(raw["outcome"]) == ["detected", "detected", "false alarm"] and raw.at["c_dips", "false_alarms"] == 3


def test_policy_trace_waits_min_on_and_releases_below_off():
    frames = np.arange(30)
    p = np.where((frames >= 5) & (frames < 20), 0.9, 0.1)
    raw = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=0.8, min_on_s=0.5))
    trace = policy_trace(frames, p, 10.0, 3.0, RunPolicy(raw, 0.5, "run threshold", ""))
    assert trace.episodes == [(1.0, 2.0)]  # >= 0.5 from 0.5 s, on 0.5 s later; off at the first value < 0.4
    assert np.array_equal(trace.smoothed, p)
    at_once = AlarmPolicy(NoSmoothing(), Hysteresis(off_ratio=0.8, min_on_s=0.0))
    held = policy_trace(frames, np.full(30, 0.9), 10.0, 3.0, RunPolicy(at_once, 0.5, "run threshold", ""))
    assert held.episodes == [(0.0, 3.0)]  # still on at the end: the episode ends with the video
    smooth = AlarmPolicy(ExponentialSmoother(0.5), Hysteresis(off_ratio=0.8, min_on_s=0.0))
    smoothed = policy_trace(frames, p, 10.0, 3.0, RunPolicy(smooth, 0.5, "run threshold", ""))
    assert smoothed.smoothed[5] < 0.9 and smoothed.episodes[0][0] > 0.5  # the smoother delays the alarm
    silent = policy_trace(frames, p, 10.0, 3.0, RunPolicy(raw, float("inf"), "operating point", ""))
    assert silent.episodes == []  # the "no alarm" operating point


def test_run_policy_reads_metrics_json_and_refuses_a_malformed_one():
    policy = AlarmPolicy(ExponentialSmoother(0.25), Hysteresis(0.7, 0.2))
    point = {"threshold": 0.42, "chosen_on": "val", "cap_per_hour": 1.0}
    at_point = run_policy(
        {"run": {"threshold": 0.5}, "deployment": {"policy": policy.to_dict(), "operating_point": point}},
        "R/metrics.json",
    )
    assert (at_point.policy, at_point.threshold, at_point.basis) == (policy, 0.42, "operating point")
    assert at_point.describe.startswith("operating point 0.420, chosen on val for <= 1 false alarms/h: on when")
    at_run = run_policy(
        {"run": {"threshold": 0.5}, "deployment": {"policy": policy.to_dict(), "operating_point": None}},
        "R/metrics.json",
    )
    assert (at_run.threshold, at_run.basis) == (0.5, "run threshold") and "no operating point" in at_run.describe
    silent = run_policy(
        {"deployment": {"policy": policy.to_dict(), "operating_point": {**point, "threshold": None}}}, "R/metrics.json"
    )
    assert silent.threshold == float("inf") and "no alarm" in silent.describe
    with pytest.raises(PolicyError, match=r"R/metrics.json: deployment.policy is missing .* Fix: re-run"):
        run_policy({"run": {"threshold": 0.5}, "deployment": {"at_threshold": {}}}, "R/metrics.json")
    bad = {**policy.to_dict(), "rule": {"kind": "hysteresis", "off_ratio": 1.5, "min_on_s": 0.2}}
    with pytest.raises(PolicyError, match=r"R/metrics.json: deployment.policy.rule: alarm off_ratio=1.5 .* Fix"):
        run_policy({"run": {"threshold": 0.5}, "deployment": {"policy": bad}}, "R/metrics.json")
    with pytest.raises(PolicyError, match=r"deployment.operating_point.threshold=2 is not a probability"):
        run_policy({"deployment": {"policy": policy.to_dict(), "operating_point": {**point, "threshold": 2}}}, "R")


def test_clip_from_frame_folder_has_the_tables_frames_and_duration(tmp_path):
    folder = write_frame_folder(tmp_path / "frames" / "v" / "images", FRAMES)
    clip = write_clip(folder, tmp_path / "clips" / "v.mp4", 10.0, FRAMES, ClipSettings(short_side=96))
    frames, duration = _decoded(clip)
    assert len(frames) == FRAMES and duration == pytest.approx(FRAMES / 10.0, abs=0.01)
    brightness = [f[-5:, :20].mean() for f in frames]  # the bottom-left corner: 8 * index
    assert np.allclose(brightness, [8 * i for i in range(FRAMES)], atol=4)


def test_clip_from_a_30fps_file_takes_the_frame_at_each_target_time(tmp_path):
    video = write_video(tmp_path / "v.mp4", 90, 30)
    frames, duration = _decoded(write_clip(video, tmp_path / "c.mp4", 10.0, FRAMES, ClipSettings()))
    assert len(frames) == FRAMES and duration == pytest.approx(3.0, abs=0.01)
    assert np.allclose([f[-5:, :20].mean() for f in frames], [8 * i for i in range(FRAMES)], atol=4)
    assert frames[0].shape == (96, 160, 3)  # never upscaled past the source (short side 96 < 240)


def test_a_ten_second_clip_stays_under_a_megabyte(tmp_path):
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (720, 1400, 3), dtype=np.uint8)  # detailed content panning: a hard case
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(100):
        av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[:, 6 * i : 6 * i + 1280])).to_image().save(
            folder / f"{i:06d}.jpg", quality=85
        )
    clip = write_clip(folder, tmp_path / "c.mp4", 10.0, 100, ClipSettings())
    assert clip.stat().st_size <= 1_000_000, f"{clip.stat().st_size / 1e6:.2f} MB for 10 s"
    assert _decoded(clip)[0][0].shape == (240, 426, 3)


def test_unreadable_and_empty_sources_raise_the_reason(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ClipError, match="bad.mp4 could not be read"):
        write_clip(bad, tmp_path / "out.mp4", 10.0, 30, ClipSettings())
    broken = write_frame_folder(tmp_path / "broken", 3)
    (broken / "000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ClipError, match="unreadable: .*broken could not be read \\(UnidentifiedImageError"):
        write_clip(broken, tmp_path / "out.mp4", 10.0, 3, ClipSettings())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClipError, match="holds no JPEG / PNG image"):
        write_clip(tmp_path / "empty", tmp_path / "out.mp4", 10.0, 30, ClipSettings())
    assert not (tmp_path / "out.mp4").exists()  # nothing half-written


def test_find_videos_in_dota_and_bdd_layouts(tmp_path):
    write_frame_folder(tmp_path / "dota" / "frames" / "clip_1" / "images", 2)
    write_frame_folder(tmp_path / "plain" / "clip_2", 2)
    write_video(tmp_path / "bdd" / "videos" / "100k" / "val" / "abc.mov", 3, 30)
    found = find_videos([tmp_path], ["clip_1", "clip_2", "abc", "absent"])
    assert found == {
        "clip_1": tmp_path / "dota" / "frames" / "clip_1" / "images",
        "clip_2": tmp_path / "plain" / "clip_2",
        "abc": tmp_path / "bdd" / "videos" / "100k" / "val" / "abc.mov",
    }
    with pytest.raises(FileNotFoundError, match="videos: .*nowhere is not a folder. Fix"):
        find_videos([tmp_path / "nowhere"], ["abc"])


def test_written_page_holds_every_video_and_its_reasons(small_review):
    out = small_review["index"].parent
    text = (out / "data.js").read_text()
    data = json.loads(re.fullmatch(r"window\.REVIEW_DATA = (.*);\n", text, re.S).group(1))
    ids = sorted(set().union(*(set(run.table["video_id"]) for run in small_review["runs"])))
    assert [v["id"] for v in data["videos"]] == ids
    clips = {v["id"]: v["clip"] for v in data["videos"]}
    assert all(clips[f"dota_{v:02d}"] for v in range(6)) and all(clips[f"bdd_{v:02d}"] for v in (6, 7, 8))
    reasons = {v["id"]: v["missing"] for v in data["videos"] if v["missing"]}
    assert set(reasons) == {"bdd_09", "bdd_10", "bdd_11"}
    assert reasons["bdd_09"].startswith("unreadable: ") and "could not be read" in reasons["bdd_09"]
    assert reasons["bdd_11"].startswith("not found: no video file or frame folder named 'bdd_11'")
    for k in range(len(ids)):  # every video's timelines, whatever its clip
        assert (out / "series" / f"{k}.js").read_text().startswith(f"REVIEW.addSeries({k}, [")
    for name in ("index.html", "review.js", "review.css"):
        assert (out / name).stat().st_size > 500
    assert "http" not in (out / "index.html").read_text() + (out / "review.js").read_text()  # nothing from a CDN


def _page_data(out: Path) -> tuple[dict, list]:
    """(data.js's REVIEW_DATA, every video's series/<k>.js list)."""
    text = (out / "data.js").read_text()
    data = json.loads(re.fullmatch(r"window\.REVIEW_DATA = (.*);\n", text, re.S).group(1))
    series = []
    for k in range(len(data["videos"])):
        text = (out / "series" / f"{k}.js").read_text()
        series.append(json.loads(text[text.index("[") : text.rindex(")")]))
    return data, series


def test_table_and_timelines_are_one_replay_of_each_runs_policy(small_review):
    data, series = _page_data(small_review["index"].parent)
    for r, run in enumerate(small_review["runs"]):
        deployment = run.metrics["deployment"]
        assert data["runs"][r]["basis"] == "operating point"
        assert data["runs"][r]["threshold"] == deployment["operating_point"]["threshold"]
        assert data["runs"][r]["reference"]["key"] == "operating_point"
        policy = AlarmPolicy.from_dict(deployment["policy"])
        assert policy.describe(data["runs"][r]["threshold"]) in data["runs"][r]["policy"]
        for video, timelines in zip(data["videos"], series):
            row, timeline = video["runs"][r], timelines[r]
            first = timeline["episodes"][0][0] if timeline["episodes"] else None
            assert row[1] == pytest.approx(first, abs=1e-3) if first is not None else row[1] is None, video["id"]
            if video["id"].startswith("bdd"):  # a negative: its FA episodes are the drawn on-events
                assert (
                    row[3]
                    == len(timeline["episodes"])
                    == deployment["operating_point"]["alarm_events_per_video"][video["id"]]
                )


def test_page_files_are_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"evaluation/review/\*\.html"', pyproject) and re.search(r'"evaluation/review/\*\.js"', pyproject)


def test_a_no_alarm_operating_point_raises_no_alarm_and_agrees_with_metrics_json(tmp_path):
    from riskvision.alarm import OperatingPoint
    from riskvision.evaluation.report import Run
    from riskvision.evaluation.review import write_review
    from riskvision.evaluation.summary import jsonable

    table = synthetic_table("binary", n_crash=3, n_normal=3)
    point = OperatingPoint(float("inf"), 0.0, "val", AlarmPolicy(), float("nan"), float("nan"), 1)
    metrics = jsonable(
        {"run": {"threshold": 0.5}, "deployment": deployment_metrics(table, 0.5, n_boot=2, operating_point=point)}
    )
    assert metrics["deployment"]["operating_point"]["threshold"] is None  # as metrics.json stores it
    out = write_review([Run("r", tmp_path, table, metrics)], tmp_path / "review").parent
    data, series = _page_data(out)
    assert data["runs"][0]["threshold"] is None and data["runs"][0]["basis"] == "operating point"
    assert "no alarm" in data["runs"][0]["policy"]
    assert {OUTCOMES[v["runs"][0][4]] for v in data["videos"]} == {"missed", "correct rejection"}
    assert all(timelines[0]["episodes"] == [] for timelines in series)
    assert data["runs"][0]["reference"] == {
        "key": "operating_point",
        "n_positive": 3,
        "n_negative": 3,
        "false_alarms": 0.0,
        "detected": 0,
    }


def test_review_script_writes_the_page(small_review, tmp_path):
    out = tmp_path / "out"
    folders = ",".join(str(f) for f in small_review["folders"])
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/review.py",
            f"runs=[{folders}]",
            f"videos=[{small_review['data']}]",
            f"hydra.run.dir={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Review page:" in proc.stdout and (out / "review" / "index.html").is_file()
    assert len(list((out / "review" / "clips").glob("*.mp4"))) == 9
    first = _page_data(out / "review")[1][0][0]
    stored = AlarmPolicy.from_dict(small_review["runs"][0].metrics["deployment"]["policy"])  # exponential 0.5 s
    times = np.asarray(first["frames"]) / small_review["fps"]
    assert first["smoothed"] != first["p"]
    assert np.allclose(first["smoothed"], stored.smooth(times, np.asarray(first["p"])), atol=2e-4)


def test_review_script_refuses_a_malformed_policy_in_metrics_json(small_review, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_review["folders"][0], run)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["deployment"]["policy"]["smoothing"] = {"kind": "__import__('os')"}
    (run / "metrics.json").write_text(json.dumps(metrics))
    proc = subprocess.run(
        [sys.executable, "scripts/review.py", f"runs=[{run}]", f"hydra.run.dir={tmp_path / 'out'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"{run / 'metrics.json'}: deployment.policy.smoothing.kind=\"__import__('os')\" is not one of" in proc.stderr
    assert not (tmp_path / "out" / "review" / "data.js").exists()


def test_review_script_refuses_a_missing_videos_folder(small_review, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/review.py",
            f"runs=[{small_review['folders'][0]}]",
            f"videos=[{tmp_path / 'nowhere'}]",
            f"hydra.run.dir={tmp_path / 'out'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "is not a folder. Fix:" in proc.stderr


def test_a_missing_browser_skips_outside_ci_and_fails_under_it(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        browser_unavailable("no chromium on PATH")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser_unavailable("no chromium on PATH")


def test_clip_cache_copies_a_clip_once_written_and_encodes_a_changed_source_again(tmp_path, monkeypatch):
    from riskvision.evaluation.review import clips

    folder = write_frame_folder(tmp_path / "v", 10)
    settings = ClipSettings(cache=str(tmp_path / "cache"))
    first = clips.make_clip(folder, tmp_path / "a.mp4", 10.0, 10, settings)
    encoded = []

    def encode(*args):
        encoded.append(args)
        raise ClipError("encoded")

    monkeypatch.setattr(clips, "write_clip", encode)
    second = clips.make_clip(folder, tmp_path / "b.mp4", 10.0, 10, settings)
    assert encoded == [] and second.read_bytes() == first.read_bytes()  # copied from the cache
    with pytest.raises(ClipError):  # other settings: another clip
        clips.make_clip(folder, tmp_path / "c.mp4", 10.0, 10, ClipSettings(cache=settings.cache, qp=20))
    write_frame_folder(tmp_path / "v", 11)  # one more frame: another source
    with pytest.raises(ClipError):
        clips.make_clip(folder, tmp_path / "d.mp4", 10.0, 10, settings)
    assert len(encoded) == 2 and len(list((tmp_path / "cache").glob("*.mp4"))) == 1


def test_a_data_config_locates_the_videos_and_alert_times(tmp_path):
    from omegaconf import OmegaConf

    from riskvision.evaluation.report import Run
    from riskvision.evaluation.review import ReviewSettings, write_review
    from riskvision.evaluation.review.locate import VideoLocation, locate_videos

    config = OmegaConf.create(
        {
            "data": {
                "synthetic": {
                    "_target_": "riskvision.data.sources.synthetic.SyntheticSource",
                    "_convert_": "all",
                    "root": str(tmp_path / "syn"),
                    "num_crash": 2,
                    "num_normal": 2,
                    "width": 64,
                    "height": 48,
                    "crash_seconds": [1.0, 1.0],
                    "normal_seconds": [1.0, 1.0],
                },
                "sources": {"synthetic": "${data.synthetic}", "unused": None},
            }
        }
    )
    located = locate_videos(config.data)
    assert len(located) == 4 and all(place.path.exists() for place in located.values())
    crash = sorted(i for i in located if located[i].path.is_dir())  # DoTA-format frame folders
    normal = sorted(i for i in located if not located[i].path.is_dir())  # BDD-format MP4 files
    table = synthetic_table("binary", n_crash=1, n_normal=1)
    table["video_id"] = table["video_id"].map({"dota_00": crash[0], "bdd_01": normal[0]})  # record ids
    located[crash[0]] = VideoLocation(located[crash[0]].path, alert_s=1.2)
    metrics = {"run": {"threshold": 0.5}, "deployment": deployment_metrics(table, 0.5, n_boot=2)}
    out = write_review([Run("r", tmp_path, table, metrics)], tmp_path / "review", ReviewSettings(located=located))
    text = (out.parent / "data.js").read_text()
    videos = json.loads(re.fullmatch(r"window\.REVIEW_DATA = (.*);\n", text, re.S).group(1))["videos"]
    by_id = {v["id"]: v for v in videos}
    assert by_id[crash[0]]["alert"] == 1.2 and by_id[normal[0]]["alert"] is None
    assert all(v["missing"] is None and (out.parent / v["clip"]).stat().st_size > 0 for v in videos)
