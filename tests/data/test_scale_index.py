"""Issue 28: the compact frame-name form and the lazy stand-in walk give the SAME clips, stand-ins and frames as
the tuple of names and the eager candidate list they replace (reference implementations below)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from riskvision.data.dataset import ClipDataset, ClipIndex
from riskvision.data.labels import LabelPolicy
from riskvision.data.readers import FrameReader, FrameReadError, JpegFolderReader
from riskvision.data.records import FrameNames, VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.timebase import to_target

NAME_LISTS = [
    [f"{i:06d}.jpg" for i in range(7)],  # DoTA: a pattern
    [f"{i:06d}.jpg" for i in range(1, 401)],  # BDD seed frames, numbered from 1
    [f"frame_{i}.png" for i in range(8, 12)],  # unpadded numbers crossing a digit
    ["000000.jpg", "000001.jpg", "000001.jpg", "000003.jpg"],  # a gap filled by its neighbour
    ["b.jpg", "a.jpg", "é.jpg", "x.JPG"],  # no pattern: the buffer form
    ["0009.jpg", "0010.jpg", "011.jpg"],  # digits widths differ: the buffer form
]


@pytest.mark.parametrize("names", NAME_LISTS)
def test_frame_names_hold_exactly_the_names_given(names):
    compact = FrameNames(names)
    assert list(compact) == names and len(compact) == len(names)
    assert [compact[i] for i in range(-len(names), len(names))] == names + names
    assert compact == tuple(names) and tuple(names) == compact and compact[1:3] == tuple(names[1:3])
    assert pickle.loads(pickle.dumps(compact)) == compact and hash(compact) == hash(tuple(names))
    with pytest.raises(IndexError):
        compact[len(names)]


def test_records_store_frame_names_compactly_and_patterns_hold_no_name_data():
    record = VideoRecord("c", "dota", Path("/x"), "frames", 10.0, 400, frame_files=tuple(NAME_LISTS[1]))
    assert isinstance(record.frame_files, FrameNames) and record.frame_files.nbytes == 0
    assert record.frame_files == tuple(NAME_LISTS[1])
    odd = VideoRecord("d", "dota", Path("/x"), "frames", 10.0, 4, frame_files=tuple(NAME_LISTS[4]))
    assert odd.frame_files.nbytes > 0 and list(odd.frame_files) == NAME_LISTS[4]


class _Reader(FrameReader):
    """Returns each frame's native index as its pixel value; the videos in ``broken`` cannot be read."""

    def __init__(self, broken: set[str]) -> None:
        self.broken = broken

    def read(self, record, native_indices):
        if record.video_id in self.broken:
            raise FrameReadError(f"{record.video_id} broken")
        frames = torch.tensor([int(record.frame_files[i][:6]) for i in native_indices], dtype=torch.uint8)

        class Result:
            pass

        result = Result()
        result.frames, result.substituted = frames.view(-1, 1, 1, 1).expand(-1, 3, 2, 2).contiguous(), []
        return result


def _dataset(tmp_path, lengths, broken):
    records = [
        VideoRecord(
            f"v{k:02d}", "dota", tmp_path, "frames", 10.0, n, frame_files=tuple(f"{i:06d}.jpg" for i in range(n))
        )
        for k, n in enumerate(lengths)
    ]
    videos = [to_target(record, 10.0) for record in records]
    sampler = WindowSampler(3, eval_step=2)
    clips = ClipIndex(videos, sampler.eval_anchors)
    return ClipDataset(
        videos,
        clips,
        sampler,
        LabelPolicy(),
        normalize=lambda x: x,
        read_size=None,
        frame_size=(2, 2),
        reader_factory=lambda record, size: _Reader(broken),
    )


def _old_walk(dataset, index):
    """Today's __getitem__ (before issue 28): the eager candidate list ``[v, *range(v + 1, N), *range(v)]``."""
    v = dataset.clips[index][0]
    for candidate in [v, *range(v + 1, len(dataset.videos)), *range(v)]:
        if candidate in dataset.dropped or not dataset.clips.counts[candidate]:
            continue
        clip = index if candidate == v else int(dataset.clips.offsets[candidate])
        if dataset.videos[candidate].record.video_id in dataset.reader_factory(None, None).broken:
            dataset.dropped.add(candidate)
            continue
        video, frames = dataset.frames_of(clip)
        return video.record.video_id, frames, candidate != v
    return None


def test_clip_items_and_stand_ins_are_those_of_the_eager_walk(tmp_path):
    lengths, broken = [5, 0, 4, 6, 3, 0, 5], {"v02", "v03", "v06"}
    new, old = _dataset(tmp_path, lengths, broken), _dataset(tmp_path, lengths, broken)
    seen = []
    for index in [*range(len(new)), *reversed(range(len(new)))]:
        item = new[index]
        got = (item["video_id"], [int(x) for x in item["video"][:, 0, 0, 0]], bool(item["replaced"]))
        assert got == _old_walk(old, index)
        seen.append(got)
    assert new.dropped == old.dropped == {2, 3, 6}
    assert {video for video, _, replaced in seen if replaced} == {"v04", "v00"}  # v06 wraps to v00


class _CountingReader(JpegFolderReader):
    def __init__(self, size):
        super().__init__(size)
        self.reads = []

    def read(self, record, native_indices):
        self.reads.append((record.video_id, len(native_indices)))
        return super().read(record, native_indices)


def _jpeg_videos(root: Path, lengths: dict[str, int], damaged: dict[str, int]) -> list:
    rng = np.random.default_rng(0)
    records = []
    for name, n in lengths.items():
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(folder / f"{i:06d}.jpg")
        if name in damaged:
            (folder / f"{damaged[name]:06d}.jpg").write_bytes(b"not a jpeg")
        records.append(
            VideoRecord(name, "dota", folder, "frames", 10.0, n, frame_files=tuple(f"{i:06d}.jpg" for i in range(n)))
        )
    return [to_target(record, 10.0) for record in records]


def test_evaluation_clips_read_each_video_once_with_the_pixels_of_a_clip_read(tmp_path):
    videos = _jpeg_videos(tmp_path, {"a": 9, "b": 12, "c": 5}, damaged={"b": 4})
    sampler = WindowSampler(3, eval_step=2)
    readers = []

    def factory(record, size):
        readers.append(_CountingReader(size))
        return readers[-1]

    dataset = ClipDataset(
        videos,
        ClipIndex(videos, sampler.eval_anchors),
        sampler,
        LabelPolicy(),
        normalize=lambda x: x,
        read_size=(8, 8),
        frame_size=(8, 8),
        reader_factory=factory,
    )
    reference = JpegFolderReader((8, 8))
    for index in range(len(dataset)):
        video, frames = dataset.frames_of(index)
        want = reference.read(video.record, video.native_indices(frames))
        item = dataset[index]
        assert torch.equal(item["video"], want.frames) and int(item["substituted"]) == len(want.substituted)
    reads = readers[0].reads
    assert reads.count(("a", 9)) == 1 and reads.count(("c", 5)) == 1  # a: windows 0,2,4,6,8 use frames 0..8
    assert [r for r in reads if r[0] == "a"] == [("a", 9)]
    assert [r for r in reads if r[0] == "b"][1:] == [("b", 3)] * 6  # a substituted frame: read clip by clip


def test_validation_keeps_at_most_val_windows_per_video_evenly_strided_and_test_keeps_all():
    sampler = WindowSampler(10, eval_step=1, val_windows_per_video=16)
    assert sampler.val_anchors(100) == range(0, 100, 7) and len(sampler.val_anchors(100)) == 15
    assert sampler.val_anchors(16) == sampler.eval_anchors(16) == range(16)
    assert sampler.val_anchors(400) == range(0, 400, 25) and sampler.eval_anchors(400) == range(400)
    assert WindowSampler(10, eval_step=5).val_anchors(100) == range(0, 100, 5)
    with pytest.raises(ValueError, match="val_windows_per_video"):
        WindowSampler(10, val_windows_per_video=0)


def test_a_metadata_file_naming_thousands_of_missing_clips_is_one_line_per_kind(tmp_path, capsys):
    import json
    import warnings

    from riskvision.data.check import check, print_report
    from riskvision.data.datamodule import RiskDataModule
    from riskvision.data.records import DataWarning
    from riskvision.data.sources.dota import DotaSource

    entry = {"num_frames": 4, "anomaly_start": 1, "anomaly_end": 3, "anomaly_class": "ego: lateral"}
    metadata = {f"missing{k:05d}_000001": entry for k in range(2_000)}
    metadata["real_000001"] = entry
    (tmp_path / "metadata_train.json").write_text(json.dumps(metadata))
    (tmp_path / "metadata_val.json").write_text(json.dumps({}))
    folder = tmp_path / "frames" / "real_000001" / "images"
    folder.mkdir(parents=True)
    for i in range(4):
        Image.new("RGB", (8, 8)).save(folder / f"{i:06d}.jpg")
    dm = RiskDataModule({"dota": DotaSource(tmp_path)}, {"window": WindowSampler(3)}, "window")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.build_records()
    lines = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(dm.issues) == 2_001 and len(dm.records) == 1
    assert len(lines) == 2  # missing_annotation (the folder) + the 2k missing frame folders in one line
    assert (
        lines[1].startswith(
            "2000 data issues of kind missing_folder (fatal), videos missing00000_000001, missing00001_000001"
        )
        and "and 1995 more" in lines[1]
    )
    summary, problems = check(dm, frames=False)
    print_report(summary, problems, max_listed=10)
    out = capsys.readouterr().out
    assert "- missing_folder (FATAL): 2000 (videos missing00000_000001," in out and len(out.splitlines()) < 40
