"""The label policy: one object gives both targets of a clip (DESIGN.md, "Labels").

All indices are target-rate frame indices; the anomaly is ``[s, e)`` of the :class:`TargetVideo`, its
annotated alert frame (when its record has one) ``a``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from riskvision.data.alerts import AlertLabels
from riskvision.data.records import DataIssue, VideoRecord
from riskvision.data.timebase import TargetVideo

NORMAL, WARNING, DANGER = 0, 1, 2
RISK_NAMES = ("normal", "warning", "danger")
CRASH_MODES = ("video", "overlap")


class LabelPolicy:
    """Crash and risk labels of a clip.

    Args:
        crash_mode: ``"video"``: a clip of a video with an anomaly (DoTA) is a crash whatever frames
            it holds (seed A); ``"overlap"``: a crash only if one of its frames lies in ``[s, e)``.
        warning_horizon_s: seconds before the anomaly labelled Warning (``H``) for videos without an annotated
            alert time.
        record_alerts: a video whose record has an annotated alert frame ``a`` (Nexar's ``time_of_alert``, the
            consensus alert labels) is Warning from ``a`` to the anomaly instead of for ``H`` seconds before it;
            ``False``: the fixed horizon for every video.
        alerts: a CSV of consensus alert labels (``riskvision.data.alerts``) laid over every source's records: the
            alert frames and ego flags of the videos it lists; ``None``: none.
        alerts_ego: with ``alerts``, keep only the crash videos whose (re-annotated) ego flag is this value.
        alerts_listed_only: with ``alerts``, keep only the crash videos the CSV lists.
    """

    def __init__(
        self,
        crash_mode: str = "video",
        warning_horizon_s: float = 2.0,
        record_alerts: bool = True,
        alerts: str | Path | None = None,
        alerts_ego: bool | None = None,
        alerts_listed_only: bool = False,
    ) -> None:
        if crash_mode not in CRASH_MODES:
            raise ValueError(f"LabelPolicy crash_mode={crash_mode!r}; use one of {CRASH_MODES}")
        if warning_horizon_s < 0:
            raise ValueError(f"LabelPolicy warning_horizon_s={warning_horizon_s} must be >= 0 seconds")
        self.crash_mode = crash_mode
        self.warning_horizon_s = float(warning_horizon_s)
        self.record_alerts = bool(record_alerts)
        if alerts is None and (alerts_ego is not None or alerts_listed_only):
            raise ValueError(
                f"LabelPolicy alerts_ego={alerts_ego}, alerts_listed_only={alerts_listed_only} filter by "
                "the consensus alert labels, but alerts is null; set data.labels.alerts=PATH (a CSV)"
            )
        self.alerts = None if alerts is None else AlertLabels(alerts, alerts_ego, alerts_listed_only)

    def annotate(self, records: Sequence[VideoRecord], issues: list[DataIssue] | None) -> list[VideoRecord]:
        """``records`` (every source's, in order) with the :attr:`alerts` overlay applied: the same list without one."""
        return list(records) if self.alerts is None else self.alerts.apply(records, issues)

    def keep(self, record: VideoRecord) -> bool:
        """The :attr:`alerts` filter (``alerts_ego``, ``alerts_listed_only``); every record without alerts."""
        return self.alerts is None or self.alerts.keep(record)

    def crash(self, video: TargetVideo, window_frames: Sequence[int]) -> int:
        """0/1 crash label of the clip made of ``window_frames`` (target indices) of ``video``."""
        if not video.has_anomaly:
            return 0
        if self.crash_mode == "video":
            return 1
        return int(any(video.anomaly_start <= f < video.anomaly_end for f in window_frames))

    def risk(self, video: TargetVideo, window_frames: Sequence[int]) -> int:
        """Risk of the clip's last frame ``t``: Danger if ``s <= t < e``, Warning if ``w <= t < s`` with ``w`` the
        :meth:`warning_start`, Normal otherwise (and always for videos without anomaly)."""
        return self.risk_at(video, window_frames[-1])

    def risk_at(self, video: TargetVideo, t: int) -> int:
        """Risk level of target frame ``t`` of ``video``."""
        if not video.has_anomaly:
            return NORMAL
        s, e = video.anomaly_start, video.anomaly_end
        if s <= t < e:
            return DANGER
        if self.warning_start(video) <= t < s:
            return WARNING
        return NORMAL

    def warning_start(self, video: TargetVideo) -> float:
        """First target frame (a float for the fixed horizon) of ``video``'s Warning phase: its annotated alert frame
        ``a`` (with :attr:`record_alerts`), else ``s - H * fps``. Only meaningful for a video with an anomaly."""
        if self.record_alerts and video.alert_start is not None:
            return video.alert_start
        return video.anomaly_start - self.warning_horizon_s * video.fps

    def __repr__(self) -> str:
        alerts = "" if self.alerts is None else f", alerts={self.alerts!r}"
        return (
            f"LabelPolicy(crash_mode={self.crash_mode!r}, warning_horizon_s={self.warning_horizon_s}, "
            f"record_alerts={self.record_alerts}{alerts})"
        )
