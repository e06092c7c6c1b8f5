"""Issue 28: feature-cache extraction decodes a video ONCE and draws its K augmented views from the decoded frames;
the stored views are exactly those of one read per view (today's path, re-computed here)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from test_feature_cache import CountingEncoder, datamodule, frozen_net, synthetic_root, use_cache  # noqa: F401

from riskvision.data.feature_cache import FeatureCache
from riskvision.data.readers import reader_for


def test_views_come_from_one_read_per_video_and_equal_one_read_per_view(synthetic_root, tmp_path):  # noqa: F811
    dm = datamodule(synthetic_root, "model.inputs.augment=multiscale_corner")
    reads, factory = [], dm.reader_factory or reader_for

    def counting_factory(record, size):
        reader = factory(record, size)
        read = reader.read

        def counted(record, indices):
            reads.append(record.video_id)
            return read(record, indices)

        reader.read = counted
        return reader

    dm.reader_factory = counting_factory
    net = frozen_net()
    use_cache(dm, net, tmp_path, views=4, seed=7)
    entries = [e for split in dm.feature_entries.values() for e in split]
    assert sorted(reads) == sorted(e.video.record.video_id for e in entries)  # one read per video, 4 views each
    encoder = CountingEncoder(net)
    for entry in dm.feature_entries["train"]:
        record = entry.video.record
        frames = reader_for(record, entry.read_size).read(record, entry.video.native_indices(list(entry.frames))).frames
        for view in range(entry.rows):
            seed = int(hashlib.sha256(f"{entry.name}:{view}:{entry.seed}".encode()).hexdigest()[:15], 16)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                augmented = entry.augment(frames)
            want = FeatureCache._encode(augmented, encoder, dm.normalizer, 64)
            assert np.array_equal(np.asarray(dm.feature_cache.array(entry.name)[view]), want)


def test_evaluation_clips_of_jpeg_folders_and_mp4_videos_are_those_of_a_clip_read(synthetic_root):  # noqa: F811
    """The read-once path of ClipDataset's evaluation clips gives the pixels a clip-by-clip read gives, for both
    record kinds of the synthetic set (DoTA-layout JPEG folders, BDD-layout MP4s)."""
    from riskvision.data.dataset import ClipDataset, ClipIndex
    from riskvision.data.sampling import WindowSampler

    dm = datamodule(synthetic_root)
    videos = [v for split in dm.videos.values() for v in split]
    assert {v.record.kind for v in videos} == {"frames", "video"}
    sampler = WindowSampler(3, eval_step=4)
    dataset = ClipDataset(
        videos,
        ClipIndex(videos, sampler.eval_anchors),
        sampler,
        dm.labels,
        lambda x: x,
        (32, 32),
        (32, 32),
        reader_factory=dm.reader_factory,
    )
    readers = {}
    for index in range(len(dataset)):
        video, frames = dataset.frames_of(index)
        record = video.record
        reader = readers.setdefault(record.kind, (dm.reader_factory or reader_for)(record, (32, 32)))
        assert torch.equal(dataset[index]["video"], reader.read(record, video.native_indices(frames)).frames)
