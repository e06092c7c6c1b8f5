"""Split strategies: no clip in two splits, no source video across splits when grouped, and the
source-video leak of the official DoTA split measured on the real metadata."""

from pathlib import Path

import pytest

from riskvision.data.records import VideoRecord
from riskvision.data.sources.dota import parse_anomaly_class, read_official_splits
from riskvision.data.splits import (
    FileSplit,
    RandomSplit,
    SubsetSplit,
    duplicates,
    partition,
    require_nonempty,
    shared_groups,
)


@pytest.fixture(scope="module")
def records(official_metadata):
    """Records of all 4,677 real DoTA clips (no frames needed) + 300 BDD-style ids."""
    out = []
    for clip, meta in official_metadata.items():
        ego, category = parse_anomaly_class(meta["anomaly_class"])
        out.append(
            VideoRecord(
                clip,
                "dota",
                Path(clip),
                "frames",
                10.0,
                meta["num_frames"],
                meta["anomaly_start"],
                meta["anomaly_end"],
                category,
                ego,
                subset=meta["subset"],
                group=clip.rsplit("_", 1)[0],
            )
        )  # as DotaSource sets it
    out += [
        VideoRecord(f"{i:08x}-bdd", "bdd", Path("b"), "video", 30.0, 1200, subset="train" if i % 4 else "val")
        for i in range(300)
    ]
    return out


def test_official_dota_split_shares_source_videos(fixtures_dir):
    subsets = read_official_splits(fixtures_dir / "official")
    groups = {s: {c.rsplit("_", 1)[0] for c, sub in subsets.items() if sub == s} for s in ("train", "val")}
    shared = groups["train"] & groups["val"]
    leaked = sum(c.rsplit("_", 1)[0] in shared for c, s in subsets.items() if s == "val")
    print(
        f"official DoTA: {len(groups['train'])} train / {len(groups['val'])} val source videos, "
        f"{len(shared)} in both; {leaked} of 1402 val clips come from a video with train clips"
    )
    assert (len(groups["train"]), len(groups["val"]), len(shared), leaked) == (188, 179, 177, 1400)


@pytest.mark.parametrize(
    "strategy",
    [
        SubsetSplit(val_fraction=0.1, seed=3),
        RandomSplit({"train": 0.7, "val": 0.15, "test": 0.15}, seed=1),
        RandomSplit({"train": 0.7, "val": 0.15, "test": 0.15}, seed=1, grouped=True),
    ],
)
def test_no_clip_in_two_splits_and_every_clip_somewhere(records, strategy):
    splits = strategy(records)
    assert duplicates(splits) == {}
    assert sorted(r.video_id for s in splits.values() for r in s) == sorted(r.video_id for r in records)
    assert all(splits[name] for name in ("train", "val", "test"))


def test_grouped_splits_share_no_source_video(records):
    grouped = RandomSplit({"train": 0.7, "val": 0.15, "test": 0.15}, seed=0, grouped=True)(records)
    assert shared_groups(grouped) == {}
    assert shared_groups(RandomSplit(seed=0)(records))  # per-clip random split leaks sources
    subset = SubsetSplit(val_fraction=0.2, seed=0)(records)
    assert shared_groups({k: subset[k] for k in ("train", "val")}) == {}  # held-out val is by source
    assert {r.subset for r in subset["test"]} == {"val"}


def test_partition_is_seeded_and_order_independent(records):
    a = partition(records, {"train": 0.8, "test": 0.2}, seed=42, grouped=False)
    b = partition(list(reversed(records)), {"train": 0.8, "test": 0.2}, seed=42, grouped=False)
    c = partition(records, {"train": 0.8, "test": 0.2}, seed=7, grouped=False)
    assert {r.video_id for r in a["test"]} == {r.video_id for r in b["test"]}
    assert {r.video_id for r in a["test"]} != {r.video_id for r in c["test"]}
    assert abs(len(a["test"]) - 0.2 * len(records)) <= 1


def test_seed_split_files(records, fixtures_dir):
    seed = fixtures_dir / "seed-project"
    splits = FileSplit(seed / "final_train_split.txt", seed / "final_val_split.txt")(records)
    assert duplicates(splits) == {} and shared_groups({k: splits[k] for k in ("train", "val")}) == {}
    listed = set((seed / "final_val_split.txt").read_text().split())
    assert {r.video_id for r in splits["test"]} <= listed and len(splits["test"]) > 100


def test_empty_split_error_names_it():
    with pytest.raises(ValueError, match="split 'val' has zero clips after filters X"):
        require_nonempty({"train": [1], "val": []}, ["train", "val"], "filters X")


def test_random_parts_keep_source_proportions(records):
    splits = RandomSplit({"train": 0.5, "val": 0.25, "test": 0.25}, seed=0, grouped=True)(records)
    for name, share in (("train", 0.5), ("val", 0.25), ("test", 0.25)):
        bdd = sum(r.source == "bdd" for r in splits[name])
        assert abs(bdd - share * 300) <= 1, (name, bdd)  # each BDD video is its own group
    held = SubsetSplit(val_fraction=0.2, seed=0)(records)
    assert abs(sum(r.source == "bdd" for r in held["val"]) - 0.2 * 225) <= 1  # 225 BDD "train" videos


def _small(n_per_source: int, subset: str = "train") -> list[VideoRecord]:
    return [
        VideoRecord(
            f"{subset}-{source}{i}", source, Path("x"), "frames", 10.0, 50, subset=subset, group=f"{subset}-{source}{i}"
        )
        for source in ("dota", "bdd")
        for i in range(n_per_source)
    ]


def test_val_fraction_of_a_small_split_takes_one_group_per_source(caplog):
    # issue 27: 0.1 of a 12-video train split (6 groups per source) rounded to 0 groups and training stopped
    caplog.set_level("INFO", logger="riskvision.data.splits")
    splits = SubsetSplit(val_fraction=0.1, seed=0)(_small(6) + _small(2, "val"))
    assert sorted(r.source for r in splits["val"]) == ["bdd", "dota"]
    assert len(splits["train"]) == 10 and not duplicates(splits)
    assert "val_fraction=0.1: 2 of 12 groups (2 videos) held out for validation" in caplog.text


def test_a_source_with_one_group_stays_in_train():
    splits = SubsetSplit(val_fraction=0.1, seed=0)(_small(1) + _small(1, "val"))
    assert splits["val"] == [] and len(splits["train"]) == 2
    assert partition(_small(3), {"train": 0.9, "val": 0.1}, 0, True)["val"]  # 6 groups: 0.6 rounds up to one
    assert not partition(_small(6), {"train": 1.0, "val": 0.0}, 0, True)["val"]  # fraction 0: none
