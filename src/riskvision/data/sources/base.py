"""RecordSource: what a dataset contributes to riskvision, whatever its files look like.

A source turns one dataset's files into :class:`~riskvision.data.records.VideoRecord` objects (one per video,
at its native frame rate), reports what is wrong with them, says which of its records to keep (its own
filters) and sets each record's ``source`` label and ``group`` (the key grouped splits keep together).
Everything above the sources (splits, labels, samplers, the datamodule) is dataset-agnostic.

Adding a dataset is one file here (a RecordSource subclass) plus one ``conf/data/source/<name>.yaml``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from riskvision.data.layout import require_folder
from riskvision.data.records import DataIssue, VideoRecord

__all__ = ["EventFilter", "RecordSource", "VideoFolderSource"]


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

    def check_root(self) -> None:
        """Raise ``DataLayoutError`` (naming the config key and the fix) when the configured root cannot be this data
        set's folder: missing, a file, unreadable. Cheap (no listing): run before weights are read or anything is
        built. Default: nothing to check (a source without a root, or one that generates its files)."""

    def prepare(self) -> None:
        """Make the files exist before they are read (the synthetic source generates them unless
        :attr:`read_only`); idempotent. Called once per process by the datamodule; the default has nothing to do."""

    @abstractmethod
    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        """Every usable record, before :meth:`keep`; problems found go to ``issues`` (with a warning)."""

    def keep(self, record: VideoRecord) -> bool:
        """The source's own filters: whether ``record`` (one of its own) takes part. Default: all."""
        return True


class EventFilter:
    """Which records with an anomaly to keep by their ``ego`` and ``night`` flags (a source's ``filters``, the alert
    labels' ego filter); records without an anomaly always pass.

    Args:
        ego: ``True`` keeps only the crash records whose ego vehicle is involved, ``False`` only those where it is
            not, ``None`` both.
        skip_night: drop the crash records recorded at night.
    """

    def __init__(self, ego: bool | None = None, skip_night: bool = False) -> None:
        self.ego, self.skip_night = ego, bool(skip_night)

    def keep(self, record: VideoRecord) -> bool:
        if not record.has_anomaly:
            return True
        return (self.ego is None or record.ego == self.ego) and not (self.skip_night and record.night)

    def __repr__(self) -> str:
        return f"EventFilter(ego={self.ego}, skip_night={self.skip_night})"


class VideoFolderSource(RecordSource):
    """A data set of video files under one folder (CCD, DAD, Nexar): its records come from :meth:`index`, its own
    filters are an :class:`EventFilter`, its videos' probe cache goes next to them or to ``cache_dir``.

    Args:
        root: the data set's folder; ``None``: this source contributes nothing.
        filters: which crash records to keep (:class:`EventFilter`: ``ego``, ``skip_night``); ``None`` keeps all.
        cache_dir: where the fps / frame-count probe cache goes (default: next to the videos).
    """

    def __init__(
        self, root: str | Path | None, filters: EventFilter | None = None, cache_dir: str | Path | None = None
    ) -> None:
        self.root = None if root is None else Path(root)
        self.filters = filters or EventFilter()
        self.cache_dir = cache_dir

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, filters={self.filters!r})"

    #: the config key of the root and what the folder holds, for :meth:`check_root`'s message (set by subclasses)
    root_key: ClassVar[str] = "data.root"
    root_holds: ClassVar[str] = "the data set"

    @property
    def active(self) -> bool:
        return self.root is not None

    def check_root(self) -> None:
        if self.root is not None:
            require_folder(self.root, self.root_key, self.root_holds)

    def build(self, issues: list[DataIssue]) -> list[VideoRecord]:
        return [] if self.root is None else self.index(self.root, issues)

    @abstractmethod
    def index(self, root: Path, issues: list[DataIssue]) -> list[VideoRecord]:
        """Every usable record under ``root`` (:meth:`build`); the probe cache is written unless :attr:`read_only`."""

    def keep(self, record: VideoRecord) -> bool:
        return self.filters.keep(record)
