"""How much UString's / DSTA's unstable ``np.argsort(Recall)`` moves their published metrics
(``scripts/measure_ustring_argsort.py``).

UString's ``evaluation`` (``src/eval_tools.py``; DSTA adds P@R80) fills per-threshold Precision / Recall / Time
arrays, orders them with ``np.argsort(Recall)`` (numpy's default sort, not stable) and then takes, for the
highest-recall group of thresholds, the values of whichever member the sort put first. riskvision's ``ustring``
convention takes the group's lowest threshold, what a stable sort gives. This module re-implements their function
(the same steps, vectorised over videos) with the sort kind as a parameter; :func:`run` prints, per score shape, the
largest difference between ``kind="quicksort"`` (numpy's default) and ``kind="stable"`` over ``trials`` random score
sets. The difference depends on numpy's version and the CPU (its SIMD sort); docs/evaluation.md quotes this output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

METRICS = ("ap", "mtta", "tta_r80", "p_r80")


def ustring_evaluation(
    pred: np.ndarray, labels: np.ndarray, toa: np.ndarray, fps: float, kind: str
) -> dict[str, float]:
    """UString's ``evaluation`` (+ DSTA's P@R80) on ``pred`` ``[N, T]``, ``labels`` ``[N]`` (0/1) and ``toa`` ``[N]``
    (frames), ordering the per-threshold arrays with ``np.argsort(Recall, kind=kind)``."""
    scored = [p[: int(t)] if y > 0 else p for p, y, t in zip(pred, labels, toa)]
    n_frames = sum(len(s) for s in scored)
    lowest = min(float(s.min()) for s in scored)
    thresholds = np.arange(max(lowest, 0), 1.0, 0.001)
    running = [np.maximum.accumulate(s) for s in scored]
    first = np.stack([np.searchsorted(r, thresholds, side="left") for r in running])  # [N, K]; len(s): none
    lengths = np.array([len(s) for s in scored])[:, None]
    alarmed = first < lengths
    positive = (labels > 0)[:, None]
    tp, alarmed_any = (alarmed & positive).sum(0), alarmed.sum(0)
    relative = np.where(alarmed & positive, first / toa[:, None].astype(float), 0.0).sum(0)
    precision, recall, time = np.zeros(n_frames), np.zeros(n_frames), np.zeros(n_frames)
    kept = (alarmed_any > 0) & (tp > 0)  # their loop skips a threshold without alarms, then one without TP
    count = int(kept.sum())
    precision[:count] = tp[kept] / alarmed_any[kept]
    recall[:count] = tp[kept] / labels.sum()
    time[:count] = 1 - relative[kept] / tp[kept]
    order = np.argsort(recall, kind=kind)
    precision, recall, time = precision[order], recall[order], time[order]
    _, starts = np.unique(recall, return_index=True)
    starts = starts[1:]  # drops the recall-0 group (the unused slots)
    group_time = np.array([time[a:b].max() for a, b in zip(starts[:-1], starts[1:])] + [time[starts[-1]]])
    group_precision = np.array(
        [precision[a:b].max() for a, b in zip(starts[:-1], starts[1:])] + [precision[starts[-1]]]
    )
    group_recall = recall[starts]
    ap = group_precision[0] * group_recall[0] + np.sum(
        (group_precision[1:] + group_precision[:-1]) / 2 * np.diff(group_recall)
    )
    seconds = pred.shape[1] / fps
    at80 = int(np.argmin(np.abs(group_recall - 0.8)))
    reach = np.flatnonzero(group_recall >= 0.8)
    return {
        "ap": float(ap),
        "mtta": float(group_time.mean() * seconds),
        "tta_r80": float(group_time[at80] * seconds),
        "p_r80": float(group_precision[reach[0]]) if len(reach) else float("nan"),
    }


def dad_shaped(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """DAD's test set shape: 699 videos (301 positive) of 100 frames at 20 fps, accident at frame 90; positives rise
    towards the accident, continuous noisy scores."""
    labels = (np.arange(699) < 301).astype(int)
    frames = np.arange(100)
    onset = rng.uniform(20, 95, 699)[:, None]
    rise = 1 / (1 + np.exp(-(frames - onset) / rng.uniform(3, 15, 699)[:, None]))
    pred = np.clip(0.05 + 0.9 * rise * labels[:, None] + 0.12 * rng.standard_normal((699, 100)), 0, 0.999)
    return pred, labels, np.full(699, 90), 20.0


def saturating(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A confident model: 200 videos (100 positive), most positives saturate at 0.999 well before the accident, so
    the highest recall is reached over a long run of thresholds."""
    labels = (np.arange(200) < 100).astype(int)
    onset = rng.uniform(5, 80, 200)[:, None]
    pred = np.where(np.arange(100) >= onset, 0.999, 0.02 + 0.05 * rng.random((200, 100)))
    pred[labels == 0] = np.minimum(pred[labels == 0], rng.uniform(0.05, 0.9, (100, 1)))
    return pred, labels, np.full(200, 90), 20.0


def coarse(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Scores on a coarse grid (two decimals, e.g. a quantised export): many exact ties; 120 videos (60 positive)."""
    pred, labels, toa, fps = dad_shaped(rng)
    keep = np.r_[np.arange(60), 301 + np.arange(60)]
    return np.round(pred[keep], 2), labels[keep], toa[keep], fps


SHAPES: dict[str, Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray, float]]] = {
    "DAD-shaped (continuous)": dad_shaped,
    "saturating at 0.999": saturating,
    "two-decimal scores": coarse,
}


def run(trials: int = 40, seed: int = 0) -> None:
    """Print, per score shape of :data:`SHAPES`, the largest ``|quicksort - stable|`` of each metric over ``trials``
    random score sets (drawn from ``seed``) and how many sets differ at all."""
    print(f"numpy {np.__version__}; largest |quicksort - stable| over {trials} score sets per shape")
    print(f"{'shape':28s} " + " ".join(f"{m:>9s}" for m in METRICS) + "  sets that differ")
    for name, make in SHAPES.items():
        rng = np.random.default_rng(seed)
        largest, differ = dict.fromkeys(METRICS, 0.0), 0
        for _ in range(trials):
            data = make(rng)
            unstable, stable = (ustring_evaluation(*data, kind=kind) for kind in ("quicksort", "stable"))
            gaps = {m: abs(unstable[m] - stable[m]) for m in METRICS if not np.isnan(stable[m])}
            differ += any(g > 0 for g in gaps.values())
            largest = {m: max(largest[m], gaps.get(m, 0.0)) for m in METRICS}
        print(f"{name:28s} " + " ".join(f"{largest[m]:9.4f}" for m in METRICS) + f"  {differ}/{trials}")
