"""train.py's helpers: resolving the pretrained weights before building (and the fallback), the printed config tree."""

from __future__ import annotations

import logging

import pytest
import torch
from omegaconf import OmegaConf

from riskvision.models import ResNet3D, load_weights
from riskvision.utils import config_summary, write_config
from riskvision.utils.weights import resolve_pretrained


@pytest.fixture(scope="module")
def tiny_r3d() -> ResNet3D:
    return ResNet3D(depth=10, widen_factor=0.125, num_outputs=3)


def run_config(source, require: bool, normalization: str = "imagenet"):
    """The parts of a run config resolve_pretrained reads: a tiny ResNet3D and its pretrained source."""
    net = {"_target_": "riskvision.models.ResNet3D", "depth": 10, "widen_factor": 0.125, "num_outputs": 3}
    return OmegaConf.create(
        {
            "model": {
                "net": net,
                "pretrained": {"source": source, "require": require},
                "inputs": {"normalization": normalization},
            }
        }
    )


def test_missing_weights_warn_loudly_and_record_none(tmp_path, caplog):
    cfg = run_config(str(tmp_path / "r3d101_K_200ep.pth"), require=False)
    with caplog.at_level(logging.WARNING):
        assert resolve_pretrained(cfg) is None
    assert cfg.model.pretrained.status == "none" and cfg.model.pretrained.normalization is None
    assert cfg.model.inputs.normalization == "imagenet"  # unchanged: nothing was loaded
    assert "PRETRAINED WEIGHTS UNAVAILABLE" in caplog.text and "RANDOM INITIALISATION" in caplog.text


def test_missing_weights_are_an_error_when_required(tmp_path):
    with pytest.raises(RuntimeError, match="model.pretrained.require is true"):
        resolve_pretrained(run_config(str(tmp_path / "nope.pth"), require=True))


def test_null_source_is_random_init_on_purpose(caplog):
    cfg = run_config(None, require=True)
    with caplog.at_level(logging.WARNING):
        assert resolve_pretrained(cfg) is None
    assert dict(cfg.model.pretrained) == {
        "source": None,
        "require": True,
        "status": "none",
        "format": "none",
        "normalization": None,
    }
    assert not caplog.text  # no warning: nothing was asked for


def test_weights_resolve_their_normalisation_before_the_net_is_built(tiny_r3d, tmp_path):
    path = tmp_path / "own.pth"
    torch.save(tiny_r3d.state_dict(), path)
    cfg = run_config(str(path), require=True)
    weights = resolve_pretrained(cfg)
    assert cfg.model.pretrained.status == "loaded" and cfg.model.inputs.normalization == "kinetics"
    fresh = ResNet3D(depth=10, widen_factor=0.125, num_outputs=3)
    report = load_weights(fresh, weights)
    assert not report.missing and torch.equal(fresh.conv1.weight, tiny_r3d.conv1.weight)


def test_whole_config_is_written_resolved_and_untruncated_and_the_console_gets_a_summary(tmp_path):
    long_path = "/data/" + "x" * 200
    cfg = OmegaConf.create(
        {"model": {"lr": 0.1, "root": long_path}, "data": {"lr": "${model.lr}"}, "paths": {"output_dir": str(tmp_path)}}
    )
    write_config(cfg, tmp_path / "config_tree.log")
    saved = OmegaConf.load(tmp_path / "config_tree.log")
    assert saved.data.lr == 0.1 and saved.model.root == long_path  # resolved, and no line cut at 80 columns
    summary = config_summary(cfg, tmp_path / "config_tree.log")
    assert summary.splitlines()[0] == f"Run folder: {tmp_path}" and "config_tree.log" in summary.splitlines()[-1]
    assert long_path not in summary
