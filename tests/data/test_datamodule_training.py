"""Training loaders (per-video and class-balanced clip draws, augmentation, workers), the Hydra
configs and riskvision.data.check (scripts/check_data.py)."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from torchvision.transforms import v2

from riskvision.data.check import check
from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.dataset import ClassBalancedSampler, ClipIndex, PerVideoSampler
from riskvision.data.labels import LabelPolicy
from riskvision.data.sampling import UniformSampler, WindowSampler
from riskvision.data.sources.dota import DotaSource
from riskvision.data.splits import FileSplit
from riskvision.data.timebase import TargetVideo
from riskvision.data.transforms import ClipAugment

pytestmark = pytest.mark.filterwarnings("ignore:DoTA annotation", "ignore:DoTA root")

REPO = Path(__file__).resolve().parents[2]
CLIPS = ["pWZSG2cUdEo_003797", "WWyeuvpHmfc_004101", "Z9K13eBUwJM_000135", "JV0D-YkWHD8_000689"]
HELD_OUT = "0RJPQ_97dcs_000387"


def module(root, **kwargs):
    """A datamodule whose train split holds every clip of ``root`` but HELD_OUT (val; no test)."""
    clips = sorted(p.name for p in (root / "frames").iterdir())
    (root / "ours_train.txt").write_text("\n".join(c for c in clips if c != HELD_OUT))
    (root / "ours_val.txt").write_text(HELD_OUT)
    (root / "ours_test.txt").write_text("")
    split = FileSplit(root / "ours_train.txt", root / "ours_test.txt", root / "ours_val.txt")
    kwargs = {
        "samplers": {"window": WindowSampler(4, clips_per_video=3)},
        "sampler": "window",
        "sources": {"dota": DotaSource(root)},
        "frames": FrameConfig(size=(8, 8)),
        "split": split,
        "loader": LoaderConfig(batch_size=64),
        **kwargs,
    }
    dm = RiskDataModule(**kwargs)
    dm.setup("fit")
    return dm


def index_of(lengths, anchors=range):
    return ClipIndex([TargetVideo(None, 10.0, n, None, None) for n in lengths], anchors)


def test_clip_index_maps_clips_to_video_and_anchor():
    index = index_of([3, 2, 1])
    assert len(index) == 6 and [index[k] for k in range(6)] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]
    stepped = index_of([7, 3], anchors=lambda n: range(0, n, 3))
    assert [stepped[k] for k in range(len(stepped))] == [(0, 0), (0, 3), (0, 6), (1, 0)]
    with pytest.raises(IndexError):
        stepped[4]


def test_per_video_sampler_draws_clips_per_video_each_epoch():
    index = index_of([3, 2, 1])
    sampler = PerVideoSampler(index, clips_per_video=2)
    torch.manual_seed(0)
    epochs = [list(sampler) for _ in range(3)]
    assert len(sampler) == 6 and all(len(e) == 6 for e in epochs)
    for epoch in epochs:
        assert Counter(index[i][0] for i in epoch) == {0: 2, 1: 2, 2: 2}
    assert len({tuple(e) for e in epochs}) > 1  # a fresh draw every epoch


def test_class_balanced_sampler():
    labels = np.array([0] * 90 + [1] * 9 + [2])
    torch.manual_seed(0)
    picks = list(ClassBalancedSampler(labels, num_samples=3000))
    counts = Counter(int(labels[i]) for i in picks)
    assert all(800 < counts[c] < 1200 for c in range(3)) and 99 in picks


def test_train_loader_draws_random_windows_with_augmentation(make_official_tree):
    augment = ClipAugment([v2.RandomResizedCrop((8, 8), antialias=True), v2.RandomHorizontalFlip()])
    dm = module(
        make_official_tree(CLIPS + [HELD_OUT]),
        augments={"crop": augment},
        augment="crop",
        frames=FrameConfig(size=(8, 8), train_read_size=(12, 16)),
    )
    torch.manual_seed(0)
    (batch,) = list(dm.train_dataloader())
    assert batch["video"].shape == (len(CLIPS) * 3, 4, 3, 8, 8)
    assert Counter(batch["video_id"]) == {c: 3 for c in CLIPS}
    assert len(set(batch["end_frame"].tolist())) > 3


def test_augment_output_size_must_match_frame_size(make_official_tree):
    dm = module(
        make_official_tree(CLIPS[:1] + [HELD_OUT]), augments={"crop": ClipAugment([v2.CenterCrop(6)])}, augment="crop"
    )
    with pytest.raises(ValueError, match=r"\(6, 6\) after augmentation, expected frame_size \(8, 8\)"):
        next(iter(dm.train_dataloader()))


def test_balanced_sampler_balances_risk(make_official_tree):
    dm = module(
        make_official_tree(CLIPS + [HELD_OUT]),
        loader=LoaderConfig(batch_size=64, balanced=True),
        target="risk",
        samplers={"window": WindowSampler(1, clips_per_video=100)},
    )
    candidates = np.bincount(dm.dataset("train", dm.sampler, train=True).target_labels("risk"))
    assert candidates.max() > 2 * candidates.min()  # unbalanced candidates...
    torch.manual_seed(0)
    counts = Counter(t for b in dm.train_dataloader() for t in b["risk"].tolist())
    assert len(counts) == 3 and min(counts.values()) > 0.25 * sum(counts.values())  # ...balanced draws


def test_workers_build_their_own_reader(make_official_tree):
    dm = module(
        make_official_tree(CLIPS[:2] + [HELD_OUT]),
        loader=LoaderConfig(batch_size=64, num_workers=1),
        samplers={"uniform": UniformSampler(5)},
        sampler="uniform",
    )
    loader = dm.train_dataloader()
    batches = [list(loader) for _ in range(2)]  # two epochs on the same persistent worker
    assert all(b[0]["video"].shape == (2, 5, 3, 8, 8) for b in batches)
    assert loader.persistent_workers and loader.dataset._readers == {}  # read in the worker, not here


def test_uniform_jitter_varies_training_clips_and_keeps_evaluation_clips_fixed(make_official_tree):
    dm = module(
        make_official_tree(CLIPS[:1] + [HELD_OUT]),
        samplers={"uniform": UniformSampler(4, jitter=True)},
        sampler="uniform",
    )
    train, val = dm.dataset("train", dm.sampler, train=True), dm.dataset("val", dm.sampler, train=False)
    torch.manual_seed(0)
    assert len({tuple(train.frames_of(0, random=True)[1]) for _ in range(20)}) > 1
    assert len({tuple(train[0]["video"].flatten()[::97].tolist()) for _ in range(10)}) > 1  # other frames
    assert torch.equal(val[0]["video"], val[0]["video"])
    assert val[0]["end_frame"] == val.videos[0].num_frames - 1  # evaluation: evenly spread, ends at the last


def compose_data(overrides):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("check_data", overrides=overrides)


def test_dota_bdd_config_instantiates_with_model_inputs(make_official_tree):
    root = make_official_tree(CLIPS)
    cfg = compose_data(
        [
            "data=dota_bdd",
            f"data.dota_root={root}",
            "model.inputs.sampler=uniform",
            "model.inputs.num_frames=6",
            "model.inputs.frame_size=16",
            "data.loader.num_workers=0",
            "data.filters.categories=[TC,OC]",
            "data.split._target_=riskvision.data.splits.RandomSplit",
            "~data.split.val_fraction",
            "+data.split.fractions={train: 0.5, test: 0.5}",
        ]
    )
    dm = hydra.utils.instantiate(cfg.data)
    assert isinstance(dm.sampler, UniformSampler) and dm.sampler.num_frames == 6 and dm.frame_size == (16, 16)
    assert isinstance(dm.labels, LabelPolicy) and dm.normalization == "imagenet"
    dm.setup("test")
    kept = {v.record.video_id for split in dm.videos.values() for v in split}
    assert kept == {"WWyeuvpHmfc_004101", "Z9K13eBUwJM_000135"}  # turning + oncoming only


def test_check_data_lists_problems(make_official_tree):
    root = make_official_tree(CLIPS + ["gXezhrOijmQ_004598"])
    frames = root / "frames" / CLIPS[0] / "images"
    (frames / "000002.jpg").write_bytes(b"")
    (frames / "000004.jpg").write_bytes((frames / "000004.jpg").read_bytes()[:200])  # truncated
    (root / "val_split.txt").write_text((root / "val_split.txt").read_text() + "WWyeuvpHmfc_004101\n")
    dm = RiskDataModule({"dota": DotaSource(root)}, samplers={"window": WindowSampler(4)}, sampler="window")
    summary, problems = check(dm)
    kinds = Counter((p.kind, p.fatal) for p in problems)
    assert kinds[("unreadable_frame", False)] == 2 and kinds[("span_clipped", False)] == 1
    assert kinds[("duplicate_split", True)] == 1  # listed in train_split.txt and val_split.txt
    assert (
        summary["splits"]["test"]["clips"] + summary["splits"]["train"]["clips"] + summary["splits"]["val"]["clips"]
        == 5
    )


def test_check_data_prints_counts_and_fails_on_fatal_problems(make_official_tree):
    root = make_official_tree(CLIPS + ["0RJPQ_97dcs_000199", "88LcRU7uEFE_003534"])  # 4 val + 2 train clips
    with (root / "train_split.txt").open("a") as split_file:
        split_file.write("Z9K13eBUwJM_000135\n")  # also in val_split.txt: fatal
    command = [
        sys.executable,
        str(REPO / "scripts" / "check_data.py"),
        "data=dota_bdd",
        f"data.dota_root={root}",
        "data.split.val_fraction=0.5",
        "data.filters.categories=[LA,TC,OO]",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=root.parent, timeout=300)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "- duplicate_split (FATAL): 1" in run.stdout
    # kept: the OO and LA clips of official train (-> train, val), the TC and LA clips of official val (-> test)
    lines = run.stdout.splitlines()
    header = next(k for k, line in enumerate(lines) if line.split()[:2] == ["split", "clips"])  # after the log lines
    table = {line.split()[0]: line.split()[1] for line in lines[header + 1 : header + 4]}
    assert table == {"train": "1", "val": "1", "test": "2"}
