"""RecordSource: what a dataset contributes to riskvision, whatever its files look like.

A source turns one dataset's files into :class:`~riskvision.data.records.VideoRecord` objects (one per video,
at its native frame rate), reports what is wrong with them, says which of its records to keep (its own
filters) and sets each record's ``source`` label and ``group`` (the key grouped splits keep together).
Everything above the sources (splits, labels, samplers, the datamodule) is dataset-agnostic.

Adding a dataset is one file here (a RecordSource subclass) plus one ``conf/data/source/<name>.yaml``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from riskvision.data.records import DataIssue, VideoRecord

__all__ = ["RecordSource"]


class RecordSource(ABC):
    """One dataset's records (see the module docstring).

    Class attribute ``synthetic``: the source generates its data (runs on it say so in their logs).
    Attribute ``read_only``: the source writes nothing (no generated data, no index cache); set by code, never
    by a config, on a source rebuilt from a checkpoint's stored config (``RiskDataModule.forbid_writes``), so a
    downloaded file never decides where files are written.
    """

    synthetic: ClassVar[bool] = False
    read_only: bool = False

    @property
    def active(self) -> bool:
        """The source has data to read (a source whose root is ``None`` contributes nothing)."""
        return True

    def prepare(self) -> None:
        """Make the files exist before they are read (the synthetic source generates them unless
        :attr:`read_only`); idempotent. Called once per process by the datamodule; the default has nothing to do."""

    @abstractmethod
    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        """Every usable record, before :meth:`keep`; problems found go to ``issues`` (with a warning)."""

    def keep(self, record: VideoRecord) -> bool:
        """The source's own filters: whether ``record`` (one of its own) takes part. Default: all."""
        return True
