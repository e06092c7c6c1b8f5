"""The module's layer table at the start of fitting, in the run log (console and ``train.log``)."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import ModelSummary
from lightning.pytorch.utilities.model_summary import get_human_readable_count

from riskvision.utils.pylogger import get_logger

log = get_logger(__name__)

#: Columns of Lightning's summary the table keeps. Its FLOPs column reads 0 unless the module has an example
#: input; the log's "GFLOPs per clip" line (``riskvision.models.model_summary``) has the real figure.
COLUMNS = ("Name", "Type", "Params", "Mode")


class ModelTable(ModelSummary):
    """Lightning's ``ModelSummary`` (layers to ``max_depth``, parameter counts, train/eval mode) as a plain-text
    table through the run logger, without the FLOPs column and total."""

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        columns = dict(summary_data)
        names = [name for name in COLUMNS if name in columns]
        rows = [names, *zip(*(columns[name] for name in names))]
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(names))]
        lines = ["  ".join(f"{cell!s:<{width}}" for cell, width in zip(row, widths)).rstrip() for row in rows]
        frozen = total_parameters - trainable_parameters
        lines.append(
            f"{get_human_readable_count(trainable_parameters).strip()} trainable, "
            f"{get_human_readable_count(frozen).strip()} frozen parameters ({model_size:.1f} MB); "
            f"modules in train / eval mode: {total_training_modes['train']} / {total_training_modes['eval']}"
        )
        log.info("Model layers (FLOPs: the 'GFLOPs per clip' line above):\n" + "\n".join(lines))
