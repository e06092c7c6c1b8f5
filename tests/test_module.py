"""RiskModule on hand-made batches: losses, metrics, the tuned threshold, optimiser, checkpoints."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from riskvision.checkpoints.trust import UntrustedConfigError
from riskvision.module import RiskModule
from riskvision.tasks import BinaryCrash

# A net whose logit for a clip [B, 1, 1, 1, 1] is the clip's single value (after weight=1, bias=0).
SCORE_NET = {"_target_": "tests.checkpoint_fakes.ScoreNet"}
TINY_NET_TARGETS = ["tests.checkpoint_fakes.ScoreNet"]
FROZEN_SGD_LR0 = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.0}


BINARY = {"_target_": "riskvision.tasks.BinaryCrash"}
RISK_LEVELS = {"_target_": "riskvision.tasks.RiskLevels", "class_names": ["Normal", "Warning", "Danger"]}


def score_module(pos_weight: float | None = None, **kwargs) -> RiskModule:
    task = {**BINARY, "pos_weight": pos_weight}
    module = RiskModule(net=SCORE_NET, task=task, optimizer=FROZEN_SGD_LR0, **kwargs)
    with torch.no_grad():
        module.net[1].weight.fill_(1.0)
        module.net[1].bias.zero_()
    return module


def batches_from_probs(probs: list[float], labels: list[int]) -> DataLoader:
    """Items whose net output is logit(p), so the module's P(crash) equals p exactly."""
    logits = torch.logit(torch.tensor(probs))
    items = [{"video": logit.reshape(1, 1, 1, 1), "crash": torch.tensor(y)} for logit, y in zip(logits, labels)]
    return DataLoader(items, batch_size=2)


def quiet_trainer(tmp_path, **kwargs) -> L.Trainer:
    return L.Trainer(
        default_root_dir=tmp_path,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kwargs,
    )


def test_threshold_tuned_on_validation_stored_and_used_at_test(tmp_path):
    # positives at 0.7/0.8, negatives at 0.3/0.6: thresholds 0.65 and 0.70 give F1 = 1; 0.65 is nearer 0.5
    loader = batches_from_probs([0.7, 0.3, 0.8, 0.6], [1, 0, 1, 0])
    module = score_module()
    trainer = quiet_trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
    metrics = trainer.callback_metrics
    assert metrics["val/threshold"] == pytest.approx(0.65)
    assert metrics["val/f1_tuned"] == pytest.approx(1.0)
    assert metrics["val/f1"] == pytest.approx(0.8)  # at 0.5 the negative at 0.6 is a false positive
    assert module.threshold.item() == pytest.approx(0.65)

    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    raw = torch.load(ckpt, weights_only=True)
    assert raw["state_dict"]["threshold"].item() == pytest.approx(0.65)
    with pytest.raises(UntrustedConfigError, match=r"net._target_='tests.checkpoint_fakes.ScoreNet'"):
        RiskModule.load_from_checkpoint(ckpt)  # the test's own net is not on riskvision's allow-list
    restored = RiskModule.load_from_checkpoint(ckpt, trusted_targets=TINY_NET_TARGETS)
    assert restored.threshold.item() == pytest.approx(0.65)
    results = quiet_trainer(tmp_path).test(restored, dataloaders=loader, verbose=False)[0]
    assert results["test/f1"] == pytest.approx(1.0)
    assert results["test/threshold"] == pytest.approx(0.65)
    assert results["test/confmat/true_0_pred_1"] == 0


def test_sanity_check_does_not_move_the_threshold(tmp_path):
    loader = batches_from_probs([0.95, 0.9, 0.2, 0.15], [1, 1, 0, 0])
    module = score_module()
    trainer = L.Trainer(
        default_root_dir=tmp_path,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_epochs=1,
        limit_train_batches=0,
        num_sanity_val_steps=2,
    )
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
    assert module.threshold.item() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("f1", "expected"),
    [([0.2, 0.9, 0.9, 0.9, 0.1], 0.5), ([0.9, 0.9, 0.1, 0.1, 0.1], 0.4), ([0.1, 0.2, 0.3, 0.2, 0.95], 0.7)],
)
def test_best_threshold_prefers_highest_f1_then_nearest_half(f1, expected):
    grid = torch.tensor([0.3, 0.4, 0.5, 0.6, 0.7])
    assert grid[BinaryCrash.best_threshold(torch.tensor(f1), grid)].item() == pytest.approx(expected)


def test_threshold_grid_is_the_seed_grid():
    grid = score_module().threshold_grid
    assert len(grid) == 17
    assert grid[0].item() == pytest.approx(0.10) and grid[-1].item() == pytest.approx(0.90)


def test_multiclass_metrics_per_class_and_confusion_matrix(tmp_path):
    net = {**SCORE_NET, "in_features": 3}
    module = RiskModule(net=net, task=RISK_LEVELS, monitor="val/f1_macro", optimizer=FROZEN_SGD_LR0)
    with torch.no_grad():
        module.net[1].weight.copy_(torch.eye(3))
        module.net[1].bias.zero_()
    labels = [0, 1, 2, 2, 1, 0]
    predicted = [0, 1, 2, 1, 1, 0]  # one Danger clip called Warning
    items = [
        {
            "video": torch.nn.functional.one_hot(torch.tensor(p), 3).float().reshape(1, 3, 1, 1) * 5,
            "risk": torch.tensor(y),
        }
        for p, y in zip(predicted, labels)
    ]
    loader = DataLoader(items, batch_size=3)
    trainer = quiet_trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
    metrics = trainer.callback_metrics
    assert metrics["val/f1_Normal"] == pytest.approx(1.0)
    assert metrics["val/recall_Danger"] == pytest.approx(0.5)
    assert metrics["val/acc"] == pytest.approx(5 / 6)
    assert "val/f1_macro" in metrics and "val/threshold" not in metrics
    results = trainer.test(module, dataloaders=loader, verbose=False)[0]
    assert results["test/confmat/true_Danger_pred_Warning"] == 1
    assert results["test/confmat/true_Danger_pred_Danger"] == 1


def test_frozen_parameters_are_not_optimised():
    module = score_module()
    module.net[1].bias.requires_grad_(False)
    optimizer = module.configure_optimizers()["optimizer"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(params) == 1 and params[0] is module.net[1].weight


def test_scheduler_gets_the_optimizer_and_monitor():
    scheduler = {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "_partial_": True, "patience": 3}
    config = score_module(lr_scheduler={"scheduler": scheduler, "monitor": "val/auroc"}).configure_optimizers()
    assert isinstance(config["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert config["lr_scheduler"]["monitor"] == "val/auroc"
    assert score_module(lr_scheduler={"scheduler": scheduler}).configure_optimizers()["lr_scheduler"]["monitor"] == (
        "val/loss"
    )


def test_pos_weight_scales_the_positive_term():
    logits, labels = torch.tensor([[0.0], [0.0]]), torch.tensor([1, 0])
    plain = score_module().loss(logits, labels)
    weighted = score_module(pos_weight=3.0).loss(logits, labels)
    assert weighted.item() == pytest.approx(plain.item() * 2)  # (3 * ln2 + ln2) / 2 vs ln2


def test_substituted_frames_are_logged_when_the_batch_reports_them(tmp_path):
    loader = batches_from_probs([0.7, 0.3], [1, 0])
    for item, count in zip(loader.dataset, (2, 1)):
        item["substituted"] = torch.tensor(count)
    trainer = quiet_trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    trainer.fit(score_module(), train_dataloaders=loader, val_dataloaders=loader)
    assert trainer.callback_metrics["train/substituted_frames"] == 3


def test_predict_step_returns_probabilities_and_metadata():
    module = score_module()
    batch = {
        "video": torch.logit(torch.tensor([0.25, 0.75])).reshape(2, 1, 1, 1, 1),
        "crash": torch.tensor([0, 1]),
        "video_id": ["a", "b"],
    }
    out = module.predict_step(batch, 0)
    assert out["video_id"] == ["a", "b"]
    torch.testing.assert_close(out["probs"], torch.tensor([[0.75, 0.25], [0.25, 0.75]]))


def test_old_string_task_is_refused_naming_the_new_form():
    with pytest.raises(ValueError, match=r"model.task='binary' is the old form.*riskvision.tasks.BinaryCrash"):
        RiskModule(net=SCORE_NET, task="binary", optimizer=FROZEN_SGD_LR0)
