"""The DAD source (Dashcam Accident Dataset, Chan et al., "Anticipating Accidents in Dashcam Videos", ACCV 2016):
dashcam clips of 100 frames at 20 fps (5 s) from Taiwanese roads, positives ending in an accident.

    <root>/videos/{training,testing}/{positive,negative}/*.mp4     (or <root>/{training,testing}/...)

A positive clip's accident starts at frame 90 (0-based, the last 10 frames: 0.5 s) and lasts to the clip's end, as
the release defines it; negatives have none. ``training`` is the release's train set, ``testing`` its test set
(``subset="val"``, which ``SubsetSplit`` makes riskvision's test split). The release has no per-clip annotation of
another start, so none is read (``accident_frame`` sets the start for every positive; per-clip alert times can come
from the consensus alert labels, ``data.labels.alerts``). Ego involvement and night are not annotated (``False``).

Record ids: ``<training|testing>_<positive|negative>_<file stem>`` (the four folders number their clips alike), each
its own group; labelled ``dad``.
"""

from __future__ import annotations

from pathlib import Path

from riskvision.data.layout import DataLayoutError, clip_span, is_synthetic, require_folder
from riskvision.data.probe import list_videos, probe_videos
from riskvision.data.records import DataIssue, VideoRecord
from riskvision.data.sources.base import EventFilter, VideoFolderSource

DAD_FPS = 20.0
ACCIDENT_FRAME = 90
#: ``{release folder: subset}``: ``testing`` is the release's test set, riskvision's test split via ``SubsetSplit``.
PHASES = {"training": "train", "testing": "val"}
CLASSES = ("positive", "negative")
LAYOUT = "DAD: <root>/videos/{training,testing}/{positive,negative}/*.mp4 (or <root>/{training,testing}/...)"
ROOT_KEY = "data.root (data.sources.dad.root)"


def videos_folder(root: Path) -> Path:
    """``<root>/videos`` or ``root`` itself, whichever holds ``training/`` or ``testing/``; :class:`DataLayoutError`
    when neither does."""
    for folder in (root / "videos", root):
        if any((folder / phase).is_dir() for phase in PHASES):
            return folder
    raise DataLayoutError(
        f"DAD root {root} has no videos/training/ or videos/testing/ folder; expected {LAYOUT}. "
        f"Fix: set {ROOT_KEY} to the DAD folder holding videos/"
    )


def build_dad_index(
    root: str | Path,
    accident_frame: int = ACCIDENT_FRAME,
    cache_dir: str | Path | None = None,
    issues: list[DataIssue] | None = None,
    write_cache: bool = True,
) -> list[VideoRecord]:
    """Records of every readable DAD clip under ``root`` (training before testing, positives before negatives, by
    name); a positive's accident is ``[accident_frame, num_frames)``, clipped (and reported) for a shorter clip.

    Raises:
        DataLayoutError: ``root`` is not a readable folder or has no ``training/`` or ``testing/`` folder.
    """
    root = require_folder(root, ROOT_KEY, LAYOUT)
    folder = videos_folder(root)
    videos = [
        (phase, kind, path)
        for phase in PHASES
        for kind in CLASSES
        for path in list_videos(folder / phase / kind, "DAD", issues)
    ]
    probed = probe_videos(root, [path for *_, path in videos], "DAD", cache_dir, issues, write_cache, prefix="dad")
    synthetic = is_synthetic(root)
    records = []
    for phase, kind, path in videos:
        if path not in probed:
            continue
        fps, count = probed[path]
        video_id = f"{phase}_{kind}_{path.stem}"
        span, category = (None, None), "normal"
        if kind == "positive":
            span, category = clip_span(video_id, path, accident_frame, count, count, issues), "accident"
        records.append(
            VideoRecord(
                video_id, "dad", path, "video", fps, count, *span, category, synthetic=synthetic, subset=PHASES[phase]
            )
        )
    return records


class DadSource(VideoFolderSource):
    """DAD clips under ``root`` (``conf/data/source/dad.yaml``), labelled ``dad``.

    Args:
        accident_frame: first native frame of every positive clip's accident (the release: 90 of 100).
        root, filters, cache_dir: as :class:`~riskvision.data.sources.base.VideoFolderSource` (DAD annotates no ego
            or night; the consensus alert labels give ego).
    """

    root_key, root_holds = ROOT_KEY, LAYOUT

    def __init__(
        self,
        root: str | Path | None,
        accident_frame: int = ACCIDENT_FRAME,
        filters: EventFilter | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__(root, filters, cache_dir)
        if accident_frame < 0:
            raise ValueError(f"DadSource accident_frame={accident_frame} must be a frame index >= 0 (the release: 90)")
        self.accident_frame = int(accident_frame)

    def index(self, root: Path, issues: list[DataIssue]) -> list[VideoRecord]:
        return build_dad_index(root, self.accident_frame, self.cache_dir, issues, write_cache=not self.read_only)
