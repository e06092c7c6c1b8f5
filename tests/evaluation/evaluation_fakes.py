"""Synthetic prediction tables and run folders for the evaluation tests (the fixtures are in conftest.py).

A module with its own name, not conftest: ``from conftest import`` picks whichever conftest pytest
imported first, so it broke when tests of two folders ran in one invocation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskvision.alarm import AlarmPolicy
from riskvision.evaluation.deployment import choose_operating_point
from riskvision.evaluation.predict import write_evaluation
from riskvision.evaluation.summary import RunInfo
from riskvision.evaluation.table import META_COLUMNS, make_table
from riskvision.tasks import BinaryCrash, RiskLevels

CLASSES = ["Normal", "Warning", "Danger"]
FRAMES, START, END, FPS = 30, 15, 25, 10.0


def task_of(name: str) -> BinaryCrash | RiskLevels:
    """The task object of a test's task name (``binary`` or ``multiclass``)."""
    return BinaryCrash() if name == "binary" else RiskLevels(CLASSES)


def synthetic_table(
    task: str,
    n_crash: int = 6,
    n_normal: int = 6,
    skill: float = 2.0,
    seed: int = 0,
    probes: tuple[str, ...] = ("none",),
) -> pd.DataFrame:
    """One window per frame of ``n_crash`` DoTA videos (anomaly [15, 25) at 10 fps) and ``n_normal`` BDD
    videos; P(crash) rises before the anomaly by ``skill`` (0 = noise only). Probes get skill 0."""
    rng = np.random.default_rng(seed)
    tables = []
    for probe in probes:
        meta, logits = {k: [] for k in META_COLUMNS}, []
        gain = skill if probe == "none" else 0.0
        for v in range(n_crash + n_normal):
            crash = v < n_crash
            frames = np.arange(FRAMES)
            warning = (frames >= START - 5) & (frames < START)
            risk = np.where((frames >= START) & (frames < END), 2, warning.astype(int)) if crash else 0 * frames
            base = rng.normal(0, 1, FRAMES)
            logits.append(base + gain * (risk - 0.8 + 0.4 * crash))
            rows = {
                "video_id": f"{'dota' if crash else 'bdd'}_{v:02d}",
                "source": "dota" if crash else "bdd",
                "category": ["lateral", "turning"][v % 2] if crash else "normal",
                "ego": crash and v % 3 == 0,
                "night": v % 4 == 0,
                "fps": FPS,
                "num_frames": FRAMES,
                "anomaly_start": START if crash else -1,
                "anomaly_end": END if crash else -1,
                "crash": int(crash),
            }
            for key, value in rows.items():
                meta[key] += [value] * FRAMES
            meta["end_frame"] += frames.tolist()
            meta["risk"] += risk.tolist()
        logit = np.concatenate(logits)
        if task == "binary":
            probs = 1 / (1 + np.exp(-logit))
        else:
            scores = np.stack([-logit, 0.3 * logit, logit], axis=1)
            probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        tables.append(make_table(meta, probs, task_of(task), probe))
    return pd.concat(tables, ignore_index=True)


def write_fake_run(folder: Path, task: str, skill: float, seed: int = 0) -> Path:
    """A run folder as scripts/eval.py leaves it: predictions.parquet + metrics.json."""
    table = synthetic_table(task, skill=skill, seed=seed, probes=("none", "shuffled", "repeated"))
    validation = synthetic_table(task, skill=skill, seed=seed + 100)  # the operating point is chosen on it
    point = choose_operating_point(validation, AlarmPolicy(), cap_per_hour=1.0, split="val")
    run = RunInfo(
        name=folder.name,
        task=task_of(task),
        threshold=0.5,
        extra={
            "split": "test",
            "cost": {
                "parameters": 1000 if task == "binary" else 5000,
                "gflops_per_window": 0.1,
                "cpu_latency_ms_per_window": 1.0,
            },
        },
        alarm=point.policy,
        operating_point=point,
    )
    write_evaluation(table, run, folder, n_boot=50)
    return folder
