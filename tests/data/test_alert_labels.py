"""Annotated alert times: the label policy's Warning phase from a record's alert frame (issue 15)."""

from __future__ import annotations

from pathlib import Path

from riskvision.data.labels import DANGER, NORMAL, WARNING, LabelPolicy
from riskvision.data.records import VideoRecord
from riskvision.data.timebase import frame_at, to_target


def record(num_frames=100, fps=10.0, span=(40, 50), alert=None, video_id="abc_000001"):
    return VideoRecord(video_id, "dota", Path("x"), "video", fps, num_frames, *span, alert_start=alert)


def test_an_alert_frame_starts_the_warning_instead_of_the_fixed_horizon():
    policy = LabelPolicy(warning_horizon_s=2.0)
    with_alert = to_target(record(alert=33), 10.0)
    expected = {32: NORMAL, 33: WARNING, 39: WARNING, 40: DANGER, 49: DANGER, 50: NORMAL}
    assert {t: policy.risk_at(with_alert, t) for t in expected} == expected
    fixed = to_target(record(), 10.0)  # no alert: H = 2 s before the anomaly, as before
    assert [policy.risk_at(fixed, t) for t in (19, 20, 39, 40)] == [NORMAL, WARNING, WARNING, DANGER]
    ignoring = LabelPolicy(warning_horizon_s=2.0, record_alerts=False)
    assert [ignoring.risk_at(with_alert, t) for t in (20, 32)] == [WARNING, WARNING]


def test_an_alert_long_before_the_anomaly_widens_the_warning_and_one_after_it_empties_it():
    policy = LabelPolicy(warning_horizon_s=1.0)
    early = to_target(record(alert=5), 10.0)
    assert [policy.risk_at(early, t) for t in (4, 5, 29, 39)] == [NORMAL, WARNING, WARNING, WARNING]
    late = to_target(record(alert=45), 10.0)
    assert [policy.risk_at(late, t) for t in (30, 39, 45)] == [NORMAL, NORMAL, DANGER]


def test_the_alert_frame_is_resampled_like_the_anomaly():
    video = to_target(record(num_frames=300, fps=30.0, span=(150, 300), alert=100), 10.0)
    assert (video.alert_start, video.anomaly_start, video.anomaly_end) == (34, 50, 100)  # first target >= native
    assert to_target(record(num_frames=300, fps=30.0, span=(150, 300), alert=99), 10.0).alert_start == 33
    assert to_target(record(span=(None, None)), 10.0).alert_start is None


def test_seconds_become_the_first_frame_at_or_after_them():
    assert [frame_at(t, 30.0) for t in (0.0, 1.0, 1.01, 18.3, 4.5)] == [0, 30, 31, 549, 135]
    assert frame_at(4.5, 20.0) == 90
