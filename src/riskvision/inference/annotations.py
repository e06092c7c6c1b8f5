"""Annotated anomaly spans drawn on a source's timeline (``scripts/predict_video.py annotations=PATH``).

``annotations`` may be:

* a DoTA annotation (``annotations/<clip>.json``: ``anomaly_start``, ``anomaly_end`` frames, end exclusive) or a
  folder of them: the clip is the file's stem;
* a DoTA metadata file (``metadata_{train,val}.json``: ``{clip: {"anomaly_start", "anomaly_end", ...}}``);
* a CSV with the columns ``video,anomaly_start_s,anomaly_end_s`` (seconds; ``video`` a file name or stem).

DoTA frame numbers become seconds at ``fps`` (DoTA's frames are 10 fps). A source is matched by its file stem,
its file name, or, for a DoTA frame folder ``<clip>/images``, by ``<clip>``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskvision.data.layout import DataFileError, check_fields, load_json

__all__ = ["CSV_COLUMNS", "read_anomaly_spans", "span_for"]

CSV_COLUMNS = ("video", "anomaly_start_s", "anomaly_end_s")
SPAN_FIELDS = {"anomaly_start": (int, True), "anomaly_end": (int, True)}


def read_anomaly_spans(path: str | Path, fps: float = 10.0) -> dict[str, tuple[float, float]]:
    """``{clip or video: (start_s, end_s)}`` from ``path`` (see the module docstring).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataFileError: a file that is not one of the formats, a missing or mistyped field, or ``start > end``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"annotations={path} does not exist. Fix: pass a DoTA annotation JSON, a folder of "
            f"them, a DoTA metadata JSON or a CSV with columns {','.join(CSV_COLUMNS)}"
        )
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise DataFileError(path, "holds no .json annotation", "point annotations= at DoTA's annotations/ folder")
        return {file.stem: _span(load_json(file), file, file.stem, fps) for file in files}
    if path.suffix.lower() == ".csv":
        return _csv_spans(path)
    content = load_json(path)
    if "anomaly_start" in content:  # one clip's annotation
        return {path.stem: _span(content, path, path.stem, fps)}
    return {clip: _span(entry, path, clip, fps) for clip, entry in content.items()}


def span_for(spans: dict[str, tuple[float, float]], source: str | Path) -> tuple[float, float] | None:
    """The span of ``source`` (matched by stem, name, or the clip of a ``<clip>/images`` folder), else ``None``."""
    path = Path(str(source))
    keys = [path.stem, path.name] + ([path.parent.name] if path.name == "images" else [])
    return next((spans[key] for key in keys if key in spans), None)


def _span(entry: object, path: Path, clip: str, fps: float) -> tuple[float, float]:
    entry = check_fields(entry, SPAN_FIELDS, path, f"the annotation of clip {clip}")
    start, end = entry["anomaly_start"], entry["anomaly_end"]
    if start > end:
        raise DataFileError(
            path,
            f"says anomaly_start={start} > anomaly_end={end} for clip {clip}",
            "correct the span [anomaly_start, anomaly_end) (frames, end exclusive)",
        )
    return start / fps, end / fps


def _csv_spans(path: Path) -> dict[str, tuple[float, float]]:
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataFileError(
            path, f"is not a readable CSV ({error})", f"write it with the columns {','.join(CSV_COLUMNS)}"
        )
    missing = [column for column in CSV_COLUMNS if column not in table.columns]
    if missing:
        raise DataFileError(
            path,
            f"lacks the column(s) {missing} (it has {list(table.columns)})",
            f"write it with the columns {','.join(CSV_COLUMNS)} (seconds)",
        )
    spans = {}
    for row in table.itertuples(index=False):
        start, end = pd.to_numeric(pd.Series([row.anomaly_start_s, row.anomaly_end_s]), errors="coerce")
        if not (start <= end):  # NaN fails too
            raise DataFileError(
                path,
                f"gives video {row.video!r} the span [{row.anomaly_start_s}, {row.anomaly_end_s}]",
                "give two numbers of seconds with start <= end",
            )
        spans[Path(str(row.video)).stem] = (float(start), float(end))
    return spans
