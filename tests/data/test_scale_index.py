"""Issue 28: the compact frame-name form and the lazy stand-in walk give the SAME clips, stand-ins and frames as
the tuple of names and the eager candidate list they replace (reference implementations below)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from riskvision.data.dataset import ClipDataset, ClipIndex
from riskvision.data.labels import LabelPolicy
from riskvision.data.readers import FrameReader, FrameReadError
from riskvision.data.records import FrameNames, VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.timebase import to_target

NAME_LISTS = [
    [f"{i:06d}.jpg" for i in range(7)],                     # DoTA: a pattern
    [f"{i:06d}.jpg" for i in range(1, 401)],                # BDD seed frames, numbered from 1
    [f"frame_{i}.png" for i in range(8, 12)],               # unpadded numbers crossing a digit
    ["000000.jpg", "000001.jpg", "000001.jpg", "000003.jpg"],  # a gap filled by its neighbour
    ["b.jpg", "a.jpg", "é.jpg", "x.JPG"],                    # no pattern: the buffer form
    ["0009.jpg", "0010.jpg", "011.jpg"],                    # digits widths differ: the buffer form
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
    records = [VideoRecord(f"v{k:02d}", "dota", tmp_path, "frames", 10.0, n,
                           frame_files=tuple(f"{i:06d}.jpg" for i in range(n))) for k, n in enumerate(lengths)]
    videos = [to_target(record, 10.0) for record in records]
    sampler = WindowSampler(3, eval_step=2)
    clips = ClipIndex(videos, sampler.eval_anchors)
    return ClipDataset(videos, clips, sampler, LabelPolicy(), normalize=lambda x: x, read_size=None,
                       frame_size=(2, 2), reader_factory=lambda record, size: _Reader(broken))


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
