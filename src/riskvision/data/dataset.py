"""ClipDataset: a clip index entry (video, end frame) -> one batch item dict (the schema: riskvision.batch);
VideoWindowsDataset: a video -> its frames read once and all its evaluation windows (per-frame reuse).

The frame reader is built lazily, once per worker process and record kind, so a dataset pickles
cheaply to DataLoader workers. A video that cannot be read at all (the reader raises
:class:`FrameReadError`: every frame corrupt, the file gone) is dropped at its first read with one
warning, and the item is the next readable clip, flagged ``replaced``, so the epoch goes on.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, default_collate

from riskvision.batch import LABEL_KEYS, REPLACED
from riskvision.data.labels import LabelPolicy
from riskvision.data.readers import FrameReader, FrameReadError, ReadResult, reader_for
from riskvision.data.records import DataWarning, VideoRecord
from riskvision.data.sampling import ClipSampler
from riskvision.data.timebase import TargetVideo

VideoTransform = Callable[[torch.Tensor], torch.Tensor]


class ClipIndex:
    """The clips of a split as ``(video index, end frame)``, stored per video, not per clip.

    Video ``v`` contributes ``anchors(num_frames)`` (a ``range``); clip ``k`` is found by a binary
    search over the per-video offsets, so memory is O(videos) even with every frame an anchor
    (BDD100K train: ~28 M windows).
    """

    def __init__(self, videos: Sequence[TargetVideo], anchors: Callable[[int], range]) -> None:
        ranges = [anchors(video.num_frames) for video in videos]
        self.start = np.asarray([r.start for r in ranges], dtype=np.int64)
        self.step = np.asarray([r.step for r in ranges], dtype=np.int64)
        self.counts = np.asarray([len(r) for r in ranges], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def anchors(self, v: int) -> range:
        """The end frames of video ``v``'s clips."""
        start, step = int(self.start[v]), int(self.step[v])
        return range(start, start + int(self.counts[v]) * step, step)

    def __getitem__(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"clip {index} out of range [0, {len(self)})")
        v = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return v, int(self.start[v] + (index - self.offsets[v]) * self.step[v])


class ClipDataset(Dataset):
    """Clips of ``videos`` listed by ``clips``, read, augmented and normalised.

    Args:
        videos: the split's videos at the target frame rate.
        clips: the ``(video index, end frame)`` of every clip.
        sampler: turns an end frame into the clip's frame indices.
        labels: the label policy.
        normalize: uint8 ``[T, 3, H, W]`` -> float32 ``[T, 3, H, W]``.
        read_size: ``(H, W)`` the reader resizes frames to (``None``: native size).
        augment: uint8 ``[T, 3, H, W]`` -> uint8 ``[T, 3, H', W']``, train only.
        frame_size: ``(H, W)`` every clip must have after ``augment``.
        reader_factory: ``(record, size) -> FrameReader``; default ``readers.reader_for``.
        random_frames: training set: the sampler may draw each clip's frames at random
            (``ClipSampler.frames(..., random=True)``).

    Attributes:
        dropped: indices (into ``videos``) of the videos found unreadable so far in this process; their
            clips are replaced by the first clip of the next readable video, flagged ``replaced`` (see
            :meth:`__getitem__`).
    """

    def __init__(
        self,
        videos: Sequence[TargetVideo],
        clips: ClipIndex,
        sampler: ClipSampler,
        labels: LabelPolicy,
        normalize: VideoTransform,
        read_size: tuple[int, int] | None,
        frame_size: tuple[int, int],
        augment: VideoTransform | None = None,
        reader_factory: Callable | None = None,
        random_frames: bool = False,
    ) -> None:
        self.videos = list(videos)
        self.clips = clips
        self.sampler = sampler
        self.labels = labels
        self.normalize = normalize
        self.read_size = read_size
        self.frame_size = tuple(frame_size)
        self.augment = augment
        self.reader_factory = reader_factory
        self.random_frames = random_frames
        self._readers: dict[str, FrameReader] = {}
        self.dropped: set[int] = set()
        self._video_frames: VideoFrames | None = None

    def __len__(self) -> int:
        return len(self.clips)

    def frames_of(self, index: int, random: bool = False) -> tuple[TargetVideo, list[int]]:
        """The video and target-rate frame indices of clip ``index`` (``random``: see ``random_frames``)."""
        v, end = self.clips[index]
        video = self.videos[v]
        return video, self.sampler.frames(video.num_frames, end, random=random)

    def target_labels(self, target: str) -> np.ndarray:
        """``[M]`` int64 label (``crash`` or ``risk``) of every clip, without reading frames.
        Videos without anomaly are all 0 and are not visited clip by clip."""
        if target not in LABEL_KEYS:
            raise ValueError(f"target {target!r}; use one of {list(LABEL_KEYS)} (model.inputs.target)")
        rule = getattr(self.labels, target)
        out = np.zeros(len(self), dtype=np.int64)
        for v, video in enumerate(self.videos):
            if video.has_anomaly:
                first = int(self.clips.offsets[v])
                out[first : first + int(self.clips.counts[v])] = [
                    rule(*self.frames_of(k)) for k in range(first, first + int(self.clips.counts[v]))
                ]
        return out

    def _reader(self, kind: str, record: VideoRecord) -> FrameReader:
        if kind not in self._readers:
            factory = self.reader_factory or reader_for
            self._readers[kind] = factory(record, self.read_size)
        return self._readers[kind]

    def __getitem__(self, index: int) -> dict:
        """Clip ``index``; when its video cannot be read, the first clip of the next readable video.

        An unreadable video is dropped at its first read (one :class:`DataWarning` naming it and its path)
        and never read again by this process (each DataLoader worker learns it once). The replacement is
        deterministic (the next video in index order, wrapping around), and its item says ``replaced=True``
        (every other item ``False``): training learns from it, evaluation drops it
        (:func:`riskvision.batch.without_replaced`), so no clip is counted twice.

        Raises:
            FrameReadError: no video of the dataset can be read.
        """
        v = self.clips[index][0]
        for candidate in itertools.chain(range(v, len(self.videos)), range(v)):  # lazy: O(1) while v is readable
            if candidate in self.dropped or not self.clips.counts[candidate]:
                continue
            clip = index if candidate == v else int(self.clips.offsets[candidate])
            try:
                return {**self._item(clip), REPLACED: torch.tensor(candidate != v)}
            except FrameReadError as error:
                self.dropped.add(candidate)
                record = self.videos[candidate].record
                warnings.warn(
                    f"dropping clip {record.video_id} ({record.path}) for the rest of this run: {error} "
                    "Its clips are replaced by the next readable clip; `python scripts/check_data.py` "
                    "lists every such clip.",
                    DataWarning,
                    stacklevel=2,
                )
        raise FrameReadError(
            f"no clip of this dataset can be read: all {len(self.dropped)} videos with clips "
            "failed (see the warnings above). Fix: check the data root; `python "
            "scripts/check_data.py` lists the unreadable files."
        )

    def _item(self, index: int) -> dict:
        """The batch item of clip ``index`` (:class:`FrameReadError` when its video cannot be read)."""
        video, frames = self.frames_of(index, random=self.random_frames)
        record = video.record
        if self.random_frames or self.augment is not None:
            result = self._reader(record.kind, record).read(record, video.native_indices(frames))
        else:
            result = self._read_from_video(self.clips[index][0], video, frames)
        clip = result.frames
        if self.augment is not None:
            clip = self.augment(clip)
        if tuple(clip.shape[-2:]) != self.frame_size:
            raise ValueError(
                f"clip of {record.video_id} is {tuple(clip.shape[-2:])} after augmentation, expected "
                f"frame_size {self.frame_size}; make the augment's crop size match data.frames.size"
            )
        return {
            "video": self.normalize(clip),
            **clip_fields(video, frames, self.labels),
            "substituted": torch.tensor(len(result.substituted), dtype=torch.int64),
        }

    def _read_from_video(self, v: int, video: TargetVideo, frames: list[int]) -> ReadResult:
        """Evaluation clips: the frames every clip of video ``v`` uses are read ONCE (one decode per frame, one pass
        over a video file) and kept while the clips of ``v`` follow each other; a clip is a gather from them. A video
        with a frame the reader had to substitute is read clip by clip, as before: substitution looks for the
        nearest readable frame within the clip, so the pixels stay those of a clip read."""
        if self._video_frames is None or self._video_frames.video != v:
            record = video.record
            used = sorted({t for end in self.clips.anchors(v) for t in self.sampler.frames(video.num_frames, end)})
            result = self._reader(record.kind, record).read(record, video.native_indices(used))
            self._video_frames = VideoFrames(
                v, {t: k for k, t in enumerate(used)}, None if result.substituted else result.frames
            )
        cached = self._video_frames
        if cached.frames is None:
            return self._reader(video.record.kind, video.record).read(video.record, video.native_indices(frames))
        return ReadResult(cached.frames[[cached.position[t] for t in frames]])


@dataclass
class VideoFrames:
    """The decoded frames of one video that :class:`ClipDataset` keeps while reading its evaluation clips.

    Attributes:
        video: index of the video in the dataset's ``videos``.
        position: target frame -> its row in ``frames``.
        frames: uint8 ``[F, 3, H, W]``; ``None`` when the reader substituted a frame (read clip by clip then).
    """

    video: int
    position: dict[int, int]
    frames: torch.Tensor | None


class CachedClipDataset(ClipDataset):
    """The clips of :class:`ClipDataset` with per-frame features instead of pixels, read from a feature cache
    (``riskvision.data.feature_cache``): item ``features`` float32 ``[T, D]`` in place of ``video``, the other keys
    the same. A training item of an entry with augmented views takes one of them at random (torch's global RNG:
    one view per clip per epoch). ``substituted`` is the count of the video's cached frames that were replaced.

    Args (besides those of :class:`ClipDataset` it uses: ``videos``, ``clips``, ``sampler``, ``labels``,
    ``random_frames``):
        cache: the :class:`~riskvision.data.feature_cache.FeatureCache` holding the entries.
        entries: the :class:`~riskvision.data.feature_cache.FeatureEntry` of each video (same order as ``videos``),
            filled (``FeatureCache.fill``) before the dataset is read.
    """

    def __init__(
        self,
        videos: Sequence[TargetVideo],
        clips: ClipIndex,
        sampler: ClipSampler,
        labels: LabelPolicy,
        cache,
        entries: Sequence,
        random_frames: bool = False,
    ) -> None:
        super().__init__(
            videos,
            clips,
            sampler,
            labels,
            normalize=None,
            read_size=None,
            frame_size=(0, 0),
            random_frames=random_frames,
        )
        self.cache = cache
        self.names = [entry.name for entry in entries]
        self.positions = [{t: k for k, t in enumerate(entry.frames)} for entry in entries]
        self.rows = [entry.rows for entry in entries]
        self._records: dict[int, dict] = {}

    def _item(self, index: int) -> dict:
        v = self.clips[index][0]
        video, frames = self.frames_of(index, random=self.random_frames)
        if v not in self._records:
            self._records[v] = self.cache.record(self.names[v])
        record = self._records[v]
        if record.get("unreadable"):
            raise FrameReadError(record["unreadable"])
        try:
            positions = [self.positions[v][t] for t in frames]
        except KeyError as error:
            raise RuntimeError(
                f"feature cache entry {self.names[v]} of {video.record.video_id} lacks target frame "
                f"{error.args[0]}; its entries were built for another sampler"
            ) from None
        view = int(torch.randint(self.rows[v], ())) if self.random_frames and self.rows[v] > 1 else 0
        features = np.asarray(self.cache.array(self.names[v])[view, positions], dtype=np.float32)
        return {
            "features": torch.from_numpy(features),
            **clip_fields(video, frames, self.labels),
            "substituted": torch.tensor(int(record.get("substituted", 0)), dtype=torch.int64),
        }


def clip_fields(video: TargetVideo, frames: Sequence[int], labels: LabelPolicy) -> dict:
    """The batch fields of the clip of ``video`` made of target frames ``frames`` besides its pixels: the labels
    and the metadata evaluation keeps (``riskvision.batch``)."""
    record = video.record
    return {
        "crash": torch.tensor(labels.crash(video, frames), dtype=torch.int64),
        "risk": torch.tensor(labels.risk(video, frames), dtype=torch.int64),
        "video_id": record.video_id,
        "source": record.source,
        "end_frame": torch.tensor(frames[-1], dtype=torch.int64),
        "category": record.category,
        "ego": torch.tensor(record.ego),
        "night": torch.tensor(record.night),
        "fps": torch.tensor(video.fps, dtype=torch.float32),
        "num_frames": torch.tensor(video.num_frames, dtype=torch.int64),
        "anomaly_start": torch.tensor(_or_minus_one(video.anomaly_start), dtype=torch.int64),
        "anomaly_end": torch.tensor(_or_minus_one(video.anomaly_end), dtype=torch.int64),
    }


def _or_minus_one(value: int | None) -> int:
    return -1 if value is None else int(value)


class VideoWindowsDataset(Dataset):
    """One item per video: its frames read ONCE and all its evaluation windows as indices into them, for nets
    that score windows from per-frame work (``models.FrameFeatureNet``: the backbone once per frame).

    Item (a collated batch of the video's ``W`` windows, ``riskvision.batch``, without ``video``):
    ``frames`` uint8 ``[F, 3, H, W]`` (the frames some window uses, in order, at ``frame_size``, NOT normalised),
    ``windows`` int64 ``[W, T]`` (positions into ``frames``: window ``w``'s clip is ``frames[windows[w]]``),
    ``substituted`` (a scalar: the video's frames the reader replaced), ``replaced`` ``[W]`` (all False), and the
    labels and metadata of each window (:func:`clip_fields`, the same as :class:`ClipDataset`'s items of the same
    windows). A video that cannot be read gives an item with ``W = 0`` (one warning naming it).

    Args:
        videos: the split's videos at the target frame rate.
        sampler: the windows (``eval_anchors`` and ``frames``), e.g. ``WindowSampler(num_frames, eval_step=step)``.
        labels: the label policy.
        frame_size: ``(H, W)`` frames are read at.
        reader_factory: ``(record, size) -> FrameReader``; default ``readers.reader_for``.
        crop: ``None``: frames read at ``frame_size``; else frames read at their native size and passed through it
            (uint8 ``[F, 3, h, w]`` -> ``[F, 3, H, W]``, e.g. one of multi-view testing's crops,
            ``evaluation.views.ShortSideCrop``).
    """

    def __init__(
        self,
        videos: Sequence[TargetVideo],
        sampler: ClipSampler,
        labels: LabelPolicy,
        frame_size: tuple[int, int],
        reader_factory: Callable | None = None,
        crop: VideoTransform | None = None,
    ) -> None:
        self.videos = [video for video in videos if len(sampler.eval_anchors(video.num_frames))]
        self.sampler, self.labels, self.frame_size = sampler, labels, tuple(frame_size)
        self.reader_factory = reader_factory or reader_for
        self.crop = crop
        self._readers: dict[str, FrameReader] = {}

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict:
        video = self.videos[index]
        record = video.record
        n = video.num_frames
        clips = [self.sampler.frames(n, end) for end in self.sampler.eval_anchors(n)]
        used = sorted({t for clip in clips for t in clip})
        position = {t: k for k, t in enumerate(used)}
        if record.kind not in self._readers:
            self._readers[record.kind] = self.reader_factory(record, self.frame_size if self.crop is None else None)
        try:
            result = self._readers[record.kind].read(record, video.native_indices(used))
        except FrameReadError as error:
            warnings.warn(
                f"dropping video {record.video_id} ({record.path}) from scoring: {error}", DataWarning, stacklevel=2
            )
            return {
                "frames": torch.empty(0, 3, *self.frame_size, dtype=torch.uint8),
                "windows": torch.empty(0, self.sampler.num_frames, dtype=torch.int64),
            }
        items = [{**clip_fields(video, clip, self.labels), REPLACED: torch.tensor(False)} for clip in clips]
        frames = result.frames if self.crop is None else self.crop(result.frames)
        return {
            "frames": frames,
            "windows": torch.tensor([[position[t] for t in clip] for clip in clips]),
            "substituted": torch.tensor(len(result.substituted), dtype=torch.int64),
            **default_collate(items),
        }


class PerVideoSampler(Sampler[int]):
    """Each epoch, ``clips_per_video`` clips drawn uniformly (with replacement) among each video's
    clips, in shuffled order. Randomness comes from torch's global RNG at ``__iter__``, so
    ``seed_everything`` makes epochs reproducible."""

    def __init__(self, clips: ClipIndex, clips_per_video: int = 1) -> None:
        self.offsets = torch.as_tensor(clips.offsets[:-1])
        self.counts = torch.as_tensor(clips.counts)
        self.clips_per_video = clips_per_video

    def __len__(self) -> int:
        return len(self.offsets) * self.clips_per_video

    def __iter__(self) -> Iterator[int]:
        offsets = self.offsets.repeat(self.clips_per_video)
        counts = self.counts.repeat(self.clips_per_video)
        picks = offsets + torch.minimum((torch.rand(len(offsets)) * counts).long(), counts - 1)
        yield from picks[torch.randperm(len(picks))].tolist()


class ClassBalancedSampler(Sampler[int]):
    """``num_samples`` clips per epoch: a class drawn uniformly among the classes present, then a
    clip of that class uniformly (with replacement). Unlike ``WeightedRandomSampler`` it has no
    2^24-clip limit. Randomness from torch's global RNG.

    Args:
        labels: ``[M]`` class of every clip.
    """

    def __init__(self, labels: np.ndarray, num_samples: int) -> None:
        self.members = [torch.as_tensor(np.flatnonzero(labels == c)) for c in np.unique(labels)]
        self.num_samples = num_samples

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        classes = torch.randint(len(self.members), (self.num_samples,))
        picks = torch.empty(self.num_samples, dtype=torch.int64)
        for c, members in enumerate(self.members):
            chosen = classes == c
            picks[chosen] = members[torch.randint(len(members), (int(chosen.sum()),))]
        yield from picks.tolist()
