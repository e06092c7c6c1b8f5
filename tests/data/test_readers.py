"""Frame readers: JPEG folders (draft decode, corrupt files) and video files (seek + decode forward)."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from riskvision.data.readers import (
    FrameDecodeError,
    FrameReadError,
    JpegFolderReader,
    VideoFileReader,
    probe_video,
    reader_for,
    resize_frame,
)
from riskvision.data.records import VideoRecord


def _level(i: int) -> int:
    """Grey level that identifies frame ``i`` after JPEG/H.264 and resizing."""
    return 20 + 25 * i


def _frame_folder(root: Path, n: int, size: tuple[int, int] = (96, 160)) -> VideoRecord:
    """``n`` flat-grey JPEG frames ``000000.jpg``... of ``size`` (H, W), frame ``i`` at ``_level(i)``."""
    root.mkdir(parents=True)
    names = []
    for i in range(n):
        names.append(f"{i:06d}.jpg")
        Image.new("RGB", size[::-1], (_level(i),) * 3).save(root / names[-1], quality=95)
    return VideoRecord("clip_000001", "dota", root, "frames", 10.0, n, frame_files=tuple(names))


def _levels(frames: torch.Tensor) -> list[int]:
    """Frame index recovered from each frame's mean grey level."""
    return [round((float(f.float().mean()) - 20) / 25) for f in frames]


def _mp4(path: Path, n: int, fps: int = 30, gop: int = 6, size: tuple[int, int] = (64, 96)) -> VideoRecord:
    """An H.264 MP4 of ``n`` frames at ``fps`` with a keyframe every ``gop`` frames and textured content."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "2"}
        for i in range(n):
            array = np.clip(rng.normal(_level(i % 9), 20, (*size, 3)), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return VideoRecord("vid-1", "bdd", path, "video", float(fps), n)


def _all_frames(path: Path, size: tuple[int, int] | None) -> list[torch.Tensor]:
    """Reference: every frame decoded sequentially from the start, resized like the reader."""
    with av.open(str(path)) as container:
        return [resize_frame(f.to_ndarray(format="rgb24"), size) for f in container.decode(video=0)]


def test_jpeg_reader_returns_requested_frames_in_order_with_repeats(tmp_path):
    record = _frame_folder(tmp_path / "clip", 6)
    indices = [4, 0, 0, 5, 2, 4]
    result = reader_for(record, (48, 64)).read(record, indices)
    assert result.frames.dtype == torch.uint8
    assert result.frames.shape == (6, 3, 48, 64)
    assert _levels(result.frames) == indices
    assert result.substituted == []


def test_jpeg_reader_native_size_when_size_is_none(tmp_path):
    record = _frame_folder(tmp_path / "clip", 2, size=(40, 72))
    assert JpegFolderReader(None).read(record, [1]).frames.shape == (1, 3, 40, 72)


@pytest.mark.parametrize(
    ("target", "fraction", "decoded"),
    [
        ((224, 224), 1.0, (360, 640)),
        ((100, 100), 1.0, (180, 320)),
        ((224, 224), 0.8, (180, 320)),
        ((800, 800), 1.0, (720, 1280)),
    ],
)
def test_draft_decodes_at_largest_reduction_not_below_target(tmp_path, monkeypatch, target, fraction, decoded):
    """1280x720: the DCT-scaled decode keeps both sides >= fraction x target (PIL draft scales 1/2, 1/4, 1/8)."""
    Image.new("RGB", (1280, 720), (90, 120, 150)).save(tmp_path / "f.jpg")
    seen = []
    shape = lambda a: tuple(a.shape[:2]) if isinstance(a, np.ndarray) else tuple(a.shape[1:])  # noqa: E731
    monkeypatch.setattr("riskvision.data.readers.resize_frame", lambda a, s: seen.append(shape(a)) or a)
    JpegFolderReader(target, min_decode_fraction=fraction).decode(tmp_path / "f.jpg")
    assert seen == [decoded]


def test_both_decoders_match_pil_full_decode(tmp_path):
    """Without a resize, our decoder gives PIL's pixels (same libjpeg-turbo, accurate IDCT and upsampling)."""
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(tmp_path / "f.jpg", quality=85)
    reference = torch.from_numpy(np.asarray(Image.open(tmp_path / "f.jpg").convert("RGB")).copy()).permute(2, 0, 1)
    assert torch.equal(JpegFolderReader(None).decode(tmp_path / "f.jpg"), reference)
    assert torch.equal(JpegFolderReader((60, 80)).decode(tmp_path / "f.jpg"), reference)
    Image.open(tmp_path / "f.jpg").save(tmp_path / "f.png")
    assert torch.equal(JpegFolderReader((60, 80)).decode(tmp_path / "f.png"), reference)


@pytest.mark.parametrize("chunk_size", [1, 3, 8])
@pytest.mark.parametrize("size", [(36, 48), None], ids=["resized", "native"])
def test_decode_many_equals_decoding_each_file_alone(tmp_path, chunk_size, size):
    """Chunked decoding (shared buffer, one resize per chunk) gives each file's own decode, whatever the mix."""
    rng = np.random.default_rng(3)
    paths = []

    def save(name: str, shape: tuple[int, int], **kwargs) -> None:
        paths.append(tmp_path / name)
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).convert(kwargs.pop("mode", "RGB")).save(
            paths[-1], **kwargs
        )

    save("a.jpg", (72, 128), quality=90)
    save("b.jpg", (72, 128), quality=90)
    save("other-size.jpg", (90, 120), quality=90)
    save("c.jpg", (72, 128), quality=90)
    save("cmyk.jpg", (72, 128), mode="CMYK", quality=90)
    save("d.png", (72, 128))
    paths.append(tmp_path / "empty.jpg")
    paths[-1].write_bytes(b"")
    paths.append(tmp_path / "missing.jpg")
    save("e.jpg", (72, 128), quality=90)
    reader = JpegFolderReader(size, chunk_size=chunk_size)
    many = reader.decode_many(paths)
    assert [isinstance(m, FrameDecodeError) for m in many] == [p.name in ("empty.jpg", "missing.jpg") for p in paths]
    for path, got in zip(paths, many):
        if isinstance(got, torch.Tensor):
            assert torch.equal(got, reader.decode(path)), path.name
            assert got.shape[1:] == (size or Image.open(path).size[::-1])


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size"):
        JpegFolderReader((32, 32), chunk_size=0)


def test_draft_decode_is_close_to_full_decode_and_resize(tmp_path):
    """Textured 1280x720 JPEG: draft 1/2 + antialiased resize vs PIL full decode + BILINEAR resize."""
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    Image.fromarray(small).resize((1280, 720), Image.BICUBIC).save(tmp_path / "f.jpg", quality=90)
    ours = JpegFolderReader((224, 224)).decode(tmp_path / "f.jpg").permute(1, 2, 0).numpy().astype(float)
    reference = np.asarray(Image.open(tmp_path / "f.jpg").convert("RGB").resize((224, 224), Image.BILINEAR))
    psnr = 10 * np.log10(255**2 / np.mean((ours - reference) ** 2))
    assert psnr > 35


@pytest.mark.parametrize("size", [(48, 64), (90, 120)], ids=["pil-draft", "torchvision-decoder"])
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_corrupt_jpeg_is_replaced_by_nearest_readable_frame_with_one_warning(tmp_path, damage, size):
    record = _frame_folder(tmp_path / "clip", 6)
    bad = record.path / record.frame_files[3]
    content = {"empty": b"", "truncated": bad.read_bytes()[:200], "garbage": b"not a jpeg" * 50}[damage]
    bad.write_bytes(content)
    with pytest.warns(UserWarning, match=str(bad.name)) as caught:
        result = JpegFolderReader(size).read(record, [3, 5, 3])
    assert len([w for w in caught if "unreadable frame" in str(w.message)]) == 1
    assert result.substituted == [str(bad)]
    assert _levels(result.frames) == [2, 5, 2]  # 2 and 4 are equally near: the earlier one wins


def test_nearest_readable_frame_skips_several_bad_neighbours(tmp_path):
    record = _frame_folder(tmp_path / "clip", 6)
    for i in (0, 1, 2):
        (record.path / record.frame_files[i]).write_bytes(b"")
    with pytest.warns(UserWarning):
        result = JpegFolderReader(None).read(record, [0])
    assert _levels(result.frames) == [3]


def test_all_frames_unreadable_raises_frame_read_error_naming_folder(tmp_path):
    record = _frame_folder(tmp_path / "clip", 3)
    for name in record.frame_files:
        (record.path / name).write_bytes(b"")
    with pytest.raises(FrameReadError, match="clip"):
        JpegFolderReader(None).read(record, [1])


def test_missing_folder_and_bad_indices_raise(tmp_path):
    record = VideoRecord("x", "dota", tmp_path / "nope", "frames", 10.0, 3, frame_files=("a.jpg",) * 3)
    with pytest.raises(FrameReadError, match="nope"):
        JpegFolderReader(None).read(record, [0])
    record = _frame_folder(tmp_path / "clip", 3)
    with pytest.raises(IndexError, match="outside"):
        JpegFolderReader(None).read(record, [3])


def test_reader_for_dispatches_on_kind(tmp_path):
    frames = VideoRecord("a", "dota", tmp_path, "frames", 10.0, 1)
    video = VideoRecord("b", "bdd", tmp_path / "b.mp4", "video", 30.0, 1)
    assert isinstance(reader_for(frames, None), JpegFolderReader)
    reader = reader_for(video, (32, 32))
    assert isinstance(reader, VideoFileReader) and reader.size == (32, 32)
    with pytest.raises(ValueError, match="'npz'"):
        reader_for(VideoRecord("c", "bdd", tmp_path, "npz", 30.0, 1), None)


def test_dota_bdd_config_passes_min_decode_fraction_to_the_jpeg_reader(tmp_path):
    """data=dota_bdd's reader_factory reaches JpegFolderReader; a command-line override changes it."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    def node(*overrides):
        with initialize_config_dir(config_dir=str(Path(__file__).parents[2] / "conf"), version_base="1.3"):
            return compose("check_data", ["data=dota_bdd", "data.dota_root=/x", *overrides]).data.frames.reader_factory

    frames = VideoRecord("a", "dota", tmp_path, "frames", 10.0, 1)
    assert instantiate(node())(frames, (224, 224)).min_decode_fraction == 1.0
    node = node("data.frames.reader_factory.min_decode_fraction=0.8")
    reader = instantiate(node)(frames, (224, 224))
    assert isinstance(reader, JpegFolderReader) and reader.min_decode_fraction == 0.8 and reader.size == (224, 224)
    assert isinstance(
        instantiate(node)(VideoRecord("b", "bdd", tmp_path / "b.mp4", "video", 30.0, 1), None), VideoFileReader
    )


def test_probe_video_reports_fps_and_frame_count(tmp_path):
    _mp4(tmp_path / "v.mp4", 25)
    fps, n = probe_video(tmp_path / "v.mp4")
    assert fps == pytest.approx(30.0) and n == 25


def test_probe_video_counts_packets_when_container_has_no_count(tmp_path, monkeypatch):
    _mp4(tmp_path / "v.mp4", 25)
    monkeypatch.setattr(av.video.stream.VideoStream, "frames", property(lambda self: 0))
    assert probe_video(tmp_path / "v.mp4") == (pytest.approx(30.0), 25)


@pytest.mark.parametrize("thread_type", ["AUTO", "NONE"])
@pytest.mark.parametrize("reseek_gap", [2, 1000])
def test_video_reader_matches_sequential_decode(tmp_path, thread_type, reseek_gap):
    """Unsorted, repeated, sparse indices (crossing keyframes) equal the frames of a full decode."""
    record = _mp4(tmp_path / "v.mp4", 60)
    reference = _all_frames(record.path, (32, 48))
    indices = [45, 3, 3, 0, 59, 30, 31, 12]
    reader = VideoFileReader((32, 48), thread_type=thread_type, reseek_gap=reseek_gap)
    result = reader.read(record, indices)
    assert result.frames.shape == (8, 3, 32, 48)
    assert result.substituted == []
    for frame, i in zip(result.frames, indices):
        assert torch.equal(frame, reference[i]), i


def test_video_reader_decodes_only_from_keyframe_before_first_needed_frame(tmp_path, monkeypatch):
    """Reading frames 40..42 of a GOP-6 video converts 3 frames and decodes from keyframe 36 only."""
    record = _mp4(tmp_path / "v.mp4", 60)
    decoded_pts = []
    original = av.container.InputContainer.decode

    def spy(self, *args, **kwargs):
        for frame in original(self, *args, **kwargs):
            decoded_pts.append(frame.pts)
            yield frame

    monkeypatch.setattr(av.container.InputContainer, "decode", spy)
    VideoFileReader(None, thread_type="NONE").read(record, [40, 41, 42])
    with av.open(str(record.path)) as container:
        time_base = container.streams.video[0].time_base  # read while open: PyAV 18 refuses a closed container
    assert [round(pts * time_base * Fraction(30)) for pts in decoded_pts] == list(range(36, 43))


def test_video_frames_beyond_stream_end_are_substituted_with_warning(tmp_path):
    record = _mp4(tmp_path / "v.mp4", 20)
    overstated = VideoRecord("vid-1", "bdd", record.path, "video", 30.0, 23)
    with pytest.warns(UserWarning, match="v.mp4:22"):
        result = VideoFileReader(None).read(overstated, [18, 22])
    assert result.substituted == [f"{record.path}:22"]
    assert torch.equal(result.frames[1], _all_frames(record.path, None)[19])


def test_unreadable_video_raises_frame_read_error_naming_file(tmp_path):
    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(FrameReadError, match="broken.mov"):
        probe_video(bad)
    with pytest.raises(FrameReadError, match="broken.mov"):
        VideoFileReader(None).read(VideoRecord("b", "bdd", bad, "video", 30.0, 5), [0])


def test_jpeg_and_video_paths_resize_with_the_same_filter():
    array = np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    ours = resize_frame(array, (30, 40)).permute(1, 2, 0).numpy().astype(int)
    pil = np.asarray(Image.fromarray(array).resize((40, 30), Image.BILINEAR)).astype(int)
    assert np.abs(ours - pil).max() <= 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resize_frame(array, None).shape == (3, 90, 160)
