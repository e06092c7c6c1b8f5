"""Bad and unusual video files: variable frame rate (frames picked by timestamp), truncated files, files that
do not decode, still images named .mp4, and the containers the BDD index reads (.mkv, .avi, .mov)."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from riskvision.data.check import check, verify_videos
from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.readers import FrameReadError, VideoFileReader, count_decoded_frames, probe_video, resize_frame
from riskvision.data.records import DataWarning, VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.sources.bdd import BddSource, build_bdd_index

VFR_PTS = [0, 1, 2, 5, 6, 7, 12, 13, 14, 15]  # in 1/30 s: 10 frames over 16/30 s, gaps after frames 2 and 5


def _level(i: int) -> int:
    return 20 + 22 * (i % 10)


def _write(
    path: Path,
    pts: list[int],
    fmt: str | None = None,
    codec: str = "libx264",
    textured: bool = False,
    options: dict | None = None,
) -> Path:
    """Frame ``k`` at time ``pts[k] / 30`` s, grey ``_level(k)`` (random texture when ``textured``), 32 x 32."""
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt, options=options or {}) as container:
        stream = container.add_stream(codec, rate=30)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 30)
        for k, t in enumerate(pts):
            array = (
                rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                if textured
                else np.full((32, 32, 3), _level(k), np.uint8)
            )
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 30)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _record(path: Path) -> VideoRecord:
    fps, count = probe_video(path)
    return VideoRecord(path.stem, "bdd", path, "video", fps, count)


def _levels(frames: torch.Tensor) -> list[int]:
    return [round((float(f.float().mean()) - 20) / 22) for f in frames]


def test_variable_frame_rate_frames_are_picked_by_timestamp_without_warnings(tmp_path):
    """Native index i is time i / average fps (10 frames / (16/30 s) = 18.75 fps); it takes the first frame
    within half a frame of it, else the frame on screen then. Rounding each frame's position to an index
    instead would leave indices 2, 5, 6, 7 without a frame and substitute them with warnings."""
    record = _record(_write(tmp_path / "vfr.mp4", VFR_PTS))
    assert (record.native_fps, record.num_frames) == (18.75, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = VideoFileReader(None).read(record, range(10))
    assert result.substituted == []
    # frame k is at position pts[k] / 30 * 18.75 = 0, .6, 1.3, 3.1, 3.8, 4.4, 7.5, 8.1, 8.8, 9.4
    assert _levels(result.frames) == [0, 1, 2, 3, 4, 5, 5, 6, 7, 8]
    sparse = VideoFileReader(None, reseek_gap=1).read(record, [9, 0, 6, 2])  # seeking gives the same frames
    assert _levels(sparse.frames) == [8, 0, 5, 2]


def test_truncated_video_that_still_opens_substitutes_missing_frames_and_check_names_it(tmp_path):
    """An MP4 with its index first (faststart) cut at 60%: it opens and states 30 frames; fewer decode."""
    full = _write(tmp_path / "full.mp4", list(range(30)), textured=True, options={"movflags": "faststart"})
    cut = tmp_path / "videos/100k/val/cut-0001.mp4"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    record = _record(cut)
    decoded, _ = count_decoded_frames(cut)
    assert record.num_frames == 30 and 0 < decoded < 30
    with pytest.warns(UserWarning, match=rf"cut-0001.mp4:29 could not be decoded; using frame {decoded - 1}"):
        result = VideoFileReader((16, 16)).read(record, [0, 29])
    assert result.substituted == [f"{cut}:29"]
    dm = _module(tmp_path)
    dm.build_records()
    (issue,) = verify_videos(dm)
    assert (issue.kind, issue.fatal, issue.path) == ("frame_count", False, str(cut))
    assert f"states 30 frames but {decoded} decode" in issue.message and "ffmpeg -i" in issue.message


def test_video_with_no_decodable_frame_is_fatal_in_check_and_dropped_in_training(tmp_path):
    path = _write(tmp_path / "videos/100k/val/zero-0001.mp4", list(range(10)), options={"movflags": "faststart"})
    data = path.read_bytes()
    mdat = data.index(b"mdat") + 4
    path.write_bytes(data[:mdat] + bytes(len(data) - mdat))  # index intact, every frame zeroed
    _write(tmp_path / "videos/100k/val/good-0002.mp4", list(range(10)))
    dm = _module(tmp_path)
    dm.build_records()
    (issue,) = verify_videos(dm)
    assert (issue.kind, issue.fatal, issue.video_id) == ("unreadable_clip", True, "zero-0001")
    assert "no frame decodes" in issue.message
    dm.setup("test")
    dataset = dm.dataset("test", dm.sampler, train=False)
    with pytest.warns(DataWarning, match=r"dropping clip zero-0001 \(.*zero-0001.mp4\)"):
        assert {dataset[k]["video_id"] for k in range(len(dataset))} == {"good-0002"}


def test_still_image_named_mp4_is_reported_with_its_path_not_decoded(tmp_path):
    from PIL import Image

    still = tmp_path / "videos/100k/val/still-0001.mp4"
    still.parent.mkdir(parents=True)
    Image.new("RGB", (32, 32), (200, 0, 0)).save(still, format="PNG")
    with pytest.raises(FrameReadError, match=r"still-0001.mp4 is a still image \(png"):
        probe_video(still)
    with pytest.raises(FrameReadError, match="still image"):
        VideoFileReader(None).read(VideoRecord("s", "bdd", still, "video", 25.0, 1), [0])
    _write(tmp_path / "videos/100k/val/good-0002.mp4", list(range(5)))
    issues = []
    with pytest.warns(DataWarning, match="still-0001.mp4"):
        records = build_bdd_index(tmp_path, issues=issues)
    assert [r.video_id for r in records] == ["good-0002"]
    assert [(i.kind, i.path) for i in issues] == [("unreadable_video", str(still))]
    assert "still image" in issues[0].message


@pytest.mark.parametrize(
    ("name", "fmt", "codec"),
    [
        ("a.mkv", "matroska", "libx264"),
        ("b.avi", "avi", "mpeg4"),
        ("c.mov", "mov", "libx264"),
        ("d.webm", "webm", "libvpx-vp9"),
    ],
)
def test_bdd_index_reads_other_containers(tmp_path, name, fmt, codec):
    """.mkv (no frame count in the header: packets are counted), .avi, .mov and .webm are indexed and read."""
    path = _write(tmp_path / "videos/100k/val" / name, list(range(12)), fmt=fmt, codec=codec)
    (record,) = build_bdd_index(tmp_path)
    assert (record.video_id, record.native_fps, record.num_frames) == (path.stem, 30.0, 12)
    with av.open(str(path)) as container:
        reference = [resize_frame(f.to_ndarray(format="rgb24"), None) for f in container.decode(video=0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = VideoFileReader(None).read(record, [11, 0, 5]).frames
    for frame, i in zip(frames, [11, 0, 5]):
        assert torch.equal(frame, reference[i]), i


def test_bdd_index_lists_the_files_it_skips(tmp_path):
    _write(tmp_path / "videos/100k/val/good-0001.mp4", list(range(5)))
    (tmp_path / "videos/100k/val/notes.txt").write_text("x")
    (tmp_path / "videos/100k/val/clip.flv").write_bytes(b"x")
    (tmp_path / "videos/100k/val/.hidden").write_bytes(b"x")
    issues = []
    with pytest.warns(DataWarning, match="not a video file BDD reads"):
        (record,) = build_bdd_index(tmp_path, issues=issues)
    assert sorted((i.kind, Path(i.path).name) for i in issues) == [
        ("skipped_file", "clip.flv"),
        ("skipped_file", "notes.txt"),
    ]


def test_check_decodes_videos_only_when_asked_and_vfr_is_not_damage(tmp_path):
    _write(tmp_path / "videos/100k/val/vfr-0001.mp4", VFR_PTS)
    _write(tmp_path / "videos/100k/val/cfr-0002.mkv", list(range(10)))
    dm = _module(tmp_path)
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("riskvision.data.check.count_decoded_frames", lambda path: calls.append(path) or (0, None))
        check(dm)
    assert calls == []  # verify_videos is opt-in (check_data.py verify_videos=true)
    _, problems = check(dm, videos=True)
    assert not [p for p in problems if p.kind in ("frame_count", "unreadable_clip")]


def _module(root: Path) -> RiskDataModule:
    """BDD videos under ``root/videos/100k/val`` (the test split), 2-frame windows of 8 x 8."""
    return RiskDataModule(
        {"bdd": BddSource(root)},
        samplers={"window": WindowSampler(2)},
        sampler="window",
        frames=FrameConfig(size=(8, 8)),
        loader=LoaderConfig(eval_batch_size=4),
    )
