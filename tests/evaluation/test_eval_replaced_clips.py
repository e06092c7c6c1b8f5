"""A clip whose frames are all corrupt is replaced by the dataset (training goes on) but never evaluated
twice: the stand-in sample is flagged ``replaced`` and the predictions table and the module's val/test
metrics drop it (riskvision.batch.without_replaced)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from riskvision.batch import without_replaced
from riskvision.data.dataset import ClipDataset, ClipIndex
from riskvision.data.labels import LabelPolicy
from riskvision.data.records import DataWarning, VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.timebase import to_target
from riskvision.data.transforms import Normalize
from riskvision.evaluation.predict import predict_table
from riskvision.module import RiskModule

FRAMES, SIZE = 4, (4, 4)
# logit = mean of the normalised clip: every clip here is bright, so every clip is called a crash
MEAN_NET = {"_target_": "tests.checkpoint_fakes.ScoreNet", "in_features": 2 * 3 * SIZE[0] * SIZE[1]}


def frame_record(root: Path, video_id: str, source: str, corrupt: bool = False) -> VideoRecord:
    folder = root / video_id
    folder.mkdir()
    for i in range(FRAMES):
        path = folder / f"{i:06d}.jpg"
        if corrupt:
            path.write_bytes(b"not a jpeg")
        else:
            Image.fromarray(np.full((8, 8, 3), 250, np.uint8)).save(path)
    anomaly = (1, 3) if source == "dota" else (None, None)
    return VideoRecord(
        video_id,
        source,
        folder,
        "frames",
        10.0,
        FRAMES,
        *anomaly,
        frame_files=tuple(f"{i:06d}.jpg" for i in range(FRAMES)),
    )


@pytest.fixture
def dataset(tmp_path) -> ClipDataset:
    """Crash clip ``a``, normal clip ``b`` with no readable frame (replaced by ``c``'s first window), normal
    clip ``c``; windows of 2 frames ending at every frame: 4 + 4 + 4 clips, 8 of them evaluated."""
    records = [
        frame_record(tmp_path, "a", "dota"),
        frame_record(tmp_path, "b", "bdd", corrupt=True),
        frame_record(tmp_path, "c", "bdd"),
    ]
    videos = [to_target(r) for r in records]
    sampler = WindowSampler(2)
    return ClipDataset(
        videos, ClipIndex(videos, sampler.eval_anchors), sampler, LabelPolicy(), Normalize("imagenet"), SIZE, SIZE
    )


def mean_module() -> RiskModule:
    module = RiskModule(
        net=MEAN_NET,
        task={"_target_": "riskvision.tasks.BinaryCrash"},
        optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.0},
    )
    with torch.no_grad():
        module.net[1].weight.fill_(1.0 / module.net[1].in_features)
        module.net[1].bias.zero_()
    return module


def quiet_trainer(tmp_path) -> L.Trainer:
    return L.Trainer(
        default_root_dir=tmp_path,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        max_epochs=1,
        enable_checkpointing=False,
    )


def test_the_stand_in_of_a_dropped_clip_is_flagged_and_only_it(dataset):
    with pytest.warns(DataWarning, match=r"dropping clip b \("):
        items = [dataset[k] for k in range(len(dataset))]
    flags = [bool(item["replaced"]) for item in items]
    assert flags == [False] * 4 + [True] * 4 + [False] * 4
    assert {items[k]["video_id"] for k in range(4, 8)} == {"c"}  # c's first window, four times
    batch = next(iter(DataLoader(items, batch_size=12)))
    kept = without_replaced(batch)
    assert kept["video_id"] == ["a"] * 4 + ["c"] * 4 and kept["video"].shape == (8, 2, 3, *SIZE)
    assert kept["end_frame"].tolist() == [0, 1, 2, 3] * 2 and not kept["replaced"].any()


@pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")
def test_predictions_table_has_no_row_for_the_dropped_clip_and_no_duplicate(dataset):
    table = predict_table(mean_module(), DataLoader(dataset, batch_size=3), mean_module().task)
    assert len(table) == 8 and set(table["video_id"]) == {"a", "c"}
    assert not table.duplicated(["video_id", "end_frame", "probe"]).any()


@pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")
@pytest.mark.filterwarnings("ignore:.*does not have many workers")
def test_val_and_test_metrics_count_each_evaluated_clip_once(dataset, tmp_path):
    loader = DataLoader(dataset, batch_size=4)  # the second batch is stand-ins only: it contributes nothing
    module = mean_module()
    (val,) = quiet_trainer(tmp_path).validate(module, dataloaders=loader, verbose=False)
    assert val["val/acc"] == pytest.approx(0.5)  # a right, c wrong; c's stand-ins would make it 1/3
    (test,) = quiet_trainer(tmp_path).test(module, dataloaders=loader, verbose=False)
    cells = {name: value for name, value in test.items() if name.startswith("test/confmat/")}
    assert sum(cells.values()) == 8  # 4 windows of a + 4 of c, none of b's stand-ins
    assert cells["test/confmat/true_0_pred_1"] == 4


@pytest.mark.filterwarnings("ignore::riskvision.data.records.DataWarning")
@pytest.mark.filterwarnings("ignore:.*does not have many workers")
def test_training_learns_from_the_stand_ins(dataset, tmp_path):
    module = mean_module()
    seen = []
    module.on_train_batch_start = lambda batch, batch_idx: seen.append(int(batch["replaced"].sum()))
    quiet_trainer(tmp_path).fit(module, train_dataloaders=DataLoader(dataset, batch_size=4))
    assert seen == [0, 4, 0]  # the stand-in batch trains (a real clip), no empty batch reaches the loss
