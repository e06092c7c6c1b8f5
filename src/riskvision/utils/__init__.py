"""Thin helpers of train.py: config checks, instantiation, logging, checkpoint IO, pretrained weights."""

from riskvision.utils.checkpointing import (
    CLIP_SPAN_KEY,
    CONFIG_KEY,
    RUN_ID_KEY,
    AtomicCheckpointIO,
    BestCheckpoint,
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
    check_data_roots,
    check_renamed_overrides,
    data_model_file,
    resume_path,
    validate_config,
)
from riskvision.utils.config_summary import config_summary, write_config
from riskvision.utils.epoch_summary import EpochProgressBar, EpochSummary, metrics_table
from riskvision.utils.instantiators import instantiate_callbacks, instantiate_data, instantiate_loggers
from riskvision.utils.model_table import ModelTable
from riskvision.utils.logging_utils import close_loggers, log_hyperparameters
from riskvision.utils.precise_bn import PreciseBatchNorm
from riskvision.utils.pylogger import get_logger

__all__ = [
    "CLIP_SPAN_KEY",
    "CONFIG_KEY",
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
    "check_renamed_overrides",
    "close_loggers",
    "config_summary",
    "data_model_file",
    "describe_checkpoint",
    "get_logger",
    "instantiate_callbacks",
    "instantiate_data",
    "instantiate_loggers",
    "load_checkpoint",
    "log_hyperparameters",
    "metrics_table",
    "model_name",
    "net_name",
    "resume_path",
    "validate_config",
    "write_config",
]
