"""Stored configs of older riskvision versions in today's form: the keys that moved, in one place.

A checkpoint keeps the resolved run config it was trained with (``riskvision_cfg``) and the module's
hyperparameters. When a key moves, eval.py and the predictor still rebuild an old checkpoint: its stored config is
translated here when it is read (``riskvision.checkpoints.loading.load_checkpoint``,
``RiskModule.load_from_checkpoint``), before it is checked (``riskvision.checkpoints.trust``) or built. Plain dicts
in, plain dicts out; nothing is imported or built.

- ``data._shortcuts_`` with ``data.sources.dota`` (``ccd``, ``dad``, ``nexar``; ``synthetic`` in the shortcuts) ->
  ``data._target_: riskvision.data.datasets.DotaBddData`` (``CcdData``, ``DadData``, ``NexarData``,
  ``SyntheticData``): the short keys are its arguments and it builds those sources itself;
- ``data.target_fps``, ``frame_size``, ``train_read_size``, ``normalization``, ``reader_factory`` ->
  ``data.frames.target_fps``, ``size``, ``train_read_size``, ``normalization``, ``reader_factory``;
- ``data.batch_size``, ``eval_batch_size``, ``num_workers``, ``pin_memory``, ``persistent_workers``, ``balanced`` ->
  ``data.loader.*`` (same names);
- ``model.memory_format``, ``model.compile`` -> ``model.execution.memory_format``, ``model.execution.compile``;
- ``model.scheduler``, ``model.scheduler_monitor`` -> ``model.lr_scheduler.scheduler``, ``model.lr_scheduler.monitor``
  (``model.lr_scheduler: null`` without a scheduler).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DATA_MOVES", "MODULE_MOVES", "upgrade_data_config", "upgrade_module_config"]

#: ``old data key -> (node, key in it)``: the datamodule's settings grouped into typed configs.
DATA_MOVES = {
    "target_fps": ("frames", "target_fps"),
    "frame_size": ("frames", "size"),
    "train_read_size": ("frames", "train_read_size"),
    "normalization": ("frames", "normalization"),
    "reader_factory": ("frames", "reader_factory"),
    "batch_size": ("loader", "batch_size"),
    "eval_batch_size": ("loader", "eval_batch_size"),
    "num_workers": ("loader", "num_workers"),
    "pin_memory": ("loader", "pin_memory"),
    "persistent_workers": ("loader", "persistent_workers"),
    "balanced": ("loader", "balanced"),
}
#: The ``_target_`` of each node :data:`DATA_MOVES` fills.
DATA_NODES = {"frames": "riskvision.data.config.FrameConfig", "loader": "riskvision.data.config.LoaderConfig"}
#: ``old module key -> (node, key in it)``.
MODULE_MOVES = {
    "memory_format": ("execution", "memory_format"),
    "compile": ("execution", "compile"),
    "scheduler": ("lr_scheduler", "scheduler"),
    "scheduler_monitor": ("lr_scheduler", "monitor"),
}
#: The data set's own source(s) in an old data config's ``sources`` -> the datamodule that builds them today.
DATA_SETS = {
    "dota": ("riskvision.data.datasets.DotaBddData", ("dota", "bdd")),
    "ccd": ("riskvision.data.datasets.CcdData", ("ccd",)),
    "dad": ("riskvision.data.datasets.DadData", ("dad",)),
    "nexar": ("riskvision.data.datasets.NexarData", ("nexar",)),
}
OLD_SHORTCUTS_KEY = "_shortcuts_"


def _moved(config: Mapping[str, Any], moves: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """``config`` with each old key of ``moves`` put into its node (a value already in the node wins)."""
    config = dict(config)
    for old, (node, key) in moves.items():
        if old not in config:
            continue
        value = config.pop(old)
        group = dict(config.get(node) or {})
        group.setdefault(key, value)
        config[node] = group
    return config


def upgrade_data_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored data config in today's form (see the module docstring); today's configs come back unchanged."""
    data = _moved(data, DATA_MOVES)
    for node, target in DATA_NODES.items():
        if isinstance(data.get(node), dict):
            data[node] = {"_target_": target, **data[node]}
    shortcuts = data.pop(OLD_SHORTCUTS_KEY, None)
    if shortcuts is None or data.get("_target_") != "riskvision.data.datamodule.RiskDataModule":
        return data
    sources = dict(data.get("sources") or {})
    if "synthetic" in shortcuts and isinstance(data.get("synthetic"), Mapping):
        data["_target_"] = "riskvision.data.datasets.SyntheticData"
        synthetic = {key: value for key, value in data["synthetic"].items() if key != "filters"}
        data["synthetic"] = {**synthetic, "filters": None, "_partial_": True}  # SyntheticData passes data.filters
        sources.pop("synthetic", None)
    else:
        known = next((name for name in DATA_SETS if name in sources), None)
        if known is None:
            return data
        data["_target_"], own = DATA_SETS[known]
        for name in own:
            sources.pop(name, None)
    data["sources"] = sources
    return data


def upgrade_module_config(module: Mapping[str, Any]) -> dict[str, Any]:
    """A stored module config (``model``, or the module's hyperparameters) in today's form: ``memory_format`` /
    ``compile`` under ``execution``, ``scheduler`` / ``scheduler_monitor`` under ``lr_scheduler`` (``None`` without
    a scheduler)."""
    old_scheduler = "scheduler" in module
    module = _moved(module, MODULE_MOVES)
    schedule = module.get("lr_scheduler")
    if old_scheduler and isinstance(schedule, dict) and schedule.get("scheduler") is None:
        module["lr_scheduler"] = None
    return module
