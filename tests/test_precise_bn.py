"""PreciseBatchNorm: before validation, a training BatchNorm layer's running statistics become the plain average
over the kept training batches; frozen layers and everything else stay as they were."""

from __future__ import annotations

import pytest
import torch

from riskvision.utils import PreciseBatchNorm


class TwoNorms(torch.nn.Module):
    """A trained BatchNorm and a frozen one (eval mode, its own statistics), fed ``batch["video"]`` [B, 3]."""

    def __init__(self) -> None:
        super().__init__()
        self.trained, self.frozen = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3).eval()
        self.frozen.running_mean.fill_(7.0)

    def logits(self, batch):
        return self.frozen(self.trained(batch["video"]))


def test_statistics_are_the_average_over_the_kept_batches_and_the_rest_is_untouched():
    torch.manual_seed(0)
    module, callback = TwoNorms(), PreciseBatchNorm(num_batches=2)
    batches = [{"video": torch.randn(8, 3) * 2 + shift} for shift in (1.0, 3.0, 5.0)]
    for index, batch in enumerate(batches):  # training: the momentum-0.1 estimate drifts behind
        module.logits(batch)
        callback.on_train_batch_end(None, module, None, batch, index)
    assert callback.layers == [module.trained]  # the frozen layer is not recomputed
    module.eval()
    callback.update(module, list(callback.batches))
    kept = torch.cat([batch["video"] for batch in batches[1:]])  # the last two batches only
    assert torch.allclose(module.trained.running_mean, kept.mean(0), atol=1e-5)
    batch_vars = torch.stack([batch["video"].var(0) for batch in batches[1:]])  # BatchNorm averages batch variances
    assert torch.allclose(module.trained.running_var, batch_vars.mean(0), atol=1e-4)
    assert module.trained.momentum == 0.1 and not module.trained.training  # put back as it was
    assert torch.equal(module.frozen.running_mean, torch.full((3,), 7.0))


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="callbacks.precise_bn.num_batches=-1"):
        PreciseBatchNorm(num_batches=-1)


class FakeTrainer:
    def __init__(self, fn: str, sanity_checking: bool = False) -> None:
        from types import SimpleNamespace

        self.state, self.sanity_checking = SimpleNamespace(fn=fn), sanity_checking


@pytest.mark.parametrize(
    ("fn", "sanity", "recomputed"), [("fit", False, True), ("fit", True, False), ("validate", False, False)]
)
def test_only_a_fits_own_validations_recompute(fn, sanity, recomputed):
    module, callback = TwoNorms(), PreciseBatchNorm(num_batches=4)
    batch = {"video": torch.randn(8, 3) + 4.0}
    callback.on_train_batch_end(None, module, None, batch, 0)
    module.eval()
    callback.on_validation_epoch_start(FakeTrainer(fn, sanity), module)
    assert torch.allclose(module.trained.running_mean, batch["video"].mean(0), atol=1e-5) == recomputed
