"""Shared fixtures: composing the training config, and a tiny synthetic data set for end-to-end runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# backend=auto means torch in the tests (tests of the onnxruntime choice set it themselves): no ONNX export per test
os.environ.setdefault("RISKVISION_BACKEND", "torch")


@pytest.fixture
def compose_train(tmp_path: Path) -> Callable[..., DictConfig]:
    """``compose_train(*overrides)`` -> the composed ``train.yaml`` with its hydra node set (so
    ``${hydra:...}`` resolves) and every output under ``tmp_path``."""

    def compose_cfg(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("train.yaml", overrides=list(overrides), return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(tmp_path / "run")
            cfg.hydra.job.num = 0
            cfg.paths.root_dir = str(ROOT)
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.paths.data_dir = str(tmp_path / "data")
        HydraConfig().set_config(cfg)
        return cfg

    yield compose_cfg
    GlobalHydra.instance().clear()
