"""Issue 28: the sort-once / re-weight path (``ranking.Ranking``) gives the metric values the re-sort path gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskvision.evaluation.bootstrap import bootstrap_ci, paired_bootstrap_diff
from riskvision.metrics.ranking import Ranking, auroc, average_precision


def _old_tied_counts(scores, labels, weights=None):
    """ranking.tied_counts before issue 28: argsort on every call."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels).astype(bool)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    pos = np.add.reduceat(weights[order] * labels[order], starts) if len(scores) else np.zeros(0)
    neg = np.add.reduceat(weights[order] * ~labels[order], starts) if len(scores) else np.zeros(0)
    return pos, neg


def _old_auroc(scores, labels, weights=None):
    pos, neg = _old_tied_counts(scores, labels, weights)
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    return float(np.sum(pos * (total_neg - np.cumsum(neg) + neg / 2)) / (total_pos * total_neg))


def _old_ap(scores, labels, weights=None):
    pos, neg = _old_tied_counts(scores, labels, weights)
    if pos.sum() <= 0:
        return float("nan")
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    return float(np.sum(np.diff(np.r_[0.0, tp / tp[-1]]) * precision))


def _table(ties: bool, n: int = 3000, seed: int = 1):
    rng = np.random.default_rng(seed)
    videos = rng.integers(0, 60, n).astype(str)
    scores = rng.random(n)
    if ties:
        scores = np.round(scores, 2)
    labels = rng.random(n) < 0.3 + 0.4 * scores
    return videos, scores, labels


@pytest.mark.parametrize("ties", [False, True])
def test_sort_once_metrics_equal_the_re_sorted_ones_under_every_weighting(ties):
    videos, scores, labels = _table(ties)
    ranked = Ranking(scores, labels)
    rng = np.random.default_rng(2)
    for weights in [None, *rng.integers(0, 4, (20, len(scores))).astype(float)]:
        assert ranked.auroc(weights) == _old_auroc(scores, labels, weights)
        assert ranked.average_precision(weights) == _old_ap(scores, labels, weights)
        assert auroc(scores, labels, weights) == _old_auroc(scores, labels, weights)
        assert average_precision(scores, labels, weights) == _old_ap(scores, labels, weights)


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_intervals_equal_those_of_the_re_sort_path(ties):
    videos, scores, labels = _table(ties)
    ranked = Ranking(scores, labels)
    for new, old in [(ranked.auroc, _old_auroc), (ranked.average_precision, _old_ap)]:
        got = bootstrap_ci(videos, new, n_boot=200, seed=3)
        want = bootstrap_ci(videos, lambda w, old=old: old(scores, labels, w), n_boot=200, seed=3)
        assert got == want
    b_videos, b_scores, b_labels = _table(ties, seed=4)
    b_ranked = Ranking(b_scores, b_labels)
    got = paired_bootstrap_diff(videos, ranked.auroc, b_videos, b_ranked.auroc, n_boot=200, seed=3)
    want = paired_bootstrap_diff(
        videos,
        lambda w: _old_auroc(scores, labels, w),
        b_videos,
        lambda w: _old_auroc(b_scores, b_labels, w),
        n_boot=200,
        seed=3,
    )
    assert got == want


def test_empty_and_one_class_rankings():
    assert np.isnan(Ranking(np.zeros(0), np.zeros(0)).auroc()) and np.isnan(Ranking([0.5, 0.2], [1, 1]).auroc())
    assert np.isnan(Ranking([0.5, 0.2], [0, 0]).average_precision())


def _old_video_scores(table, score="p_crash"):
    """table.video_scores before issue 28: one pandas group per video."""
    from riskvision.evaluation.anticipation import VideoScores

    out = []
    for _, rows in table.sort_values("end_frame").groupby("video_id", sort=True):
        first = rows.iloc[0]
        out.append(
            VideoScores(
                frames=rows["end_frame"].to_numpy(),
                scores=rows[score].to_numpy(dtype=float),
                crash=bool(rows["crash"].max()),
                anomaly_start=int(first["anomaly_start"]),
                anomaly_end=int(first["anomaly_end"]),
                fps=float(first["fps"]),
                num_frames=int(first["num_frames"]),
            )
        )
    return out


def test_video_scores_cut_from_one_sort_equal_the_per_group_ones():
    from evaluation_fakes import synthetic_table

    from riskvision.evaluation.table import video_scores

    table = synthetic_table("multiclass", n_crash=5, n_normal=4, seed=3).sample(frac=1.0, random_state=0)
    table.loc[table.index[:7], "video_id"] = "z_late"  # an id sorted last, rows from several videos
    new, old = video_scores(table), _old_video_scores(table)
    assert len(new) == len(old) == table["video_id"].nunique()
    for a, b in zip(new, old):
        assert np.array_equal(a.frames, b.frames) and np.array_equal(a.scores, b.scores)
        assert (a.crash, a.anomaly_start, a.anomaly_end, a.fps, a.num_frames) == (
            b.crash,
            b.anomaly_start,
            b.anomaly_end,
            b.fps,
            b.num_frames,
        )


# --------------------------------------------------------------- per-resample cost O(videos): the same values


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("metric", ["auroc", "average_precision"])
def test_statistics_of_video_counts_equal_those_of_row_weights(ties, metric):
    from riskvision.evaluation.bootstrap import _row_weights, _video_counts
    from riskvision.metrics.ranking import RankingStatistic

    videos, scores, labels = _table(ties)
    rows = videos.astype(int)
    rows[::7] = -1  # rows of videos outside a paired comparison weigh 0
    statistic = RankingStatistic(Ranking(scores, labels), metric)
    of_counts = statistic.of_video_counts(rows)
    old = _old_auroc if metric == "auroc" else _old_ap
    for counts in _video_counts(60, 40, 5):
        weights = _row_weights(counts, rows)
        assert of_counts(counts) == statistic(weights) == old(scores, labels, weights)
    one_class = RankingStatistic(Ranking(scores, np.ones(len(scores), bool)), metric).of_video_counts(rows)
    assert np.isnan(one_class(np.ones(60))) == (metric == "auroc")


def test_video_counts_are_the_bincounts_of_the_draws():
    from riskvision.evaluation.bootstrap import _video_counts

    counts = _video_counts(37, 150, 9)  # more resamples than one bincount chunk
    draws = np.random.default_rng(9).integers(0, 37, size=(150, 37))
    assert np.array_equal(counts, np.stack([np.bincount(d, minlength=37) for d in draws]))
    assert not counts.flags.writeable and _video_counts(37, 150, 9) is counts  # cached: every CI of a table


def test_compute_metrics_bootstrap_equals_the_row_weight_path(monkeypatch):
    """The whole metrics.json (every CI, the deployment view, probes) with the per-video fast paths switched off
    (every statistic called with row weights, the capped thresholds recomputed) is the same."""
    from evaluation_fakes import synthetic_table

    from riskvision.evaluation import bootstrap, deployment
    from riskvision.evaluation.summary import RunInfo, compute_metrics, jsonable
    from riskvision.tasks import RiskLevels

    table = synthetic_table("multiclass", n_crash=6, n_normal=5, seed=2)
    probed = table.copy()
    probed["probe"] = "shuffled"
    probed["p_crash"] = np.round(probed["p_crash"].to_numpy() * 20) / 20  # ties
    table = pd.concat([table, probed], ignore_index=True)
    run = RunInfo("m", RiskLevels(["Normal", "Warning", "Danger"]))
    fast = jsonable(compute_metrics(table, run, n_boot=60, seed=1))
    monkeypatch.setattr(
        bootstrap, "_sampler", lambda statistic, rows: lambda c: statistic(bootstrap._row_weights(c, rows))
    )
    monkeypatch.setattr(deployment, "_whole", lambda weights: False)
    monkeypatch.setattr(deployment, "_key", lambda weights: object())  # never the same resample
    slow = jsonable(compute_metrics(table, run, n_boot=60, seed=1))
    assert fast == slow
