"""Thin helpers of train.py: config checks, instantiation, logging, checkpoint IO, pretrained weights."""

from importlib import import_module
from typing import Any

#: Where each public name lives; a name is imported on first use (``from riskvision.utils import X``), so that
#: importing one light helper (``riskvision.utils.run_folder``, ``.overrides``) does not import Lightning and torch
#: (``train.py --help`` and the scripts' ``--help`` stay fast).
_WHERE = {
    "CLIP_SPAN_KEY": "checkpointing",
    "CONFIG_KEY": "checkpointing",
    "RUN_ID_KEY": "checkpointing",
    "OPERATING_POINT_KEY": "checkpointing",
    "store_operating_point": "checkpointing",
    "AtomicCheckpointIO": "checkpointing",
    "BestCheckpoint": "checkpointing",
    "LastCheckpoint": "checkpointing",
    "RunConfigInCheckpoint": "checkpointing",
    "describe_checkpoint": "checkpointing",
    "load_checkpoint": "checkpointing",
    "model_name": "checkpointing",
    "net_name": "checkpointing",
    "ConfigError": "overrides",
    "check_clip_length": "config_checks",
    "check_data_roots": "config_checks",
    "check_data_settings": "config_checks",
    "check_renamed_overrides": "overrides",
    "data_model_file": "config_checks",
    "resume_path": "config_checks",
    "validate_config": "config_checks",
    "config_summary": "config_summary",
    "write_config": "config_summary",
    "EpochProgressBar": "epoch_summary",
    "EpochSummary": "epoch_summary",
    "metrics_table": "epoch_summary",
    "instantiate_callbacks": "instantiators",
    "instantiate_loggers": "instantiators",
    "ModelTable": "model_table",
    "close_loggers": "logging_utils",
    "log_hyperparameters": "logging_utils",
    "PreciseBatchNorm": "precise_bn",
    "get_logger": "pylogger",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'riskvision.utils' has no attribute {name!r}")
    value = getattr(import_module(f"riskvision.utils.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CLIP_SPAN_KEY",
    "CONFIG_KEY",
    "OPERATING_POINT_KEY",
    "RUN_ID_KEY",
    "AtomicCheckpointIO",
    "ConfigError",
    "BestCheckpoint",
    "EpochProgressBar",
    "EpochSummary",
    "LastCheckpoint",
    "ModelTable",
    "PreciseBatchNorm",
    "RunConfigInCheckpoint",
    "check_clip_length",
    "check_data_roots",
    "check_data_settings",
    "check_renamed_overrides",
    "close_loggers",
    "config_summary",
    "data_model_file",
    "describe_checkpoint",
    "get_logger",
    "instantiate_callbacks",
    "instantiate_loggers",
    "load_checkpoint",
    "log_hyperparameters",
    "metrics_table",
    "model_name",
    "net_name",
    "store_operating_point",
    "resume_path",
    "validate_config",
    "write_config",
]
