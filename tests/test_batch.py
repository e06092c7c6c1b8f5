"""riskvision.batch: the one definition of the batch, checked against what the data layer produces."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from riskvision.batch import FIELDS, LABEL_KEYS, METADATA_KEYS, field
from riskvision.data.dataset import ClipDataset, ClipIndex
from riskvision.data.labels import LabelPolicy
from riskvision.data.records import VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.timebase import to_target
from riskvision.data.transforms import Normalize

DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


def test_schema_lists_every_key_once():
    keys = [f.key for f in FIELDS]
    assert len(keys) == len(set(keys))
    assert set(METADATA_KEYS) | {"video", "features", "substituted", "replaced"} == set(keys)
    assert set(LABEL_KEYS) <= set(METADATA_KEYS)
    with pytest.raises(KeyError, match="not a batch key"):
        field("speed")


def test_dataset_batches_follow_the_schema(tmp_path):
    (tmp_path / "clip").mkdir()
    for i in range(6):
        Image.fromarray(np.full((12, 16, 3), 20 * i, np.uint8)).save(tmp_path / "clip" / f"{i:06d}.jpg")
    record = VideoRecord(
        "clip_000001",
        "dota",
        tmp_path / "clip",
        "frames",
        10.0,
        6,
        2,
        4,
        "lateral",
        True,
        frame_files=tuple(sorted(p.name for p in (tmp_path / "clip").iterdir())),
    )
    videos = [to_target(record)]
    sampler = WindowSampler(3)
    dataset = ClipDataset(
        videos, ClipIndex(videos, sampler.eval_anchors), sampler, LabelPolicy(), Normalize("imagenet"), (8, 8), (8, 8)
    )
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert set(batch) == {f.key for f in FIELDS} - {"features"}  # features: a feature cache's batches instead of video
    for entry in FIELDS:
        if entry.key == "features":
            continue
        value = batch[entry.key]
        if entry.dtype == "str":
            assert isinstance(value, list) and all(isinstance(v, str) for v in value), entry.key
            continue
        assert value.dtype == DTYPES[entry.dtype], entry.key
        rank = len(entry.shape.strip("[]").split(","))
        assert value.ndim == rank and value.shape[0] == 4, entry.key
    assert tuple(batch["video"].shape) == (4, 3, 3, 8, 8)  # [B, T, C, H, W]


def test_metric_modules_import_no_torch():
    code = (
        "import sys, riskvision.evaluation.anticipation, riskvision.evaluation.summary, riskvision.batch; "
        "assert not {'torch', 'av', 'simplejpeg'} & set(sys.modules), sorted({'torch', 'av'} & set(sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
