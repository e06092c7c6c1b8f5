"""Thin helpers of train.py (and the scripts): config checks, instantiation, logging, pretrained weights, the run
folder callback. Checkpoints (reading, trust, loading, writing) are `riskvision.checkpoints`."""

from importlib import import_module
from typing import Any

#: Where each public name lives; a name is imported on first use (``from riskvision.utils import X``), so that
#: importing one light helper (``riskvision.utils.run_folder``, ``.overrides``) does not import Lightning and torch
#: (``train.py --help`` and the scripts' ``--help`` stay fast).
_WHERE = {
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
    "ConfigError",
    "EpochProgressBar",
    "EpochSummary",
    "ModelTable",
    "PreciseBatchNorm",
    "check_clip_length",
    "check_data_roots",
    "check_data_settings",
    "check_renamed_overrides",
    "close_loggers",
    "config_summary",
    "data_model_file",
    "get_logger",
    "instantiate_callbacks",
    "instantiate_loggers",
    "log_hyperparameters",
    "metrics_table",
    "resume_path",
    "validate_config",
    "write_config",
]
