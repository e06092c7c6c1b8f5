"""RiskDataModule: record sources -> records -> splits -> clip indices -> batches, for every model.

The datamodule knows no dataset: its ``sources`` (``riskvision.data.sources``) turn files into records;
everything after that is generic. Batches follow ``riskvision.batch``; each item also carries
``substituted``, the number of its frames that were unreadable and replaced by the nearest readable frame
(log its sum per epoch), and ``replaced``, true for the stand-in of a clip whose video is unreadable (every
loader, ``scoring_dataloader`` included: evaluation drops those samples).
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from lightning import LightningDataModule
from torch.utils.data import DataLoader

from riskvision.batch import LABEL_KEYS
from riskvision.data.config import FrameConfig, LoaderConfig
from riskvision.data.dataset import (
    CachedClipDataset,
    ClassBalancedSampler,
    ClipDataset,
    ClipIndex,
    PerVideoSampler,
    VideoTransform,
    VideoWindowsDataset,
)
from riskvision.data.feature_cache import Encode, FeatureCache, FeatureEntry, describe_callable
from riskvision.data.labels import RISK_NAMES, LabelPolicy
from riskvision.data.records import DataIssue, DataWarning, VideoRecord, issue_lines
from riskvision.data.sampling import ClipSampler, WindowSampler
from riskvision.data.sources.base import RecordSource
from riskvision.data.splits import SPLITS, SubsetSplit, duplicates, require_nonempty
from riskvision.data.timebase import TargetVideo, to_target
from riskvision.data.transforms import Normalize

log = logging.getLogger(__name__)

STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",), None: SPLITS}


def _named(sources: Mapping[str, RecordSource | None] | Sequence[RecordSource]) -> dict[str, RecordSource]:
    """Sources by name (a sequence is named by position); ``None`` entries (a source switched off) are dropped."""
    items = sources.items() if isinstance(sources, Mapping) else ((str(i), s) for i, s in enumerate(sources))
    return {str(name): source for name, source in items if source is not None}


class RiskDataModule(LightningDataModule):
    """Clips of any record sources for any task.

    Args:
        sources: the datasets, ``{name: RecordSource}`` (``conf/data/source/*.yaml``; ``None`` switches one
            off) or a list; each builds its records, reports its problems and applies its own filters.
        split: ``records -> {"train", "val", "test"}`` strategy (splits.py).
        labels: the label policy.
        samplers: clip samplers by name (``uniform``, ``window``).
        sampler: the name of the one to use (``${model.inputs.sampler}``).
        target: the label the model learns and the balanced loader balances (a ``riskvision.batch.LABEL_KEYS`` key).
        augments: training augmentations by name (uint8 clip transforms, ``ClipAugment``).
        augment: the name of the one to train with (``${model.inputs.augment}``); ``None`` for none.
        frames: how clip frames are timed, read, sized and normalised (``data.frames``, :class:`FrameConfig`).
        loader: batch sizes, workers and class balancing (``data.loader``, :class:`LoaderConfig`).
    """

    def __init__(
        self,
        sources: Mapping[str, RecordSource | None] | Sequence[RecordSource],
        samplers: Mapping[str, ClipSampler],
        sampler: str,
        split: Callable[[Sequence[VideoRecord]], dict[str, list[VideoRecord]]] | None = None,
        labels: LabelPolicy | None = None,
        target: str = "crash",
        augments: Mapping[str, VideoTransform] | None = None,
        augment: str | None = None,
        frames: FrameConfig | None = None,
        loader: LoaderConfig | None = None,
    ) -> None:
        super().__init__()
        if sampler not in samplers:
            raise ValueError(f"data.sampler={sampler!r} is not one of data.samplers {sorted(samplers)}")
        if target not in LABEL_KEYS:
            raise ValueError(f"data.target={target!r}; use one of {list(LABEL_KEYS)}")
        augments = dict(augments or {})
        if augment is not None and augment not in augments:
            raise ValueError(
                f"data.augment={augment!r} is not one of data.augments {sorted(augments)}; set "
                "model.inputs.augment to one of them"
            )
        self.sources = _named(sources)
        if not any(source.active for source in self.sources.values()):
            raise ValueError(
                f"data.sources={self.sources} has no source with data (none, or every root is null); "
                "e.g. data=dota_bdd data.dota_root=/path/to/DoTA, or add one: "
                "+data/source@data.sources.NAME=SOURCE (conf/data/source/*.yaml)"
            )
        self.sampler = samplers[sampler]
        self.split = split or SubsetSplit()
        self.labels = labels or LabelPolicy()
        self.target = target
        self.augment = None if augment is None else augments[augment]
        self.frames = frames or FrameConfig()
        self.loader = loader or LoaderConfig()
        # the settings by name, as the rest of the package reads them
        self.frame_size, self.train_read_size = self.frames.size, self.frames.train_read_size
        self.normalization, self.target_fps = self.frames.normalization, self.frames.target_fps
        self.reader_factory = self.frames.reader_factory
        self.batch_size, self.eval_batch_size = self.loader.batch_size, self.loader.eval_batch_size
        self.num_workers, self.pin_memory = self.loader.num_workers, self.loader.pin_memory
        self.persistent_workers, self.balanced = self.loader.persistent_workers, self.loader.balanced
        self.issues: list[DataIssue] = []
        self.records_by_source: dict[str, list[VideoRecord]] | None = None
        self.videos: dict[str, list[TargetVideo]] | None = None
        self._normalize: VideoTransform | None = None
        self.feature_cache: FeatureCache | None = None
        self.feature_entries: dict[str, list[FeatureEntry]] = {}

    # ------------------------------------------------------------------------- index

    def forbid_writes(self) -> None:
        """Make every source :attr:`~riskvision.data.sources.base.RecordSource.read_only`: this datamodule was
        rebuilt from a checkpoint's stored config, whose paths must not decide where files are written."""
        for source in self.sources.values():
            source.read_only = True

    def prepare_data(self) -> None:
        """Make every source's files exist (the synthetic set is generated on first use, cached afterwards)."""
        for source in self.sources.values():
            source.prepare()

    def build_records(self) -> list[VideoRecord]:
        """Every usable record of every source, before filters, with the label policy's overlay (the consensus alert
        labels, ``data.labels.alerts``) applied; the problems of this build replace :attr:`issues` (a rebuild re-reads
        every file: a fixed clip is back, no problem is listed twice). A source prepares itself on processes that skip
        ``prepare_data`` (DDP ranks > 0, ``scripts/eval.py``)."""
        self.issues = []
        with warnings.catch_warnings(record=True) as caught:  # told below, one line per kind of issue
            warnings.simplefilter("always", DataWarning)
            built = {name: source.build(self.issues) for name, source in self.sources.items()}
            annotated = iter(self.labels.annotate([r for records in built.values() for r in records], self.issues))
        told = {issue.message for issue in self.issues}
        for warning in caught:
            if not (issubclass(warning.category, DataWarning) and str(warning.message) in told):
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        for line in issue_lines(self.issues):
            warnings.warn(line, DataWarning, stacklevel=2)
        self.records_by_source = {name: [next(annotated) for _ in records] for name, records in built.items()}
        return self.records

    @property
    def records(self) -> list[VideoRecord] | None:
        """Every record :meth:`build_records` built, in source order (``None`` before)."""
        if self.records_by_source is None:
            return None
        return [record for records in self.records_by_source.values() for record in records]

    def kept_records(self) -> list[VideoRecord]:
        """The records each source's own filters and the label policy's alert filter keep (after
        :meth:`build_records`), in source order."""
        if self.records_by_source is None:
            raise RuntimeError("call build_records() before kept_records()")
        return [
            r
            for name, records in self.records_by_source.items()
            for r in records
            if self.sources[name].keep(r) and self.labels.keep(r)
        ]

    def filters_description(self) -> str:
        """What decides which records are in which split, for an empty split's message: the sources (with their
        filters), the label policy (with its alert filter) and the split strategy."""
        return f"the filters of {self.sources}, labels {self.labels!r} and split {self.split!r}"

    def build_splits(self) -> dict[str, list[VideoRecord]]:
        """Filtered records split by :attr:`split` (unchecked: see :meth:`setup`)."""
        self.build_records()
        return self.split(self.kept_records())

    def setup(self, stage: str | None = None) -> None:
        """Build the index once, check the splits ``stage`` needs are non-empty, set the normaliser."""
        if self.videos is None:
            splits = self.build_splits()
            both = duplicates(splits)
            if both:
                video_id, names = next(iter(both.items()))
                raise ValueError(
                    f"{len(both)} videos are in more than one split, e.g. {video_id} in {names}; "
                    f"fix the split files or data.split ({self.split!r})"
                )
            self.videos = {name: [to_target(r, self.target_fps) for r in records] for name, records in splits.items()}
            for name, split in self.videos.items():
                sources = dict(Counter(v.record.source for v in split))
                log.info(
                    "%s%s split: %d videos (%d with an anomaly), sources %s, target %.4g fps",
                    "SYNTHETIC " if self.is_synthetic else "",
                    name,
                    len(split),
                    sum(v.has_anomaly for v in split),
                    sources,
                    self.target_fps,
                )
        require_nonempty(self.videos, STAGE_SPLITS[stage], self.filters_description())
        self._normalize = Normalize(self.normalization)

    @property
    def is_synthetic(self) -> bool:
        """The data come from the procedural generator (say so in logs and outputs)."""
        if self.records is None:
            return any(source.synthetic for source in self.sources.values())
        return any(r.synthetic for r in self.records)

    # ------------------------------------------------------------------------- datasets

    def dataset(self, split: str, sampler: ClipSampler, train: bool) -> ClipDataset:
        """Clips of ``split``: training anchors, augmentation and random frames (if the sampler draws
        any), or the evaluation anchors with fixed frames (``val``: at most the sampler's
        ``val_windows_per_video`` per video). After :meth:`use_feature_cache`, the clips of the
        configured sampler carry cached features instead of pixels (``CachedClipDataset``)."""
        if self.videos is None or self._normalize is None:
            raise RuntimeError("call datamodule.setup() before asking for datasets")
        videos = self.videos[split]
        anchors = sampler.train_anchors if train else sampler.val_anchors if split == "val" else sampler.eval_anchors
        if self.feature_cache is not None and sampler is self.sampler:
            return CachedClipDataset(
                videos,
                ClipIndex(videos, anchors),
                sampler,
                self.labels,
                self.feature_cache,
                self.feature_entries[split],
                random_frames=train,
            )
        return ClipDataset(
            videos,
            ClipIndex(videos, anchors),
            sampler,
            self.labels,
            self._normalize,
            self.train_read_size if train else self.frame_size,
            self.frame_size,
            self.augment if train else None,
            self.reader_factory,
            random_frames=train,
        )

    def _loader(self, dataset: ClipDataset, batch_size: int, sampler=None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train", self.sampler, train=True)
        size = len(self.videos["train"]) * self.sampler.clips_per_video
        if self.balanced:
            sampler = ClassBalancedSampler(dataset.target_labels(self.target), num_samples=size)
        else:
            sampler = PerVideoSampler(dataset.clips, self.sampler.clips_per_video)
        return self._loader(dataset, self.batch_size, sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("val", self.sampler, train=False), self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test", self.sampler, train=False), self.eval_batch_size)

    def scoring_dataloader(self, split: str, num_frames: int, step: int = 1) -> DataLoader:
        """Windows of ``num_frames`` consecutive frames ending at frames ``0, step, 2 * step, ...``
        of every video of ``split`` (per-frame scores; ``end_frame`` says which frame)."""
        sampler = WindowSampler(num_frames, eval_step=step)
        return self._loader(self.dataset(split, sampler, train=False), self.eval_batch_size)

    def video_scoring_dataloader(self, split: str, num_frames: int, step: int = 1) -> DataLoader:
        """The windows of :meth:`scoring_dataloader` grouped by video: one item per video, its frames read once
        and its windows as indices into them (``VideoWindowsDataset``), for per-frame nets."""
        if self.videos is None or self._normalize is None:
            raise RuntimeError("call datamodule.setup() before asking for a scoring loader")
        dataset = VideoWindowsDataset(
            self.videos[split],
            WindowSampler(num_frames, eval_step=step),
            self.labels,
            self.frame_size,
            self.reader_factory,
        )
        return DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
        )

    # ------------------------------------------------------------------------- feature cache

    def use_feature_cache(
        self,
        root: str | Path,
        backbone: Mapping[str, Any],
        encode: Encode,
        views: int = 0,
        seed: int = 0,
        batch_frames: int = 64,
        rank: int = 0,
        world_size: int = 1,
    ) -> FeatureCache:
        """From now on, the train / val / test clips carry the per-frame features of a frozen backbone, read from
        a feature cache under ``root`` (``riskvision.data.feature_cache``), instead of pixels; missing entries are
        extracted first. Returns the cache.

        Args:
            root: the cache folder (``model.feature_cache.dir``).
            backbone: what the backbone's features depend on (``FrameFeatureNet.feature_identity()``: its name and
                weights digest); the rest of the key (frame size, normalisation, reader, target fps) is this
                datamodule's.
            encode: normalised float32 frames ``[N, 3, H, W]`` -> features ``[N, D]``.
            views: 0: features of the frames as read, which needs training without augmentation; K >= 1: K draws of
                the training augmentation per training video, one picked per clip per epoch (val/test videos are
                never augmented).
            seed: seeds the views' draws.
            batch_frames: frames per ``encode`` call.
            rank, world_size: this process among DDP ranks (they share the extraction).

        Raises:
            ValueError: a training augmentation with ``views == 0``, or negative ``views``.
        """
        if self.videos is None or self._normalize is None:
            raise RuntimeError("call datamodule.setup() before use_feature_cache()")
        if views < 0:
            raise ValueError(f"model.feature_cache.views={views}; use 0 (no augmentation) or K >= 1 augmented views")
        augmented = self.augment is not None and not getattr(self.augment, "is_identity", False)
        if augmented and not views:
            raise ValueError(
                f"model.feature_cache.enabled=true stores each frame's features once, but training augments clips "
                f"({self.augment!r}), which changes them every epoch. Fix: model.inputs.augment=none (train without "
                "augmentation), or model.feature_cache.views=K (K augmented views per training video, extracted once; "
                "each epoch picks one per clip)"
            )
        if not augmented and views:
            log.warning(
                "model.feature_cache.views=%d ignored: training does not augment (model.inputs.augment), so "
                "every view would be the same; caching the frames as read",
                views,
            )
            views = 0
        key = {
            **backbone,
            "frame_size": list(self.frame_size),
            "normalization": self.normalization,
            "reader": describe_callable(self.reader_factory),
            "target_fps": self.target_fps,
            "compute": "float32",
        }
        cache = FeatureCache(root, key)
        entries = {}
        for split, videos in self.videos.items():
            train = split == "train"
            entries[split] = [
                FeatureEntry(
                    video,
                    tuple(self.sampler.frames_used(video.num_frames, train)),
                    self.train_read_size if train else self.frame_size,
                    views if train else 0,
                    self.augment if train and views else None,
                    repr(self.augment) if train and views else "",
                    seed,
                )
                for video in videos
            ]
        log.info(
            "Feature cache %s: checking %d entries (%d frames)",
            cache.path,
            sum(map(len, entries.values())),
            sum(len(e.frames) * e.rows for split in entries.values() for e in split),
        )
        report = cache.fill(
            [e for split in entries.values() for e in split],
            encode,
            self.reader_factory,
            self._normalize,
            self.num_workers,
            batch_frames,
            rank,
            world_size,
        )
        log.info(cache.describe(report))
        self.feature_cache, self.feature_entries = cache, entries
        return cache

    @property
    def normalizer(self) -> Normalize:
        """uint8 ``[..., 3, H, W]`` -> the model's float input (after :meth:`setup`)."""
        if self._normalize is None:
            raise RuntimeError("call datamodule.setup() before asking for the normaliser")
        return self._normalize

    # ------------------------------------------------------------------------- summary

    def clip_span_s(self, split: str = "train") -> dict[str, float] | None:
        """How many seconds of video the clips of ``split`` span (first to last frame plus one frame, at the
        target rate): ``{"min", "median", "max"}`` over its videos' last training anchors (the whole video for the
        uniform sampler, ``num_frames / target_fps`` for a window); ``None`` before :meth:`setup` or without
        videos. Checkpoints record it (``riskvision.checkpoints.loading``), the predictor reports it."""
        if self.videos is None or not self.videos.get(split):
            return None
        spans = []
        for video in self.videos[split]:
            n = video.num_frames
            frames = self.sampler.frames(n, self.sampler.train_anchors(n)[-1])
            spans.append((max(frames) - min(frames) + 1) / self.target_fps)
        values = np.asarray(spans)
        return {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}

    def describe(self) -> dict:
        """Clips per split / source / category, crash clips and risk labels per target frame."""
        if self.videos is None:
            raise RuntimeError("call datamodule.setup() before describe()")
        return {
            "synthetic": self.is_synthetic,
            "target_fps": self.target_fps,
            "issues": dict(Counter(i.kind for i in self.issues)),
            "splits": summarize(self.videos, self.labels),
        }


def summarize(videos: Mapping[str, Sequence[TargetVideo]], labels: LabelPolicy) -> dict[str, dict]:
    """Per split: clips, target frames, clips per source and category, crash clips, and the risk
    label of every target frame (the label of the window ending there)."""
    out = {}
    for name, split in videos.items():
        risk = Counter(RISK_NAMES[labels.risk_at(v, t)] for v in split for t in range(v.num_frames))
        out[name] = {
            "clips": len(split),
            "frames": sum(v.num_frames for v in split),
            "sources": dict(Counter(v.record.source for v in split)),
            "categories": dict(Counter(v.record.category for v in split)),
            "crash_clips": sum(v.has_anomaly for v in split),
            "risk_frames": {k: risk.get(k, 0) for k in RISK_NAMES},
        }
    return out
