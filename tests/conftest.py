"""Shared fixtures: composing the training config, and a tiny synthetic data set for end-to-end runs.

The suite runs under pytest-xdist (README's test command: ``python -m pytest -n auto --durations=20`` with
``--dist loadgroup`` from pyproject): one torch thread per worker, the tests of a module that share a module-scoped
fixture on one worker (the fixture is built once), and :func:`build_once` for what workers share across modules.
"""

from __future__ import annotations

import fcntl
import os
import shutil
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

XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... in a pytest-xdist worker, else None
if XDIST_WORKER:
    # -n auto starts one worker per core: torch's default of one thread per core in every worker (and in each
    # train.py / script it runs) would put cores x cores threads on the cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests of a module that share a module-scoped fixture of that module (a trained run, a written video, an
    exported model) go to one xdist worker as one group, so the fixture is built once, not once per worker."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        module = item.nodeid.split("::")[0]
        fixtures = getattr(item, "_fixtureinfo", None)
        definitions = fixtures.name2fixturedefs.values() if fixtures else ()
        if any(d.scope == "module" and d.baseid == module for defs in definitions for d in defs):
            item.add_marker(pytest.mark.xdist_group(module))


@pytest.fixture(scope="session")
def build_once(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[Path], object]], Path]:
    """``build_once(name, build)`` -> a folder that ``build(folder)`` filled, once per test session however many
    xdist workers ask for it: the first to take the folder's file lock builds it, the others wait and reuse it.

    The folder lies under the session's temporary root (shared by its workers, never by two sessions). A build
    that raised leaves no folder, so the next test that asks builds it again (and fails with its error).
    """
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if XDIST_WORKER else base) / "built_once"
    shared.mkdir(exist_ok=True)

    def get(name: str, build: Callable[[Path], object]) -> Path:
        folder, done = shared / name, shared / f"{name}.done"
        with open(shared / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
                folder.mkdir()
                build(folder)
                done.touch()
        return folder

    return get


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
