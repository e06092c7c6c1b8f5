"""The prediction writer: score a split window by window (with the shortcut probes) and measure cost.

Consumes batches (docs/architecture.md) and a module whose forward maps ``video`` to logits; writes
the predictions table of :mod:`.table`. Imports torch, unlike the metric modules.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from riskvision.batch import without_replaced
from riskvision.evaluation.probes import PROBE_TRANSFORMS
from riskvision.evaluation.summary import RunInfo, compute_metrics, jsonable
from riskvision.evaluation.table import META_COLUMNS, PREDICTION_FILES, make_table, write_predictions
from riskvision.files import atomic_write
from riskvision.progress import ProgressLine
from riskvision.runs import new_run_id
from riskvision.tasks import Task

__all__ = ["measure_cost", "predict_table", "predict_table_per_frame", "run_info", "write_evaluation"]

#: Frames per backbone pass of :func:`predict_table_per_frame` (bounds its memory on long videos).
FRAME_CHUNK = 64


def _batch_meta(batch: dict[str, Any]) -> dict[str, list]:
    """The table's metadata columns of one batch as Python lists."""
    out = {}
    for key in META_COLUMNS:
        value = batch[key]
        out[key] = value.cpu().tolist() if isinstance(value, Tensor) else list(value)
    return out


def _collectors(
    probes: Sequence[str], seed: int
) -> tuple[dict[str, torch.Generator], dict[str, list], dict[str, list[np.ndarray]]]:
    """One seeded generator per probe and the empty metadata / per-probe value lists of a table."""
    unknown = set(probes) - set(PROBE_TRANSFORMS)
    if unknown:
        raise ValueError(f"unknown probes {sorted(unknown)}; choose from {sorted(PROBE_TRANSFORMS)}")
    generators = {probe: torch.Generator().manual_seed(seed) for probe in probes}
    return generators, {key: [] for key in META_COLUMNS}, {probe: [] for probe in probes}


def _table(meta: dict[str, list], probs: dict[str, list[np.ndarray]], task: Task) -> pd.DataFrame:
    """The predictions table: one block of rows per probe."""
    return pd.concat(
        [make_table(meta, np.concatenate(values), task, probe) for probe, values in probs.items()], ignore_index=True
    )


@torch.no_grad()
def predict_table(
    model: nn.Module,
    batches: Iterable[dict[str, Any]],
    task: Task,
    probes: Sequence[str] = ("none",),
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: ProgressLine | None = None,
) -> pd.DataFrame:
    """One row per (window, probe): run ``model`` (eval mode) on each batch's ``video`` after each probe's
    transform (:data:`.probes.PROBE_TRANSFORMS`, seeded by ``seed``, one generator per probe).

    Samples flagged ``replaced`` (stand-ins the dataset returned for an unreadable clip, a copy of another
    clip) are dropped first (``riskvision.batch.without_replaced``): the table has one row per readable
    window and probe, none for a dropped clip. ``progress`` advances by each batch's windows."""
    model.eval().to(device)
    generators, meta, probs = _collectors(probes, seed)
    for batch in batches:
        if progress is not None:
            progress.advance(len(batch["video"]))
        batch = without_replaced(batch)
        if not len(batch["video"]):
            continue
        for key, values in _batch_meta(batch).items():
            meta[key] += values
        for probe in probes:
            video = PROBE_TRANSFORMS[probe](batch["video"], generators[probe]).to(device)
            probs[probe].append(task.table_values(model(video)))
    return _table(meta, probs, task)


@torch.no_grad()
def predict_table_per_frame(
    net: nn.Module,
    videos: Iterable[dict[str, Any]],
    task: Task,
    normalize: Callable[[Tensor], Tensor],
    probes: Sequence[str] = ("none",),
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch_size: int = 8,
    progress: ProgressLine | None = None,
    every_frame: bool = False,
) -> pd.DataFrame:
    """:func:`predict_table`'s rows for a per-frame net (``models.FrameFeatureNet``: ``forward_features`` per frame,
    ``forward_sequence`` per window) from per-video items (``data.dataset.VideoWindowsDataset``: a video's frames
    read once, its windows as indices into them): the backbone runs ONCE per frame (:data:`FRAME_CHUNK` frames a
    pass), the sequence head once per window and probe (``batch_size`` windows a pass). The probes permute the
    windows' features exactly as they permute frames, drawn clip by clip in the same order, so the table equals
    :func:`predict_table` on ``RiskDataModule.scoring_dataloader`` (same windows, same probe draws) up to float
    rounding, at a backbone cost per video that no longer grows with the window length.

    ``every_frame`` (a causal net of a ``per_frame`` task, ``model=causal_gru``): no windows; the head runs ONCE over
    the video's frames in order (``forward_frames``) and the row of the window ending at frame ``t`` gets frame
    ``t``'s score, from frames ``0..t`` (what the stream's carried state gives). The windows must then cover every
    frame from 0 (step <= window length, as ``evaluation.runner`` asks); the probes transform the whole video's
    features (one draw per video).

    ``normalize``: uint8 ``[N, 3, H, W]`` -> float (the datamodule's ``Normalize``); ``progress`` advances by one
    per video."""
    net.eval().to(device)
    generators, meta, probs = _collectors(probes, seed)
    for item in videos:
        if progress is not None:
            progress.advance()
        windows = item["windows"]
        if not len(windows):  # an unreadable video (its dataset warned)
            continue
        frames = item["frames"]
        features = torch.cat(
            [
                net.forward_features(normalize(frames[a : a + FRAME_CHUNK]).to(device)[None])[0]
                for a in range(0, len(frames), FRAME_CHUNK)
            ]
        )  # [F, D]
        for key, values in _batch_meta(item).items():
            meta[key] += values
        if every_frame:
            for probe in probes:
                video = PROBE_TRANSFORMS[probe](features[None], generators[probe])  # [1, F, D]
                probs[probe].append(task.table_values(net.forward_frames(video)[0, windows[:, -1].to(device)]))
            continue
        for probe in probes:
            for a in range(0, len(windows), batch_size):
                clip = PROBE_TRANSFORMS[probe](features[windows[a : a + batch_size].to(device)], generators[probe])
                probs[probe].append(task.table_values(net.forward_sequence(clip)))
    return _table(meta, probs, task)


def _latency_ms(model: nn.Module, video_shape: Sequence[int], repeats: int) -> float:
    """Median wall-clock ms of one forward pass on CPU for a batch of one window (after one warm-up)."""
    video = torch.zeros(1, *video_shape[1:])
    model = model.eval().cpu()
    times = []
    with torch.no_grad():
        model(video)
        for _ in range(repeats):
            begin = time.perf_counter()
            model(video)
            times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times)


def measure_cost(model: nn.Module, video_shape: Sequence[int], latency_repeats: int = 3) -> dict[str, float]:
    """``parameters`` (total), ``trainable_parameters``, ``gflops_per_window`` (forward, 1 MAC = 2 FLOPs,
    :func:`riskvision.models.complexity.forward_gflops`) and ``cpu_latency_ms_per_window`` (median of
    ``latency_repeats`` batch-1 forwards on this machine's CPU with its current thread count; 0 repeats
    skips it) for windows of ``video_shape`` ``[B, T, C, H, W]``."""
    from riskvision.models.complexity import count_parameters, forward_gflops

    total, trainable = count_parameters(model)
    cost = {
        "parameters": total,
        "trainable_parameters": trainable,
        "gflops_per_window": forward_gflops(model, video_shape),
        "window": list(video_shape[1:]),
        "cpu_threads": torch.get_num_threads(),
    }
    if latency_repeats > 0:
        cost["cpu_latency_ms_per_window"] = _latency_ms(model, video_shape, latency_repeats)
    return cost


def run_info(module: nn.Module, name: str, extra: dict[str, Any] | None = None, run_id: str | None = None) -> RunInfo:
    """The :class:`RunInfo` of a ``RiskModule``: its task and its decision threshold (tuned on validation by a
    task that tunes one; 0.5 for the others, e.g. 3-class models decide P(crash) at 0.5)."""
    return RunInfo(
        name=name, task=module.task, threshold=float(module.threshold), extra=dict(extra or {}), run_id=run_id
    )


def write_evaluation(
    table: pd.DataFrame,
    run: RunInfo,
    out_dir: str | Path,
    n_boot: int = 1000,
    filename: str = "predictions.parquet",
    seed: int = 0,
    false_alarm_cap_per_hour: float = 1.0,
) -> dict[str, Any]:
    """Write ``out_dir/<filename>`` and ``out_dir/metrics.json`` (:func:`.summary.compute_metrics`, its
    bootstrap seeded by ``seed``, its deployment view capped at ``false_alarm_cap_per_hour``); returns the metrics.

    Both carry ``run.run_id`` (a ``run_id`` column and ``metrics.json``'s ``run.id``; a fresh id when ``None``), so a
    reader can tell that they were written together (``riskvision.evaluation.report.load_runs`` checks it)."""
    out_dir = Path(out_dir)
    if run.run_id is None:
        run = dataclasses.replace(run, run_id=new_run_id())
    table = table.assign(run_id=run.run_id)
    write_predictions(table, out_dir / filename)
    for stale in (out_dir / name for name in PREDICTION_FILES if name != filename):
        stale.unlink(missing_ok=True)  # an earlier evaluation's table in the other format: readers must not pick it
    metrics = jsonable(
        compute_metrics(table, run, n_boot=n_boot, seed=seed, false_alarm_cap_per_hour=false_alarm_cap_per_hour)
    )
    text = json.dumps(metrics, indent=2, allow_nan=False) + "\n"
    atomic_write(out_dir / "metrics.json", lambda tmp: tmp.write_text(text))
    return metrics
