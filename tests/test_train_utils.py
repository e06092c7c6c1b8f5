"""train.py's helpers: the pretrained-weight fallback and the printed config tree."""

from __future__ import annotations

import logging

import pytest
import torch
from omegaconf import OmegaConf

from riskvision.models import ResNet3D
from riskvision.utils import print_config_tree
from riskvision.utils.weights import apply_pretrained


@pytest.fixture(scope="module")
def tiny_r3d() -> ResNet3D:
    return ResNet3D(depth=10, widen_factor=0.125, num_classes=3)


def test_missing_weights_warn_loudly_and_record_none(tiny_r3d, tmp_path, caplog):
    missing = tmp_path / "r3d101_K_200ep.pth"
    with caplog.at_level(logging.WARNING):
        result = apply_pretrained(tiny_r3d, OmegaConf.create({"source": str(missing), "require": False}))
    assert result["status"] == "none" and result["normalization"] is None
    assert "PRETRAINED WEIGHTS UNAVAILABLE" in caplog.text and "RANDOM INITIALISATION" in caplog.text


def test_missing_weights_are_an_error_when_required(tiny_r3d, tmp_path):
    with pytest.raises(RuntimeError, match="model.pretrained.require is true"):
        apply_pretrained(tiny_r3d, OmegaConf.create({"source": str(tmp_path / "nope.pth"), "require": True}))


def test_null_source_is_random_init_on_purpose(tiny_r3d, caplog):
    with caplog.at_level(logging.WARNING):
        result = apply_pretrained(tiny_r3d, OmegaConf.create({"source": None, "require": True}))
    assert result == {"source": None, "status": "none", "format": "none", "normalization": None}
    assert not caplog.text  # no warning: nothing was asked for


def test_weights_load_and_report_their_normalisation(tiny_r3d, tmp_path):
    path = tmp_path / "own.pth"
    torch.save(tiny_r3d.state_dict(), path)
    result = apply_pretrained(tiny_r3d, OmegaConf.create({"source": str(path), "require": True}))
    assert result["status"] == "loaded" and result["normalization"] == "kinetics"


def test_config_tree_is_printed_and_saved(tmp_path, capsys):
    cfg = OmegaConf.create({"model": {"lr": 0.1}, "data": {"size": 32}, "seed": 1})
    print_config_tree(cfg, save_to_file=tmp_path / "config_tree.log")
    saved = (tmp_path / "config_tree.log").read_text()
    assert saved.index("data") < saved.index("model") and "lr: 0.1" in saved
    assert "size: 32" in capsys.readouterr().out
