"""Thin helpers of train.py: config checks, instantiation, logging, checkpoint IO, pretrained weights."""

from riskvision.utils.checkpointing import (
    CLIP_SPAN_KEY,
    CONFIG_KEY,
    RUN_ID_KEY,
    AtomicCheckpointIO,
    LastCheckpoint,
    RunConfigInCheckpoint,
    describe_checkpoint,
    load_checkpoint,
    model_name,
    net_name,
)
from riskvision.utils.config_checks import (
    ConfigError,
    check_clip_length,
    check_renamed_overrides,
    data_model_file,
    resume_path,
    validate_config,
)
from riskvision.utils.instantiators import instantiate_callbacks, instantiate_data, instantiate_loggers
from riskvision.utils.logging_utils import close_loggers, log_hyperparameters
from riskvision.utils.pylogger import get_logger
from riskvision.utils.rich_utils import print_config_tree

__all__ = [
    "CLIP_SPAN_KEY",
    "CONFIG_KEY",
    "RUN_ID_KEY",
    "AtomicCheckpointIO",
    "ConfigError",
    "LastCheckpoint",
    "RunConfigInCheckpoint",
    "check_clip_length",
    "check_renamed_overrides",
    "close_loggers",
    "data_model_file",
    "describe_checkpoint",
    "get_logger",
    "instantiate_callbacks",
    "instantiate_data",
    "instantiate_loggers",
    "load_checkpoint",
    "log_hyperparameters",
    "model_name",
    "net_name",
    "print_config_tree",
    "resume_path",
    "validate_config",
]
