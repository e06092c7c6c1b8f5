"""Known-harmless messages of the libraries a run uses, silenced one by one where they come from (never all
warnings, never a whole logger): Lightning's tips and notices about defaults, and a deprecation inside
Lightning's own code. Anything else, and every real warning, still shows."""

from __future__ import annotations

import logging
import warnings

#: Lightning rank-zero notices that say nothing about this run, by their opening words.
LIGHTNING_NOTICES = (
    "💡 Tip:",  # an advert for a cloud logger
    "Trainer already configured with model summary",  # riskvision.utils.ModelTable replaces the default summary
    "`Trainer(limit_train_batches=1.0)` was configured",  # the default value, reported as if it were a choice
    "`Trainer(limit_val_batches=1.0)` was configured",
    "`Trainer(limit_test_batches=1.0)` was configured",
    "TPU available: False",
    "HPU available: False",
)
#: Warnings raised inside a library about its own code (message regex, category, module regex): torch 2.14
#: deprecates the ``LeafSpec`` that Lightning 2.6's pytree helper builds for every batch.
LIBRARY_WARNINGS = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"lightning\.pytorch\.utilities\._pytree"),
)
LIGHTNING_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _DropNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(LIGHTNING_NOTICES)


_FILTER = _DropNotices()


def quiet_known_messages() -> None:
    """Install the filters (idempotent)."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for message, category, module in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
