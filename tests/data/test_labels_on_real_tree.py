"""Every window of a DoTA-format tree built from REAL val metadata (real num_frames and anomaly
spans, tiny generated frames) gets the risk and crash labels of the rule in DESIGN.md, computed
here independently from the metadata."""

import pytest
import torch

from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.labels import LabelPolicy
from riskvision.data.sampling import UniformSampler, WindowSampler
from riskvision.data.sources.dota import DotaSource
from riskvision.data.splits import SubsetSplit

CLIPS = [
    "JV0D-YkWHD8_000689",  # anomaly_start 0
    "90gyBengKDs_003658",  # 1-frame anomaly [33, 34)
    "ezY7QrSWeWw_001685",  # 1-frame anomaly, real annotation file
    "pWZSG2cUdEo_003797",  # 26 frames, anomaly_end == num_frames
    "WWyeuvpHmfc_004101",
    "Z9K13eBUwJM_000135",
    "qzMjfBx1KI0_005445",  # night
    "0RJPQ_97dcs_000387",
]
WINDOW, HORIZON_S, FPS = 10, 2.0, 10


def expected_risk(t, s, e):
    if s <= t < e:
        return 2
    if s - HORIZON_S * FPS <= t < s:
        return 1
    return 0


def datamodule(root, crash_mode, sampler="window"):
    dm = RiskDataModule(
        samplers={"window": WindowSampler(WINDOW, eval_step=1), "uniform": UniformSampler(64)},
        sources={"dota": DotaSource(root)},
        sampler=sampler,
        split=SubsetSplit(),
        labels=LabelPolicy(crash_mode=crash_mode, warning_horizon_s=HORIZON_S),
        frames=FrameConfig(size=(8, 8)),
        loader=LoaderConfig(batch_size=4, eval_batch_size=128),
    )
    dm.setup("test")
    return dm


@pytest.mark.parametrize("crash_mode", ["video", "overlap"])
def test_every_window_label_matches_the_rule(make_official_tree, official_metadata, crash_mode):
    dm = datamodule(make_official_tree(CLIPS), crash_mode)
    seen = set()
    for batch in dm.test_dataloader():
        for i, clip in enumerate(batch["video_id"]):
            meta = official_metadata[clip]
            s, e, t = meta["anomaly_start"], meta["anomaly_end"], int(batch["end_frame"][i])
            overlaps = max(0, t - WINDOW + 1) < e and t >= s
            assert batch["risk"][i] == expected_risk(t, s, e), (clip, t)
            assert batch["crash"][i] == (1 if crash_mode == "video" else int(overlaps)), (clip, t)
            assert (batch["anomaly_start"][i], batch["anomaly_end"][i]) == (s, e)
            seen.add((clip, t))
    assert seen == {(c, t) for c in CLIPS for t in range(official_metadata[c]["num_frames"])}
    assert dm.describe()["splits"]["test"]["risk_frames"]["danger"] == sum(
        official_metadata[c]["anomaly_end"] - official_metadata[c]["anomaly_start"] for c in CLIPS
    )


def test_batch_layout_and_metadata(make_official_tree, official_metadata):
    dm = datamodule(make_official_tree(CLIPS), "video")
    batch = next(iter(dm.test_dataloader()))
    assert batch["video"].shape[1:] == (WINDOW, 3, 8, 8) and batch["video"].dtype == torch.float32
    for key, dtype in [
        ("crash", torch.int64),
        ("risk", torch.int64),
        ("end_frame", torch.int64),
        ("ego", torch.bool),
        ("night", torch.bool),
        ("fps", torch.float32),
        ("num_frames", torch.int64),
        ("anomaly_start", torch.int64),
        ("substituted", torch.int64),
    ]:
        assert batch[key].dtype == dtype, key
    assert set(batch["source"]) == {"dota"} and batch["fps"][0] == FPS
    assert batch["category"][0] == "lateral" and bool(batch["ego"][0])  # JV0D-YkWHD8_000689: "ego: lateral"
    assert int(batch["substituted"].sum()) == 0
    assert not dm.is_synthetic


def test_uniform_gives_one_clip_per_video_ending_at_its_last_frame(make_official_tree, official_metadata):
    dm = datamodule(make_official_tree(CLIPS), "video", sampler="uniform")
    (batch,) = list(dm.test_dataloader())
    assert batch["video"].shape[:2] == (len(CLIPS), 64)
    ends = dict(zip(batch["video_id"], batch["end_frame"].tolist()))
    assert ends == {c: official_metadata[c]["num_frames"] - 1 for c in CLIPS}
    assert batch["crash"].tolist() == [1] * len(CLIPS)


def test_scoring_dataloader_steps(make_official_tree, official_metadata):
    dm = datamodule(make_official_tree(CLIPS[:2]), "video", sampler="uniform")
    ends = [
        (v, int(t))
        for b in dm.scoring_dataloader("test", num_frames=4, step=5)
        for v, t in zip(b["video_id"], b["end_frame"])
    ]
    assert ends == [(c, t) for c in CLIPS[:2] for t in range(0, official_metadata[c]["num_frames"], 5)]
