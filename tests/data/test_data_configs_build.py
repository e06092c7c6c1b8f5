"""Every conf/data/*.yaml builds with plain ``hydra.utils.instantiate(cfg.data)`` (what a lightning-hydra-template
user types in a notebook), its short keys are its datamodule's own arguments, and an older checkpoint's stored data
and module configs (``_shortcuts_``, top-level loader / frame keys) still build."""

from __future__ import annotations

import inspect
from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from riskvision.checkpoints.trust import check_stored_config
from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.datasets import DataModuleSettings, SyntheticData, record_sources
from riskvision.data.sources.dota import DotaFilter
from riskvision.data.sources.synthetic import SyntheticSource
from riskvision.module import RiskModule
from riskvision.upgrades import upgrade_data_config, upgrade_module_config

CONF = Path(__file__).resolve().parents[2] / "conf"
SHORT_KEYS = {  # what README / docs/data.md tell users to type, per data config
    "dota_bdd": {"dota_root": "DoTA", "bdd_root": "bdd100k", "index_cache_dir": "cache", "bdd_frames_fps": 10.0},
    "ccd": {"root": "CarCrash", "index_cache_dir": "cache"},
    "dad": {"root": "DAD", "accident_frame": 80},
    "nexar": {"root": "nexar", "test_fraction": 0.3, "event_span_s": 2.0},
    "synthetic": {"synthetic.root": "syn", "synthetic.num_crash": 3},
}
SOURCES = {"dota_bdd": {"dota", "bdd"}, "ccd": {"ccd"}, "dad": {"dad"}, "nexar": {"nexar"}, "synthetic": {"synthetic"}}


def compose_data(tmp_path: Path, data: str, *overrides: str):
    typed = [
        f"data.{key}={tmp_path / value if isinstance(value, str) else value}" for key, value in SHORT_KEYS[data].items()
    ]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(
                "train.yaml",
                overrides=[f"data={data}", "model=bilstm", "data.loader.num_workers=0", *typed, *overrides],
            )
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("data", sorted(SHORT_KEYS))
def test_every_data_config_builds_with_plain_hydra_instantiate(tmp_path, data):
    cfg = compose_data(tmp_path, data, "data.filters.skip_night=true" if data != "nexar" else "data.split.seed=3")
    datamodule = hydra.utils.instantiate(cfg.data)
    assert isinstance(datamodule, RiskDataModule) and set(datamodule.sources) == SOURCES[data]
    size, batch = cfg.model.inputs.frame_size, cfg.model.inputs.batch_size  # the model's (and its data_model's)
    assert datamodule.loader == LoaderConfig(batch, batch, 0, pin_memory=data != "synthetic", balanced=False)
    assert datamodule.frames.size == (size, size) and datamodule.frames.target_fps == 10.0
    assert datamodule.batch_size == batch and datamodule.num_workers == 0 and datamodule.frame_size == (size, size)
    described = repr([vars(source) for source in datamodule.sources.values()])
    for value in SHORT_KEYS[data].values():  # every short key reached the source it configures
        assert str(tmp_path / value if isinstance(value, str) else value) in described
    if data != "nexar":
        assert next(iter(datamodule.sources.values())).filters.skip_night is True
    assert set(record_sources(cfg.data)) == SOURCES[data]  # the same sources without building the datamodule


def test_the_short_keys_are_arguments_and_a_typo_is_named(tmp_path):
    from riskvision.utils import ConfigError, validate_config

    with pytest.raises(
        ConfigError, match=r"data.dota_rooot is not an argument of riskvision.data.datasets.DotaBddData"
    ):
        validate_config(compose_data(tmp_path, "dota_bdd", "+data.dota_rooot=/x"))
    with pytest.raises(ConfigError, match=r"data.loader.num_worker is not an argument of .*LoaderConfig"):
        validate_config(compose_data(tmp_path, "dota_bdd", "+data.loader.num_worker=1"))
    with pytest.raises(ConfigError, match=r"^data.root is not set.* Fix: add data.root="):
        validate_config(compose_data(tmp_path, "ccd", "data.root=???"))


def test_another_source_joins_a_data_set(tmp_path):
    cfg = compose_data(tmp_path, "dota_bdd", "+data/source@data.sources.ccd=ccd", f"data.sources.ccd.root={tmp_path}")
    assert set(hydra.utils.instantiate(cfg.data).sources) == {"dota", "bdd", "ccd"}


def test_data_module_settings_name_riskdatamodules_arguments():
    """The per-data-set datamodules pass RiskDataModule's arguments on: one list, checked here."""
    arguments = set(inspect.signature(RiskDataModule).parameters)
    assert set(DataModuleSettings.__annotations__) == arguments
    assert len(arguments) <= 10 and len(inspect.signature(RiskModule).parameters) <= 10


OLD_COMMON = {  # the shared keys of an older stored data config (before data.frames / data.loader)
    "_target_": "riskvision.data.datamodule.RiskDataModule",
    "samplers": {"window": {"_target_": "riskvision.data.sampling.WindowSampler", "num_frames": 4}},
    "sampler": "window",
    "target": "risk",
    "target_fps": 5.0,
    "frame_size": 32,
    "train_read_size": None,
    "normalization": "kinetics",
    "reader_factory": {"_target_": "riskvision.data.readers.reader_for", "_partial_": True},
    "augment": None,
    "balanced": True,
    "batch_size": 4,
    "eval_batch_size": None,
    "num_workers": 0,
    "pin_memory": False,
    "persistent_workers": True,
}


def test_an_old_stored_dota_bdd_config_builds_its_data_set(tmp_path):
    filters = {"_target_": "riskvision.data.sources.dota.DotaFilter", "categories": ["TC"]}
    old = {
        **OLD_COMMON,
        "_shortcuts_": ["dota_root", "bdd_root", "dota_layout", "bdd_layout", "bdd_frames_fps", "index_cache_dir"]
        + ["filters"],
        "dota_root": str(tmp_path / "DoTA"),
        "bdd_root": None,
        "dota_layout": "auto",
        "bdd_layout": "auto",
        "bdd_frames_fps": None,
        "index_cache_dir": None,
        "filters": filters,
        "sources": {
            "dota": {"_target_": "riskvision.data.sources.dota.DotaSource", "root": str(tmp_path / "DoTA")}
            | {"layout": "auto", "filters": filters},
            "bdd": {"_target_": "riskvision.data.sources.bdd.BddSource", "root": None},
        },
    }
    new = upgrade_data_config(old)
    check_stored_config({"data": new}, "old checkpoint")  # trusted: no special key beyond Hydra's
    assert new["_target_"] == "riskvision.data.datasets.DotaBddData" and new["sources"] == {}
    assert upgrade_data_config(new) == new  # today's form comes back unchanged
    datamodule = hydra.utils.instantiate(new)
    assert datamodule.frames == FrameConfig(5.0, (32, 32), None, "kinetics") and datamodule.target_fps == 5.0
    assert datamodule.loader == LoaderConfig(4, None, 0, False, True, True) and datamodule.eval_batch_size == 4
    assert str(datamodule.sources["dota"].root) == str(tmp_path / "DoTA")
    assert datamodule.sources["dota"].filters.categories == DotaFilter(categories=["TC"]).categories
    # the command line can now point an old checkpoint at this machine's copy (eval.py data.dota_root=...)
    moved = OmegaConf.merge(OmegaConf.create(new), {"dota_root": str(tmp_path / "here")})
    assert str(hydra.utils.instantiate(moved).sources["dota"].root) == str(tmp_path / "here")


def test_an_old_stored_synthetic_config_builds_its_data_set(tmp_path):
    filters = {"_target_": "riskvision.data.sources.dota.DotaFilter", "categories": None, "skip_night": True}
    synthetic = {"_target_": "riskvision.data.sources.synthetic.SyntheticSource", "root": str(tmp_path / "syn")}
    synthetic |= {"seed": 0, "num_crash": 2, "filters": filters}
    old = {**OLD_COMMON, "_shortcuts_": ["synthetic", "filters"], "filters": filters, "synthetic": synthetic}
    old["sources"] = {"synthetic": synthetic}
    new = upgrade_data_config(old)
    assert new["_target_"] == "riskvision.data.datasets.SyntheticData" and new["sources"] == {}
    datamodule = hydra.utils.instantiate(new)
    assert isinstance(datamodule, SyntheticData) and isinstance(datamodule.sources["synthetic"], SyntheticSource)
    assert datamodule.sources["synthetic"].filters.skip_night and datamodule.sources["synthetic"].sizes == {
        "num_crash": 2
    }


def test_an_old_stored_module_config_builds():
    old = {"memory_format": "channels_last", "compile": False, "scheduler": None, "scheduler_monitor": "val/loss"}
    assert upgrade_module_config(old) == {
        "execution": {"memory_format": "channels_last", "compile": False},
        "lr_scheduler": None,
    }
    step = {"_target_": "torch.optim.lr_scheduler.StepLR", "_partial_": True, "step_size": 1}
    old = {"memory_format": "contiguous", "scheduler": step, "scheduler_monitor": "val/f1"}
    new = upgrade_module_config(old)
    assert new["lr_scheduler"] == {"scheduler": step, "monitor": "val/f1"}
    assert upgrade_module_config(new) == new
