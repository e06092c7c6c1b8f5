"""One datamodule per data set (``conf/data/<name>.yaml``): the settings users type (``data.dota_root=...``,
``data.root=...``, ``data.filters.*``, ``data.synthetic.*``) are the constructor's own arguments, and it builds its
record sources from them. Everything else (splits, labels, samplers, augmentation, ``data.frames``,
``data.loader``, more ``sources``) is :class:`~riskvision.data.datamodule.RiskDataModule`'s, passed on unchanged
(:class:`DataModuleSettings`). So ``hydra.utils.instantiate(cfg.data)`` builds any data config.

Another source joins any of them from the command line: ``+data/source@data.sources.NAME=SOURCE``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

from omegaconf import DictConfig, OmegaConf

from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.datamodule import RiskDataModule
from riskvision.data.dataset import VideoTransform
from riskvision.data.labels import LabelPolicy
from riskvision.data.records import VideoRecord
from riskvision.data.sampling import ClipSampler
from riskvision.data.sources.base import EventFilter, RecordSource
from riskvision.data.sources.bdd import BddSource
from riskvision.data.sources.ccd import CcdSource
from riskvision.data.sources.dad import ACCIDENT_FRAME, DadSource
from riskvision.data.sources.dota import DotaFilter, DotaSource
from riskvision.data.sources.nexar import NexarSource
from riskvision.data.sources.synthetic import SyntheticSource
from riskvision.errors import ConfigError

__all__ = [
    "CcdData",
    "check_data_settings",
    "DadData",
    "DataModuleSettings",
    "DotaBddData",
    "NexarData",
    "SyntheticData",
    "record_sources",
]

#: A data folder setting: a path, or None for none.
Folder = str | Path | None


class DataModuleSettings(TypedDict, total=False):
    """:class:`RiskDataModule`'s arguments, which every data set passes on unchanged (see its docstring);
    ``sources``: more sources beside the data set's own (``+data/source@data.sources.NAME=SOURCE``)."""

    sources: Mapping[str, RecordSource | None]
    samplers: Mapping[str, ClipSampler]
    sampler: str
    split: Callable[[Sequence[VideoRecord]], dict[str, list[VideoRecord]]] | None
    labels: LabelPolicy | None
    target: str
    augments: Mapping[str, VideoTransform] | None
    augment: str | None
    frames: FrameConfig | None
    loader: LoaderConfig | None


def _with(own: Mapping[str, RecordSource], settings: DataModuleSettings) -> DataModuleSettings:
    """``settings`` whose ``sources`` are the data set's ``own`` plus the ones added from the command line."""
    added = dict(settings.get("sources") or {})
    clash = sorted(set(own) & set(added))
    if clash:
        raise ValueError(f"data.sources.{clash[0]} is this data set's own source; add another under a new name")
    return {**settings, "sources": {**own, **added}}


class DotaBddData(RiskDataModule):
    """DoTA crash clips + BDD100K normal driving (``conf/data/dota_bdd.yaml``).

    Args:
        dota_root: the DoTA folder (official release or the bilstm seed's layout); required.
        bdd_root: the BDD100K folder (videos or prepared frames); ``None``: no BDD source (the seed layout holds its
            BDD frames itself).
        dota_layout: ``auto`` | ``official`` | ``seed``.
        bdd_layout: ``auto`` | ``videos`` | ``frames``.
        bdd_frames_fps: frames per second of BDD frame folders without ``prepared.json``.
        index_cache_dir: where BDD's fps / frame-count probe cache goes; ``None``: next to the videos.
        filters: which DoTA clips to keep (:class:`~riskvision.data.sources.dota.DotaFilter`).
        settings: :class:`RiskDataModule`'s arguments (:class:`DataModuleSettings`).
    """

    def __init__(
        self,
        dota_root: Folder,
        bdd_root: Folder = None,
        dota_layout: str = "auto",
        bdd_layout: str = "auto",
        bdd_frames_fps: float | None = None,
        index_cache_dir: Folder = None,
        filters: DotaFilter | None = None,
        **settings: Unpack[DataModuleSettings],
    ) -> None:
        own = self.own_sources(dota_root, bdd_root, dota_layout, bdd_layout, bdd_frames_fps, index_cache_dir, filters)
        super().__init__(**_with(own, settings))

    @staticmethod
    def own_sources(
        dota_root: Folder,
        bdd_root: Folder = None,
        dota_layout: str = "auto",
        bdd_layout: str = "auto",
        bdd_frames_fps: float | None = None,
        index_cache_dir: Folder = None,
        filters: DotaFilter | None = None,
    ) -> dict[str, RecordSource]:
        """The data set's sources, ``dota`` and ``bdd`` (the arguments as the constructor's)."""
        return {
            "dota": DotaSource(dota_root, dota_layout, filters),
            "bdd": BddSource(bdd_root, bdd_layout, bdd_frames_fps, index_cache_dir),
        }


class CcdData(RiskDataModule):
    """CCD, the Car Crash Dataset (``conf/data/ccd.yaml``).

    Args:
        root: the CCD folder holding ``videos/``; required.
        index_cache_dir: where the fps / frame-count probe cache goes; ``None``: next to the videos.
        filters: which crash clips to keep (:class:`~riskvision.data.sources.base.EventFilter`: ego, night).
        settings: :class:`RiskDataModule`'s arguments (:class:`DataModuleSettings`).
    """

    def __init__(
        self,
        root: Folder,
        index_cache_dir: Folder = None,
        filters: EventFilter | None = None,
        **settings: Unpack[DataModuleSettings],
    ) -> None:
        super().__init__(**_with(self.own_sources(root, index_cache_dir, filters), settings))

    @staticmethod
    def own_sources(
        root: Folder, index_cache_dir: Folder = None, filters: EventFilter | None = None
    ) -> dict[str, RecordSource]:
        """The data set's source, ``ccd`` (the arguments as the constructor's)."""
        return {"ccd": CcdSource(root, filters, index_cache_dir)}


class DadData(RiskDataModule):
    """DAD, the Dashcam Accident Dataset (``conf/data/dad.yaml``).

    Args:
        root: the DAD folder holding ``videos/``; required.
        accident_frame: the first native frame (20 fps) of every positive clip's accident (the release: 90).
        index_cache_dir: where the fps / frame-count probe cache goes; ``None``: next to the videos.
        filters: which positive clips to keep (:class:`~riskvision.data.sources.base.EventFilter`; DAD annotates no
            ego or night: they come from ``data.labels.alerts``).
        settings: :class:`RiskDataModule`'s arguments (:class:`DataModuleSettings`).
    """

    def __init__(
        self,
        root: Folder,
        accident_frame: int = ACCIDENT_FRAME,
        index_cache_dir: Folder = None,
        filters: EventFilter | None = None,
        **settings: Unpack[DataModuleSettings],
    ) -> None:
        super().__init__(**_with(self.own_sources(root, accident_frame, index_cache_dir, filters), settings))

    @staticmethod
    def own_sources(
        root: Folder,
        accident_frame: int = ACCIDENT_FRAME,
        index_cache_dir: Folder = None,
        filters: EventFilter | None = None,
    ) -> dict[str, RecordSource]:
        """The data set's source, ``dad`` (the arguments as the constructor's)."""
        return {"dad": DadSource(root, accident_frame, filters, index_cache_dir)}


class NexarData(RiskDataModule):
    """Nexar collision prediction (``conf/data/nexar.yaml``).

    Args:
        root: the folder holding ``train.csv`` and ``train/``; required.
        test_fraction: share of ``train.csv`` (per class, drawn with the data's own seed 0: the same test videos for
            every training seed) held out as the test split; the release's test set has no labels.
        event_span_s: seconds of Danger from ``time_of_event``; ``None``: to the video's end.
        index_cache_dir: where the fps / frame-count probe cache goes; ``None``: next to the videos.
        settings: :class:`RiskDataModule`'s arguments (:class:`DataModuleSettings`).
    """

    def __init__(
        self,
        root: Folder,
        test_fraction: float = 0.2,
        event_span_s: float | None = None,
        index_cache_dir: Folder = None,
        **settings: Unpack[DataModuleSettings],
    ) -> None:
        super().__init__(**_with(self.own_sources(root, test_fraction, event_span_s, index_cache_dir), settings))

    @staticmethod
    def own_sources(
        root: Folder, test_fraction: float = 0.2, event_span_s: float | None = None, index_cache_dir: Folder = None
    ) -> dict[str, RecordSource]:
        """The data set's source, ``nexar`` (the arguments as the constructor's)."""
        return {"nexar": NexarSource(root, test_fraction, seed=0, event_span_s=event_span_s, cache_dir=index_cache_dir)}


class SyntheticData(RiskDataModule):
    """The built-in synthetic data (``conf/data/synthetic.yaml``): procedurally rendered DoTA-format crash clips and
    BDD-format normal videos, generated on first use (cached, deterministic per seed).

    Args:
        synthetic: the source (``data.synthetic.*``: root, seed, sizes), built by Hydra without its filters.
        filters: which crash clips to keep (:class:`~riskvision.data.sources.dota.DotaFilter`); ``None`` keeps all.
        settings: :class:`RiskDataModule`'s arguments (:class:`DataModuleSettings`).
    """

    def __init__(
        self,
        synthetic: Callable[..., SyntheticSource],
        filters: DotaFilter | None = None,
        **settings: Unpack[DataModuleSettings],
    ) -> None:
        super().__init__(**_with(self.own_sources(synthetic, filters), settings))

    @staticmethod
    def own_sources(
        synthetic: Callable[..., SyntheticSource], filters: DotaFilter | None = None
    ) -> dict[str, RecordSource]:
        """The data set's source, ``synthetic`` (the arguments as the constructor's)."""
        return {"synthetic": synthetic(filters=filters)}


def _built(value: Any, instantiate: Callable[[Any], Any]) -> Any:
    """A config value as its argument: a node built by Hydra, a plain value as it is."""
    return instantiate(value) if isinstance(value, Mapping) or hasattr(value, "_get_node") else value


def record_sources(data: Mapping[str, Any]) -> dict[str, RecordSource]:
    """The record sources a data config reads, built without its datamodule: the data set's own (``own_sources`` of
    the class its ``_target_`` names, from its own keys) and those under ``sources`` (``None`` entries dropped).
    Nothing else of the config is resolved, so a data config composed without a model config works (the review
    page's ``data=<group>``)."""
    from hydra.utils import get_class, instantiate  # Hydra only when a config is given

    target = get_class(data["_target_"]) if "_target_" in data else None
    own_sources = getattr(target, "own_sources", None)
    sources: dict[str, RecordSource] = {}
    if own_sources is not None:
        names = inspect.signature(own_sources).parameters
        sources.update(own_sources(**{name: _built(data[name], instantiate) for name in names if name in data}))
    for name, entry in (data.get("sources") or {}).items():
        if entry is not None:
            sources[str(name)] = instantiate(entry)
    return sources


def check_data_settings(data: DictConfig) -> None:
    """Raise :class:`ConfigError` naming the first ``???`` of a data config the user must set (``data=ccd`` without
    ``data.root``), before ``hydra.utils.instantiate(data)`` would fail on it with OmegaConf's traceback."""
    missing = sorted(OmegaConf.missing_keys(data))
    if missing:
        key = missing[0] if missing[0].startswith("data.") else f"data.{missing[0]}"  # full keys when under a run
        raise ConfigError(
            f"{key} is not set, and this data config needs it (the folder of the data set). Fix: add "
            f"{key}=/path/to/the/data/set to the command (README: Data sets)"
        )
