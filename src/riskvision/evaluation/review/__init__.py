"""The review page: every scored video of a set of evaluated runs, side by side, in one folder that opens from disk
(``index.html``; no server, no network). See docs/review.md.

- :mod:`.page`: :func:`write_review` (the table data, per-video timelines, the page's files);
- :mod:`.clips`: each video's file or frame folder found by its id, and a small H.264 MP4 of it;
- :mod:`.policy`: :func:`run_policy` (a run's deployed alarm policy and threshold, from its metrics.json) and
  :func:`policy_trace` (that policy replayed over one video).
"""

from riskvision.evaluation.review.clips import ClipSettings
from riskvision.evaluation.review.page import ReviewSettings, build_review, review_settings, write_review
from riskvision.evaluation.review.policy import RunPolicy, policy_trace, run_policy

__all__ = [
    "ClipSettings",
    "ReviewSettings",
    "RunPolicy",
    "build_review",
    "policy_trace",
    "review_settings",
    "run_policy",
    "write_review",
]
