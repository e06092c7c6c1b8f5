"""A logger that speaks once per job, on global rank zero only (multi-GPU runs log each line once)."""

from __future__ import annotations

import logging
from typing import Any


class RankZeroLogger(logging.LoggerAdapter):
    """``logging.LoggerAdapter`` that drops records on every rank but global rank zero."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.getLogger(name), {})

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log on rank zero only (Lightning is imported at the first record, not with this module: ``--help``)."""
        from lightning.pytorch.utilities import rank_zero_only

        if rank_zero_only.rank == 0:
            super().log(level, msg, *args, **kwargs)


def get_logger(name: str) -> RankZeroLogger:
    """Return the rank-zero logger for module ``name``."""
    return RankZeroLogger(name)
