"""The CCD source (Car Crash Dataset, Bao et al., "Uncertainty-based Traffic Accident Anticipation", ACM MM 2020):
1,500 crash and 3,000 normal dashcam clips of 50 frames at 10 fps (5 s); the normal clips are BDD100K clips.

    <root>/videos/Crash-1500/NNNNNN.mp4       crash clips
    <root>/videos/Normal/NNNNNN.mp4           normal clips
    <root>/videos/Crash-1500.txt              (or <root>/Crash-1500.txt) one line per crash clip:
        vidname,[50 frame labels 0/1],startframe,youtubeID,timing,weather,egoinvolve
        e.g. 000001,[0, 0, ..., 1, 1],285,KxpqG9QjKCs,Day,Normal,Yes
    <root>/vgg16_features/{train,test}.txt    (optional) the release's split lists

A crash clip's anomaly runs from its first frame labelled 1 to the frame after its last one; ``timing`` (Day |
Night) gives ``night``, ``egoinvolve`` (Yes | No) ``ego``; ``startframe`` (the clip's first frame in its YouTube
video) is informational; ``weather`` (Normal | Snowy | Rainy) is checked. Clips of one YouTube video share a group,
so grouped splits keep them together; each normal clip is its own group.

Record ids: ``crash_NNNNNN`` and ``normal_NNNNNN`` (the two folders number their clips alike). A split list names one
clip per line, its first word either a path whose parent folder is the clip's class (``Crash-1500`` or ``positive``;
``Normal`` or ``negative``) and whose stem is its number (``positive/000001.npz 1``, ``Normal/000123.mp4``), a number
with the 0/1 label after it (``000001.npz 1``), or a record id (``crash_000001``). ``train.txt`` is the release's
train set, ``test.txt`` its test set (``subset="val"``, which ``SubsetSplit`` makes riskvision's test split). With the
lists, only the clips they name are used; without them every clip is, with no subset (use a ``RandomSplit``).

Bad input: a malformed line of ``Crash-1500.txt`` (wrong label count, missing fields, values out of their sets, no
frame labelled 1), a line or list entry naming a clip with no video, and a crash video without a line are reported
by file and line and the clip dropped (fatal ``bad_line`` / ``missing_video`` / ``missing_annotation`` issues).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from riskvision.data.layout import (
    DataLayoutError,
    clip_span,
    is_synthetic,
    read_text,
    report_line,
    require_folder,
)
from riskvision.data.probe import list_videos, probe_videos
from riskvision.data.records import DataIssue, VideoRecord, report
from riskvision.data.sources.base import VideoFolderSource

CCD_FPS = 10.0
NUM_LABELS = 50
CRASH, NORMAL = "Crash-1500", "Normal"
#: Split-list folder names of each class (the videos' and the released features').
CLASS_FOLDERS = {"crash": (CRASH, "positive"), "normal": (NORMAL, "negative")}
TIMINGS = {"day": False, "night": True}
WEATHERS = ("normal", "snowy", "rainy")
EGO = {"yes": True, "no": False}
SPLIT_LISTS = {"train": "train.txt", "val": "test.txt"}

LINE_FORMAT = "vidname,[50 frame labels 0/1],startframe,youtubeID,timing,weather,egoinvolve"
LAYOUT = (
    f"CCD: <root>/videos/{CRASH}/NNNNNN.mp4, <root>/videos/{NORMAL}/NNNNNN.mp4, <root>/videos/{CRASH}.txt "
    f"(or <root>/{CRASH}.txt), optional <root>/vgg16_features/{{train,test}}.txt"
)
ROOT_KEY = "data.root (data.sources.ccd.root)"
_LINE = re.compile(r"^(?P<vid>[^,\[\]]*),\s*\[(?P<labels>[^\]]*)\](?P<rest>.*)$")


@dataclass(frozen=True)
class CrashLine:
    """One usable line of ``Crash-1500.txt``: the clip's number, its 50 frame labels and its metadata."""

    vidname: str
    labels: tuple[int, ...]
    youtube_id: str
    night: bool
    ego: bool
    line: int


def record_id(kind: str, number: str) -> str:
    """``crash_000001`` / ``normal_000001``: the record id of clip ``number`` of class ``kind``."""
    return f"{kind}_{number}"


# ----------------------------------------------------------------------------- the annotation file


def annotation_file(root: Path) -> Path:
    """``<root>/videos/Crash-1500.txt`` or ``<root>/Crash-1500.txt``; :class:`DataLayoutError` when neither exists."""
    for path in (root / "videos" / f"{CRASH}.txt", root / f"{CRASH}.txt"):
        if path.is_file():
            return path
    raise DataLayoutError(
        f"CCD root {root} has no videos/{CRASH}.txt (nor {CRASH}.txt), the crash clips' frame "
        f"labels; expected {LAYOUT}. Fix: set {ROOT_KEY} to the CCD folder holding videos/"
    )


def read_crash_lines(path: Path, issues: list[DataIssue] | None) -> dict[str, CrashLine]:
    """``{vidname: CrashLine}`` of every usable line of ``path``; each malformed line is reported by file and line
    (fatal ``bad_line``) and its clip dropped; a repeated vidname keeps its first line. A first line starting with
    ``vidname`` is a header and skipped."""
    lines: dict[str, CrashLine] = {}
    for number, text in enumerate(read_text(path).splitlines(), 1):
        text = text.strip()
        if not text or (number == 1 and text.lower().startswith("vidname")):
            continue
        try:
            parsed = parse_crash_line(text, number)
        except ValueError as err:
            report_line(
                issues,
                path,
                number,
                text.split(",", 1)[0] or "*",
                str(err),
                f"write the line as {LINE_FORMAT} (e.g. 000001,[0, ..., 1],285,KxpqG9QjKCs,Day,Normal,Yes)",
            )
            continue
        if parsed.vidname in lines:
            report_line(
                issues,
                path,
                number,
                parsed.vidname,
                f"repeats clip {parsed.vidname} of line {lines[parsed.vidname].line}",
                "keep one line per clip",
                done="this line is ignored",
            )
            continue
        lines[parsed.vidname] = parsed
    return lines


def parse_crash_line(text: str, line: int) -> CrashLine:
    """One line of ``Crash-1500.txt``; ``ValueError`` saying what is wrong with it."""
    match = _LINE.match(text)
    if match is None:
        raise ValueError(f"{text[:60]!r} has no bracketed list of frame labels after its vidname")
    vidname = match["vid"].strip()
    if not (vidname.isascii() and vidname.isdigit()):
        raise ValueError(f"vidname {vidname!r} is not a clip number (e.g. 000001)")
    labels = [value.strip() for value in match["labels"].split(",")]
    if len(labels) != NUM_LABELS:
        raise ValueError(f"clip {vidname} has {len(labels)} frame labels; a CCD clip has {NUM_LABELS}")
    bad = [value for value in labels if value not in ("0", "1")]
    if bad:
        raise ValueError(f"clip {vidname} has the frame label {bad[0]!r}; labels are 0 or 1")
    if "1" not in labels:
        raise ValueError(f"clip {vidname} has no frame labelled 1, so its crash has no start")
    rest = [value.strip() for value in match["rest"].removeprefix(",").split(",")]
    if not match["rest"].startswith(",") or len(rest) != 5:
        raise ValueError(
            f"clip {vidname} has {len(rest) if match['rest'] else 0} fields after its labels; expected 5 "
            f"(startframe,youtubeID,timing,weather,egoinvolve)"
        )
    startframe, youtube_id, timing, weather, ego = rest
    if not (startframe.isascii() and startframe.isdigit()):
        raise ValueError(f"clip {vidname} has startframe {startframe!r}, not a frame number")
    if not youtube_id:
        raise ValueError(f"clip {vidname} has an empty youtubeID")
    _check_value(vidname, "timing", timing, TIMINGS)
    _check_value(vidname, "weather", weather, WEATHERS)
    _check_value(vidname, "egoinvolve", ego, EGO)
    return CrashLine(
        vidname, tuple(int(value) for value in labels), youtube_id, TIMINGS[timing.lower()], EGO[ego.lower()], line
    )


def _check_value(vidname: str, name: str, value: str, allowed: Iterable[str]) -> None:
    if value.lower() not in allowed:
        options = " | ".join(option.capitalize() for option in allowed)
        raise ValueError(f"clip {vidname} has {name} {value!r}; expected {options}")


# ----------------------------------------------------------------------------- the split lists


def read_split_lists(root: Path, issues: list[DataIssue] | None) -> dict[str, str] | None:
    """``{record id: "train" | "val"}`` from ``vgg16_features/{train,test}.txt`` (``test.txt`` -> ``"val"``), or
    ``None`` when neither exists. An entry that names no class and number, or a clip in both lists, is reported by
    file and line."""
    folder = root / "vgg16_features"
    paths = {subset: folder / name for subset, name in SPLIT_LISTS.items() if (folder / name).is_file()}
    if not paths:
        return None
    subsets: dict[str, str] = {}
    where: dict[str, tuple[Path, int]] = {}
    for subset, path in paths.items():
        for number, text in enumerate(read_text(path).splitlines(), 1):
            if not text.strip():
                continue
            try:
                video_id = parse_split_entry(text)
            except ValueError as err:
                report_line(
                    issues,
                    path,
                    number,
                    "*",
                    str(err),
                    "name the clip as Crash-1500/000001.npz (or "
                    "positive/..., Normal/..., negative/...), as 000001.npz 1 (its number and 0/1 label) or "
                    "as crash_000001",
                )
                continue
            if video_id in subsets:
                first, line = where[video_id]
                report_line(
                    issues,
                    path,
                    number,
                    video_id,
                    f"lists {video_id}, which {first.name} line {line} lists too",
                    "list each clip in one split file",
                    done="it stays in the first",
                    kind="duplicate_split",
                )
                continue
            subsets[video_id], where[video_id] = subset, (path, number)
    return subsets


def parse_split_entry(text: str) -> str:
    """The record id a split-list line names (see the module docstring); ``ValueError`` when it names none."""
    words = text.split()
    entry = PurePosixPath(words[0].replace("\\", "/"))
    label = words[1] if len(words) > 1 else None
    if re.fullmatch(r"(crash|normal)_\d+", entry.name):
        return entry.name
    number = entry.stem
    if not (number.isascii() and number.isdigit()):
        raise ValueError(f"{words[0]!r} does not end in a clip number")
    by_folder = next((kind for kind, names in CLASS_FOLDERS.items() if entry.parent.name in names), None)
    by_label = {"1": "crash", "0": "normal"}.get(label or "")
    if by_folder and by_label and by_folder != by_label:
        raise ValueError(f"{words[0]!r} lies in a {by_folder} folder but has the label {label}")
    kind = by_folder or by_label
    if kind is None:
        raise ValueError(
            f"{text.strip()!r} names no class: no Crash-1500/positive/Normal/negative folder and no 0/1 label"
        )
    return record_id(kind, number)


# ----------------------------------------------------------------------------- the index


def build_ccd_index(
    root: str | Path,
    cache_dir: str | Path | None = None,
    issues: list[DataIssue] | None = None,
    write_cache: bool = True,
) -> list[VideoRecord]:
    """Records of every usable CCD clip under ``root`` (crash clips first, by number; see the module docstring).

    Raises:
        DataLayoutError: ``root`` is not a readable folder, has no ``videos/Crash-1500`` and ``videos/Normal``
            folders or no ``Crash-1500.txt``, or a file listing every clip cannot be read.
    """
    root = require_folder(root, ROOT_KEY, LAYOUT)
    videos_dir = root / "videos"
    if not any((videos_dir / name).is_dir() for name in (CRASH, NORMAL)):
        raise DataLayoutError(
            f"CCD root {root} has no videos/{CRASH}/ or videos/{NORMAL}/ folder; expected {LAYOUT}. "
            f"Fix: set {ROOT_KEY} to the CCD folder holding videos/"
        )
    labels_path = annotation_file(root)
    lines = read_crash_lines(labels_path, issues)
    files = {
        record_id(kind, path.stem): path
        for kind, folder in (("crash", CRASH), ("normal", NORMAL))
        for path in list_videos(videos_dir / folder, "CCD", issues)
    }
    subsets = read_split_lists(root, issues)
    wanted = _wanted_clips(root, files, lines, labels_path, subsets, issues)
    probed = probe_videos(
        root, [files[video_id] for video_id in wanted], "CCD", cache_dir, issues, write_cache, prefix="ccd"
    )
    synthetic = is_synthetic(root)
    records = []
    for video_id in wanted:
        path = files[video_id]
        if path not in probed:
            continue
        fps, count = probed[path]
        subset = None if subsets is None else subsets[video_id]
        kind, number = video_id.split("_", 1)
        if kind == "normal":
            records.append(VideoRecord(video_id, "ccd", path, "video", fps, count, synthetic=synthetic, subset=subset))
            continue
        records.append(_crash_record(video_id, path, fps, count, lines[number], labels_path, synthetic, subset, issues))
    return records


def _wanted_clips(
    root: Path,
    files: dict[str, Path],
    lines: dict[str, CrashLine],
    labels_path: Path,
    subsets: dict[str, str] | None,
    issues: list[DataIssue] | None,
) -> list[str]:
    """The record ids to index (crash clips first): those the split lists name (every clip without lists) that have a
    video and, for crash clips, a usable line; every other mismatch is reported."""
    for number, line in lines.items():
        if record_id("crash", number) not in files:
            report_line(
                issues,
                labels_path,
                line.line,
                record_id("crash", number),
                f"labels clip {number}, which has no video {root}/videos/{CRASH}/{number}.mp4",
                "restore the video or remove the line",
                done="the line is ignored",
                kind="missing_video",
            )
    if subsets is None:
        report(
            issues,
            DataIssue(
                "missing_split",
                "*",
                str(root / "vgg16_features"),
                f"CCD root {root} has no vgg16_features/train.txt or test.txt: its clips have no subset. "
                f"Fix: restore the split lists, or split at random (data.split: RandomSplit, README "
                f"'Splits')",
            ),
        )
        wanted = sorted(files)
    else:
        wanted = [video_id for video_id in sorted(subsets) if video_id in files]
        for video_id in sorted(set(subsets) - set(files)):
            report(
                issues,
                DataIssue(
                    "missing_video",
                    video_id,
                    str(root / "vgg16_features"),
                    f"CCD clip {video_id} is in the split lists of {root}/vgg16_features but has no "
                    f"video under {root}/videos; dropped. Fix: restore the video or remove it from "
                    f"the list",
                    fatal=True,
                ),
            )
        unlisted = len(set(files) - set(subsets))
        if unlisted:
            report(
                issues,
                DataIssue(
                    "unlisted_video",
                    "*",
                    str(root / "vgg16_features"),
                    f"{unlisted} CCD videos under {root}/videos are in no split list of "
                    f"{root}/vgg16_features; left out (the lists decide which clips are used)",
                ),
            )
    usable = []
    for video_id in wanted:
        kind, number = video_id.split("_", 1)
        if kind == "crash" and number not in lines:
            report(
                issues,
                DataIssue(
                    "missing_annotation",
                    video_id,
                    str(files[video_id]),
                    f"CCD crash video {files[video_id]} has no usable line in {labels_path}; "
                    f"dropped. Fix: add its line ({LINE_FORMAT})",
                    fatal=True,
                ),
            )
            continue
        usable.append(video_id)
    return sorted(usable, key=lambda video_id: (not video_id.startswith("crash"), video_id))


def _crash_record(
    video_id: str,
    path: Path,
    fps: float,
    count: int,
    line: CrashLine,
    labels_path: Path,
    synthetic: bool,
    subset: str | None,
    issues: list[DataIssue] | None,
) -> VideoRecord:
    """A crash clip's record: its anomaly from the first to after the last frame labelled 1, clipped to its frames."""
    if count != len(line.labels):
        report(
            issues,
            DataIssue(
                "label_count",
                video_id,
                str(path),
                f"CCD video {path} has {count} frames, its line {line.line} of {labels_path} "
                f"{len(line.labels)} frame labels; label i is frame i, labels past the video are "
                f"ignored",
            ),
        )
    positive = [i for i, value in enumerate(line.labels) if value]
    start, end = clip_span(video_id, path, positive[0], positive[-1] + 1, count, issues)
    return VideoRecord(
        video_id,
        "ccd",
        path,
        "video",
        fps,
        count,
        start,
        end,
        "crash",
        line.ego,
        line.night,
        synthetic=synthetic,
        subset=subset,
        group=line.youtube_id,
    )


# ----------------------------------------------------------------------------- the source


class CcdSource(VideoFolderSource):
    """CCD clips under ``root`` (``conf/data/source/ccd.yaml``), labelled ``ccd``; ``root``, ``filters`` and
    ``cache_dir`` as :class:`~riskvision.data.sources.base.VideoFolderSource`."""

    root_key, root_holds = ROOT_KEY, LAYOUT

    def index(self, root: Path, issues: list[DataIssue]) -> list[VideoRecord]:
        return build_ccd_index(root, self.cache_dir, issues, write_cache=not self.read_only)
