"""The label policy: one object gives both targets of a clip (DESIGN.md, "Labels").

All indices are target-rate frame indices; the anomaly is ``[s, e)`` of the :class:`TargetVideo`.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskvision.data.timebase import TargetVideo

NORMAL, WARNING, DANGER = 0, 1, 2
RISK_NAMES = ("normal", "warning", "danger")
CRASH_MODES = ("video", "overlap")


class LabelPolicy:
    """Crash and risk labels of a clip.

    Args:
        crash_mode: ``"video"``: a clip of a video with an anomaly (DoTA) is a crash whatever frames
            it holds (seed A); ``"overlap"``: a crash only if one of its frames lies in ``[s, e)``.
        warning_horizon_s: seconds before the anomaly labelled Warning (``H``).
    """

    def __init__(self, crash_mode: str = "video", warning_horizon_s: float = 2.0) -> None:
        if crash_mode not in CRASH_MODES:
            raise ValueError(f"LabelPolicy crash_mode={crash_mode!r}; use one of {CRASH_MODES}")
        if warning_horizon_s < 0:
            raise ValueError(f"LabelPolicy warning_horizon_s={warning_horizon_s} must be >= 0 seconds")
        self.crash_mode = crash_mode
        self.warning_horizon_s = float(warning_horizon_s)

    def crash(self, video: TargetVideo, window_frames: Sequence[int]) -> int:
        """0/1 crash label of the clip made of ``window_frames`` (target indices) of ``video``."""
        if not video.has_anomaly:
            return 0
        if self.crash_mode == "video":
            return 1
        return int(any(video.anomaly_start <= f < video.anomaly_end for f in window_frames))

    def risk(self, video: TargetVideo, window_frames: Sequence[int]) -> int:
        """Risk of the clip's last frame ``t``: Danger if ``s <= t < e``, Warning if
        ``s - H * fps <= t < s``, Normal otherwise (and always for videos without anomaly)."""
        return self.risk_at(video, window_frames[-1])

    def risk_at(self, video: TargetVideo, t: int) -> int:
        """Risk level of target frame ``t`` of ``video``."""
        if not video.has_anomaly:
            return NORMAL
        s, e = video.anomaly_start, video.anomaly_end
        if s <= t < e:
            return DANGER
        if s - self.warning_horizon_s * video.fps <= t < s:
            return WARNING
        return NORMAL

    def __repr__(self) -> str:
        return f"LabelPolicy(crash_mode={self.crash_mode!r}, warning_horizon_s={self.warning_horizon_s})"
