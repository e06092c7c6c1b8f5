"""riskvision at the real datasets' size (issue 28; ``scripts/benchmark_scale.py``): a full-size tree built from a
DoTA metadata file (tiny frames, hard links) plus BDD100K frame folders, and every scale target measured in one run.

    root = build_tree(TreeSize([Path(".../metadata_train.json"), ...], bdd_folders=2000, bdd_frames=400), tmp)
    run(ScaleSettings(...))   # prints one line per figure, the machine's load before and after

Figures (each a ratio or a bound from the same run; the machine's load varies, so read ratios, not seconds):
* worker memory: private memory (``/proc/<pid>/smaps_rollup`` ``Private_*``) a forked DataLoader-like worker gains
  over one epoch of clip reads (one clip per video, frame paths resolved, no decoding), with the frame names in the
  compact form and, for comparison, as today's tuple of ``str``.
* ``__getitem__``: mean time of an item at 6.7k and 80k videos (the reader returns at once), and the eager
  stand-in list it no longer builds.
* validation vs one training epoch of resnet3d101 on the tree at the model's defaults (val windows capped by
  ``model.inputs.val_windows_per_video``, frames decoded once per video): windows and decodes counted on the
  index, seconds = counts x the forward / training-step / decode times measured here (a full run is out of reach
  on 2 shared cores).
* feature cache views=8: read + augment per video, one read per view (today) against one read for all views,
  and with the encoder's time added.
* metrics on ``metrics_rows`` rows at ``n_boot`` 1000: seconds and peak memory (``VmHWM``) of ``compute_metrics``
  in a fresh process, the re-sort path's time extrapolated from a few resamples, and the table's file size as
  CSV and Parquet.
* bad input: a metadata file naming ``missing_clips`` clips that do not exist: warning lines printed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from riskvision.data.dataset import ClipDataset, ClipIndex, PerVideoSampler
from riskvision.data.labels import LabelPolicy
from riskvision.data.readers import FrameReader, ReadResult, reader_for
from riskvision.data.records import DataWarning, VideoRecord
from riskvision.data.sampling import WindowSampler
from riskvision.data.timebase import TargetVideo, to_target

__all__ = ["ScaleSettings", "TreeSize", "build_tree", "run"]


@dataclass
class TreeSize:
    """What :func:`build_tree` makes: the DoTA clips of ``metadata`` (official ``metadata_{train,val}.json``) with
    their ``num_frames`` each, and ``bdd_folders`` BDD100K frame folders of ``bdd_frames`` frames (80% train)."""

    metadata: Sequence[Path]
    bdd_folders: int = 2000
    bdd_frames: int = 400


@dataclass
class ScaleSettings:
    """One benchmark run.

    Attributes:
        tree: the tree to build (or reuse) under ``work_dir``.
        work_dir: where the tree and the tables go (a temporary folder when ``None``; kept when given).
        item_videos: video counts of the ``__getitem__`` timing.
        metrics_rows: rows of the metrics table.
        n_boot: bootstrap resamples of the metrics.
        missing_clips: clips of the bad-input metadata file.
        cache_videos: videos of the feature-cache timing (64 frames of 1280x720 JPEG each).
        threads: torch intra-op threads.
        net_size: frame size of the resnet3d101 and decode timings (224: the model's; smaller on a loaded machine).
        quick: tiny sizes, a smoke run.
    """

    tree: TreeSize
    work_dir: Path | None = None
    item_videos: tuple[int, ...] = (6_700, 80_000)
    metrics_rows: int = 1_000_000
    n_boot: int = 1000
    missing_clips: int = 10_000
    cache_videos: int = 3
    threads: int = 2
    net_size: int = 224
    quick: bool = False
    figures: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- the tree


def _tiny_jpeg(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
    return path


class _LinkSource:
    """Hands out a file to hard-link a frame to: a copy of ``path``, a fresh copy every :attr:`LINKS` links
    (file systems cap the links of one inode: ext4 at 65,000)."""

    LINKS = 60_000

    def __init__(self, path: Path) -> None:
        self.path, self.count, self.current = path, 0, path

    def __call__(self) -> Path:
        if self.count and self.count % self.LINKS == 0:
            self.current = self.path.with_name(f"{self.path.stem}_{self.count // self.LINKS}{self.path.suffix}")
            shutil.copy(self.path, self.current)
        self.count += 1
        return self.current


def _link_frames(source: Path | _LinkSource, folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        os.link(source() if isinstance(source, _LinkSource) else source, folder / f"{i:06d}.jpg")


def build_tree(size: TreeSize, root: Path) -> tuple[Path, Path]:
    """``(dota_root, bdd_root)`` under ``root``: the official DoTA layout with every clip of ``size.metadata``
    (frames hard links to one 16x16 JPEG) and BDD100K frame folders; reused when ``root/tree.json`` says the same
    size was built there."""
    marker = root / "tree.json"
    wanted = {
        "metadata": [str(p) for p in size.metadata],
        "bdd_folders": size.bdd_folders,
        "bdd_frames": size.bdd_frames,
    }
    dota, bdd = root / "dota", root / "bdd"
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return dota, bdd
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    frame = _LinkSource(_tiny_jpeg(root / "frame.jpg"))
    dota.mkdir()
    for path in size.metadata:
        shutil.copy(path, dota / Path(path).name)
        for clip, entry in json.loads(Path(path).read_text()).items():
            _link_frames(frame, dota / "frames" / clip / "images", int(entry["num_frames"]))
    for k in range(size.bdd_folders):
        subset = "train" if k < 0.8 * size.bdd_folders else "val"
        _link_frames(frame, bdd / "frames" / "100k" / subset / f"bdd{k:06d}-0000", size.bdd_frames)
    (bdd / "frames" / "100k").mkdir(parents=True, exist_ok=True)
    (bdd / "frames" / "100k" / "prepared.json").write_text(json.dumps({"fps": 10}))
    marker.write_text(json.dumps(wanted))
    return dota, bdd


def _datamodule(dota: Path, bdd: Path, val_windows_per_video: int | None = 16):
    from riskvision.data.datamodule import RiskDataModule
    from riskvision.data.sources.bdd import BddSource
    from riskvision.data.sources.dota import DotaSource

    sampler = WindowSampler(10, val_windows_per_video=val_windows_per_video)
    return RiskDataModule(
        {"dota": DotaSource(dota), "bdd": BddSource(bdd, layout="frames")}, {"window": sampler}, "window", target="risk"
    )


# ----------------------------------------------------------------------------- worker memory


class PathReader(FrameReader):
    """A reader that resolves each frame's path (as the JPEG reader does) and decodes nothing: uint8 zeros."""

    def __init__(self, record=None, size=None) -> None:
        pass

    def read(self, record: VideoRecord, native_indices: Sequence[int]) -> ReadResult:
        paths = [record.path / record.frame_files[i] for i in native_indices]
        return ReadResult(torch.zeros(len(paths), 3, 2, 2, dtype=torch.uint8))


def private_mb(pid: int | str = "self") -> float:
    """Private memory (``Private_Clean + Private_Dirty`` of ``/proc/<pid>/smaps_rollup``) in MB."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total / 1024


def _epoch_in_forked_worker(dataset: ClipDataset, order: list[int]) -> tuple[float, float]:
    """``(private MB at start, private MB after reading every clip of order)`` of a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        for index in order[:50]:  # warm-up: the reader, the label code, torch's first allocations
            dataset[index]
        start = private_mb()
        for index in order[50:]:
            dataset[index]
        os.write(write, json.dumps([start, private_mb()]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        start, end = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return start, end


def worker_memory(videos: Sequence[TargetVideo]) -> dict[str, float]:
    """A forked worker's private-memory growth over one epoch of clip reads, compact names vs tuples of ``str``."""
    out = {"names": float(sum(len(v.record.frame_files) for v in videos))}
    sampler = WindowSampler(10)
    for form in ("compact", "tuple"):
        if form == "tuple":  # today's records: a tuple of str per record (bypassing FrameNames)
            videos = [copy.copy(v) for v in videos]
            for v in videos:
                record = copy.copy(v.record)
                object.__setattr__(record, "frame_files", tuple(record.frame_files))
                object.__setattr__(v, "record", record)
        clips = ClipIndex(videos, sampler.train_anchors)
        dataset = ClipDataset(
            videos,
            clips,
            sampler,
            LabelPolicy(),
            normalize=lambda x: x,
            read_size=None,
            frame_size=(2, 2),
            reader_factory=PathReader,
            random_frames=True,
        )
        torch.manual_seed(0)
        order = list(PerVideoSampler(clips))
        start, end = _epoch_in_forked_worker(dataset, order)
        out[f"{form}_growth_mb"] = end - start
    return out


# ----------------------------------------------------------------------------- __getitem__


def item_time_us(num_videos: int, items: int = 2000) -> dict[str, float]:
    """Mean microseconds of ``ClipDataset.__getitem__`` at ``num_videos`` videos (a reader that returns at once),
    and of the eager stand-in list ``[v, *range(v + 1, N), *range(v)]`` it replaced."""
    record = VideoRecord(
        "v", "bdd", Path("/nonexistent"), "frames", 10.0, 100, frame_files=[f"{i:06d}.jpg" for i in range(100)]
    )
    videos = [to_target(record, 10.0)] * num_videos
    sampler = WindowSampler(10)
    dataset = ClipDataset(
        videos,
        ClipIndex(videos, sampler.eval_anchors),
        sampler,
        LabelPolicy(),
        normalize=lambda x: x,
        read_size=None,
        frame_size=(2, 2),
        reader_factory=PathReader,
        random_frames=True,
    )
    indices = np.random.default_rng(0).integers(0, len(dataset), items).tolist()
    begin = time.perf_counter()
    for index in indices:
        dataset[index]
    item = (time.perf_counter() - begin) / items * 1e6
    begin = time.perf_counter()
    for index in indices[: items // 10]:
        v = dataset.clips[index][0]
        [v, *range(v + 1, num_videos), *range(v)]
    eager = (time.perf_counter() - begin) / (items // 10) * 1e6
    return {"item_us": item, "eager_list_us": eager}


# ----------------------------------------------------------------------------- validation vs training


def window_counts(datamodule) -> dict[str, float]:
    """Windows and frame decodes of one resnet3d101 training epoch and one validation, at the defaults and as
    before (a window at every frame, 10 decodes each)."""
    sampler = datamodule.sampler
    train, val = datamodule.videos["train"], datamodule.videos["val"]
    capped = [sampler.val_anchors(v.num_frames) for v in val]
    decodes = sum(
        len({t for end in anchors for t in sampler.frames(v.num_frames, end)}) for v, anchors in zip(val, capped)
    )
    every = sum(len(sampler.eval_anchors(v.num_frames)) for v in val)
    return {
        "train_clips": len(train) * sampler.clips_per_video,
        "val_windows": sum(map(len, capped)),
        "val_decodes": decodes,
        "val_windows_every_frame": every,
        "val_videos": len(val),
    }


def net_times(size: int, batch: int = 2) -> dict[str, float]:
    """Seconds per window of a resnet3d101 forward (eval, no grad) and per clip of a training step (SGD)."""
    from riskvision.models import ResNet3D

    net = ResNet3D(depth=101, num_classes=3)
    clips = torch.randn(batch, 10, 3, size, size)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    net.train()
    for repeat in range(2):  # the first step warms up
        begin = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(clips), torch.zeros(batch, dtype=torch.long))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        step = (time.perf_counter() - begin) / batch
    net.eval()
    with torch.no_grad():
        net(clips)
        begin = time.perf_counter()
        net(clips)
        forward = (time.perf_counter() - begin) / batch
    return {"train_step_s_per_clip": step, "forward_s_per_window": forward}


def _photo_jpeg(path: Path) -> Path:
    """A 1280x720 JPEG with a DoTA frame's decode cost (1/f texture, quality 90)."""
    rng = np.random.default_rng(1)
    low = rng.integers(0, 255, (45, 80, 3), dtype=np.uint8)
    picture = np.asarray(Image.fromarray(low).resize((1280, 720), Image.BICUBIC)).astype(np.int16)
    picture = np.clip(picture + rng.normal(0, 8, picture.shape), 0, 255).astype(np.uint8)
    Image.fromarray(picture).save(path, quality=90)
    return path


def _photo_video(folder: Path, frames: int) -> TargetVideo:
    source = _photo_jpeg(folder.parent / f"{folder.name}.jpg")
    _link_frames(source, folder, frames)
    return to_target(
        VideoRecord(
            folder.name, "dota", folder, "frames", 10.0, frames, frame_files=[f"{i:06d}.jpg" for i in range(frames)]
        ),
        10.0,
    )


def decode_s_per_frame(work: Path, size: int) -> float:
    """Seconds to read one 1280x720 JPEG at ``size`` x ``size`` (the reader training and validation use)."""
    video = _photo_video(work / "decode", 20)
    reader = reader_for(video.record, (size, size))
    reader.read(video.record, list(range(20)))
    begin = time.perf_counter()
    reader.read(video.record, list(range(20)))
    return (time.perf_counter() - begin) / 20


# ----------------------------------------------------------------------------- feature cache


def _seed_augment(size: int) -> Callable:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    config = Path(__file__).resolve().parents[1] / "conf" / "data" / "augment" / "seed.yaml"
    cfg = OmegaConf.create({"model": {"inputs": {"frame_size": size}}, "augment": OmegaConf.load(config)})
    return instantiate(cfg.augment)


def feature_cache_views(work: Path, videos: int, views: int, size: int) -> dict[str, float]:
    """Seconds per video (wall and CPU) of feature-cache extraction with ``views`` views of the seed augmentation,
    before issue 28 and now, on the same videos and draws:

    - before: the video read again for every view, the augmentation in one call on the whole clip;
    - now: ``_ViewFrames`` (one read, ``ClipAugment`` in chunks of frames) and ``FeatureCache._encode`` (the same
      encoder as before: the stored features are the fp32 features rounded to float16, bit for bit).

    The data side (read + augment, with one intra-op thread as in a DataLoader worker) and the encoder (normalise + a
    frozen ResNet-18, 64 frames a call, the process's threads) are timed apart; ``max_feature_diff`` is the largest
    difference of the two paths' float16 features."""
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    from riskvision.data.feature_cache import FeatureCache, FeatureEntry, _ViewFrames
    from riskvision.data.transforms import Normalize
    from riskvision.models import ResNetBiLSTM

    augment, normalize = _seed_augment(size), Normalize("imagenet")
    one_call = v2.Compose(augment.transforms)
    net = ResNetBiLSTM(hidden_size=8).eval()

    def encode(frames: torch.Tensor) -> torch.Tensor:
        return net.forward_features(frames[None])[0]

    entries = [
        FeatureEntry(_photo_video(work / f"cache{k}", 64), tuple(range(64)), (size, size), views, augment, "seed", 0)
        for k in range(videos)
    ]
    dataset = _ViewFrames(entries, [e.name for e in entries], None)
    dataset[0]  # readers built, first calls warmed up
    clocks = dict.fromkeys(("before_data", "before_encode", "now_data", "now_encode"), (0.0, 0.0))
    max_diff = 0.0

    def timed(key: str, function: Callable, *args):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*args)
        clocks[key] = (clocks[key][0] + time.perf_counter() - wall, clocks[key][1] + time.process_time() - cpu)
        return result

    def before(e: int, view: int) -> torch.Tensor:
        frames = dataset._readers[("frames", (size, size))].read(entries[e].video.record, list(range(64))).frames
        with torch.random.fork_rng(devices=[]):  # the view's seed, as _ViewFrames draws it
            torch.manual_seed(int(hashlib.sha256(f"{dataset.names[e]}:{view}:0".encode()).hexdigest()[:15], 16))
            return one_call(tv_tensors.Video(frames)).as_subclass(torch.Tensor)

    threads = torch.get_num_threads()
    with torch.no_grad():
        encode(normalize(dataset[0]["views"][0]))  # the encoder warmed up
        for e in range(videos):
            torch.set_num_threads(1)  # the data side runs in DataLoader workers: one intra-op thread each
            old = [timed("before_data", before, e, view) for view in range(views)]
            new = timed("now_data", dataset.__getitem__, e)["views"]
            torch.set_num_threads(threads)
            old = [timed("before_encode", lambda f: encode(normalize(f)).numpy().astype("float16"), f) for f in old]
            new = [timed("now_encode", FeatureCache._encode, f, encode, normalize, 64) for f in new]
            max_diff = max(max_diff, *(float(np.abs(a.astype(float) - b).max()) for a, b in zip(old, new)))
    figures = {f"{key}_s": wall / videos for key, (wall, cpu) in clocks.items()}
    figures.update({f"{key}_cpu_s": cpu / videos for key, (wall, cpu) in clocks.items()})
    return {**figures, "max_feature_diff": max_diff}


def feature_cache_line(cache: Mapping[str, float], size: int) -> str:
    """The printed line of :func:`feature_cache_views`' figures."""

    def ratio(before: float, now: float) -> str:
        return f"{before:.2f} -> {now:.2f} s: {before / now:.1f}x"

    before, now = cache["before_data_s"], cache["now_data_s"]
    total = before + cache["before_encode_s"], now + cache["now_encode_s"]
    cpu = cache["before_data_cpu_s"], cache["now_data_cpu_s"]
    total_cpu = cpu[0] + cache["before_encode_cpu_s"], cpu[1] + cache["now_encode_cpu_s"]
    return (
        f"feature cache, views=8, 64 frames of 1280x720 read at {size}x{size} per video (target >= 5x): "
        f"read + augment {ratio(before, now)} (CPU {ratio(*cpu)}); with the ResNet-18 encoder "
        f"{ratio(*total)} (CPU {ratio(*total_cpu)}); "
        f"encoder alone {ratio(cache['before_encode_s'], cache['now_encode_s'])}; "
        f"features differ by at most {cache['max_feature_diff']:.2g}"
    )


# ----------------------------------------------------------------------------- metrics


def metrics_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A 3-class predictions table of ``rows`` windows: 100 per video, half the videos DoTA crashes with an anomaly
    at frames [60, 80), the others BDD; P(Warning) + P(Danger) rise towards the anomaly."""
    from riskvision.evaluation.table import make_table
    from riskvision.tasks import RiskLevels

    rng = np.random.default_rng(seed)
    per_video = 100
    n_videos = max(2, rows // per_video)
    video = np.repeat(np.arange(n_videos), per_video)[:rows]
    frame = np.tile(np.arange(per_video), n_videos)[:rows]
    crash = video % 2 == 0
    start, end = np.where(crash, 60, -1), np.where(crash, 80, -1)
    danger = crash & (frame >= 60) & (frame < 80)
    warning = crash & (frame >= 40) & (frame < 60)
    risk = np.where(danger, 2, np.where(warning, 1, 0))
    meta = {
        "video_id": np.char.add("v", video.astype(str)),
        "source": np.where(crash, "dota", "bdd"),
        "category": np.where(crash, "lateral", "normal"),
        "ego": crash & (video % 4 == 0),
        "night": video % 3 == 0,
        "end_frame": frame,
        "fps": np.full(rows, 10.0),
        "num_frames": np.full(rows, 100),
        "anomaly_start": start,
        "anomaly_end": end,
        "crash": crash.astype(int),
        "risk": risk,
    }
    logits = np.stack([np.zeros(rows), 1.0 * warning, 1.5 * danger], axis=1) + rng.normal(0, 1, (rows, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return make_table(meta, probs, RiskLevels(["Normal", "Warning", "Danger"]))


def _metrics_child(rows: int, n_boot: int, out: Path) -> None:
    from riskvision.evaluation.summary import RunInfo, compute_metrics
    from riskvision.evaluation.table import write_predictions
    from riskvision.tasks import RiskLevels

    table = metrics_table(rows)
    write_predictions(table, out / "predictions.parquet")
    write_predictions(table, out / "predictions.csv")
    before = _vm_hwm_mb()
    begin, cpu = time.perf_counter(), time.process_time()
    compute_metrics(table, RunInfo("bench", RiskLevels(["Normal", "Warning", "Danger"])), n_boot=n_boot)
    seconds, cpu = time.perf_counter() - begin, time.process_time() - cpu
    (out / "metrics.json").write_text(
        json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mb": _vm_hwm_mb(), "peak_before_mb": before})
    )


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metrics_at_scale(work: Path, rows: int, n_boot: int) -> dict[str, float]:
    """Seconds and peak memory of ``compute_metrics`` on ``rows`` rows in a fresh process, the re-sort path's
    seconds for the same CIs (extrapolated from 5 resamples), and the table's CSV and Parquet sizes."""
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_metrics_child, args=(rows, n_boot, work))
    child.start()
    child.join()
    result = json.loads((work / "metrics.json").read_text())
    from riskvision.evaluation.bootstrap import bootstrap_ci
    from riskvision.evaluation.summary import ci_statistics
    from riskvision.evaluation.table import read_predictions
    from riskvision.metrics.ranking import Ranking, auroc

    table = read_predictions(work / "predictions.parquet")
    stats = ci_statistics(table)
    begin = time.perf_counter()
    for ids, statistic in stats.values():
        bootstrap_ci(ids, statistic, n_boot=5)
    sort_once = (time.perf_counter() - begin) / 5 * n_boot
    real = table[table["probe"] == "none"]
    scores, labels = real["p_crash"].to_numpy(float), real["crash"].to_numpy()
    begin = time.perf_counter()
    bootstrap_ci(real["video_id"].to_numpy(), lambda w: auroc(scores, labels, w), n_boot=5)
    resort_window = (time.perf_counter() - begin) / 5 * n_boot
    ranked = Ranking(scores, labels)
    begin = time.perf_counter()
    bootstrap_ci(real["video_id"].to_numpy(), ranked.auroc, n_boot=5)
    once_window = (time.perf_counter() - begin) / 5 * n_boot
    return {
        "seconds": result["seconds"],
        "cpu_s": result.get("cpu_s", float("nan")),
        "peak_mb": result["peak_mb"],
        "ci_sort_once_s": sort_once,
        "window_auroc_ci_resort_s": resort_window,
        "window_auroc_ci_sort_once_s": once_window,
        "csv_mb": (work / "predictions.csv").stat().st_size / 2**20,
        "parquet_mb": (work / "predictions.parquet").stat().st_size / 2**20,
    }


# ----------------------------------------------------------------------------- bad input


def bad_input_lines(work: Path, missing: int) -> dict[str, float]:
    """Warning lines of building a DoTA tree whose metadata names ``missing`` clips that do not exist (plus the
    clips of the real tree)."""
    root = work / "bad"
    shutil.rmtree(root, ignore_errors=True)
    (root / "frames").mkdir(parents=True)
    entry = {"num_frames": 50, "anomaly_start": 10, "anomaly_end": 20, "anomaly_class": "ego: lateral"}
    metadata = {f"missing{k:06d}_000001": entry for k in range(missing)}
    (root / "metadata_train.json").write_text(json.dumps(metadata))
    _link_frames(_tiny_jpeg(root / "frame.jpg"), root / "frames" / "real_000001" / "images", 50)
    (root / "metadata_val.json").write_text(json.dumps({"real_000001": entry}))
    from riskvision.data.datamodule import RiskDataModule
    from riskvision.data.sources.dota import DotaSource

    dm = RiskDataModule({"dota": DotaSource(root)}, {"window": WindowSampler(10)}, "window")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.build_records()
    lines = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    return {
        "issues": len(dm.issues),
        "warning_lines": len(lines),
        "longest_line": max(map(len, lines), default=0),
        "example": max(lines, key=len, default=""),
    }


# ----------------------------------------------------------------------------- the run


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run(settings: ScaleSettings) -> dict[str, float]:
    """Build (or reuse) the tree and print every figure (see the module doc); returns them."""
    torch.set_num_threads(settings.threads)
    print(f"load before: {_load()}")
    work = settings.work_dir or Path(tempfile.mkdtemp(prefix="riskvision_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    figures = settings.figures
    begin = time.perf_counter()
    dota, bdd = build_tree(settings.tree, work / "tree")
    print(f"tree: {dota.parent} ({time.perf_counter() - begin:.0f} s to build or reuse)")
    begin = time.perf_counter()
    dm = _datamodule(dota, bdd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        dm.setup("fit")
    videos = [v for split in dm.videos.values() for v in split]
    print(
        f"index: {len(videos):,} videos, {sum(len(v.record.frame_files) for v in videos):,} frame names, "
        f"{time.perf_counter() - begin:.1f} s"
    )

    memory = worker_memory(videos)
    figures.update({f"memory_{k}": v for k, v in memory.items()})
    print(
        f"worker memory after one epoch of clip reads ({memory['names']:,.0f} frame names): private +"
        f"{memory['compact_growth_mb']:.1f} MB with compact names (target < 10 MB), +{memory['tuple_growth_mb']:.1f}"
        " MB with tuples of str (before)"
    )

    items = {n: item_time_us(n) for n in settings.item_videos}
    low, high = min(items), max(items)
    figures.update({f"item_us_{n}": t["item_us"] for n, t in items.items()})
    print(
        "__getitem__: "
        + ", ".join(
            f"{t['item_us']:.0f} us at {n:,} videos (eager stand-in list {t['eager_list_us']:.0f} us)"
            for n, t in items.items()
        )
        + f"; ratio {items[high]['item_us'] / items[low]['item_us']:.2f} (target <= 1.2)"
    )

    counts = window_counts(dm)
    size = settings.net_size
    times = {**net_times(size), "decode_s": decode_s_per_frame(work, size)}
    train_s = counts["train_clips"] * (times["train_step_s_per_clip"] + 10 * times["decode_s"])
    val_s = counts["val_windows"] * times["forward_s_per_window"] + counts["val_decodes"] * times["decode_s"]
    before_s = counts["val_windows_every_frame"] * (times["forward_s_per_window"] + 10 * times["decode_s"])
    figures.update({**counts, **times, "val_over_train": val_s / train_s, "val_over_train_before": before_s / train_s})
    print(
        f"resnet3d101 at {size}x{size}: training step {times['train_step_s_per_clip']:.2f} s/clip, forward "
        f"{times['forward_s_per_window']:.2f} s/window, decode {1e3 * times['decode_s']:.1f} ms/frame"
    )
    print(
        f"validation vs one training epoch (estimated from counts x measured times): {counts['train_clips']:,} "
        f"training clips; validation {counts['val_windows']:,} windows of {counts['val_videos']:,} videos, "
        f"{counts['val_decodes']:,} decodes (val_windows_per_video 16) -> {val_s / train_s:.2f}x an epoch "
        f"(target <= 2); before: {counts['val_windows_every_frame']:,} windows, "
        f"{10 * counts['val_windows_every_frame']:,} decodes -> {before_s / train_s:.2f}x"
    )
    units = counts["val_windows"] / (3 * counts["train_clips"])
    figures.update(
        {
            "val_over_train_units": units,
            "val_over_train_units_before": units * counts["val_windows_every_frame"] / counts["val_windows"],
        }
    )
    print(
        f"  in net work alone (a training step = 3 forwards, decodes left out): {units:.2f}x an epoch; before "
        f"{figures['val_over_train_units_before']:.2f}x"
    )

    cache = feature_cache_views(work, settings.cache_videos, 8, size)
    figures.update({f"cache_{k}": v for k, v in cache.items()})
    print(feature_cache_line(cache, size))

    metrics = metrics_at_scale(work, settings.metrics_rows, settings.n_boot)
    figures.update({f"metrics_{k}": v for k, v in metrics.items()})
    print(
        f"metrics on {settings.metrics_rows:,} rows, n_boot {settings.n_boot}: {metrics['seconds']:.1f} s "
        f"({metrics['cpu_s']:.1f} s of CPU; target <= 60), peak {metrics['peak_mb']:.0f} MB (target <= 2048); "
        f"the CI statistics alone "
        f"{metrics['ci_sort_once_s']:.1f} s; window AUROC CI re-sorting (before) "
        f"{metrics['window_auroc_ci_resort_s']:.1f} s vs sorted once "
        f"{metrics['window_auroc_ci_sort_once_s']:.1f} s (extrapolated from 5 resamples)"
    )
    print(
        f"predictions table: CSV {metrics['csv_mb']:.1f} MB, Parquet {metrics['parquet_mb']:.1f} MB "
        f"({metrics['parquet_mb'] / metrics['csv_mb']:.0%} of the CSV; target <= 40%)"
    )

    bad = bad_input_lines(work, settings.missing_clips)
    figures.update({f"bad_{k}": v for k, v in bad.items() if k != "example"})
    print(
        f"bad input: a metadata file naming {settings.missing_clips:,} missing clips -> {bad['issues']:,} issues, "
        f"{bad['warning_lines']} warning lines, e.g.: {bad['example'][:300]}"
    )
    print(f"load after: {_load()}")
    return figures
