"""benchmarks.scale (scripts/benchmark_scale.py): the full-size tree it builds from a metadata file is
indexable, and its memory, item, window-count, table and bad-input figures come out of tiny runs."""

from __future__ import annotations

import json
import warnings

import pandas as pd

from benchmarks.scale import (
    TreeSize,
    _datamodule,
    bad_input_lines,
    build_tree,
    item_time_us,
    metrics_table,
    window_counts,
    worker_memory,
)
from riskvision.data.records import DataWarning


def test_tree_from_metadata_indexes_every_clip_and_folder_and_counts_windows(tmp_path):
    entries = {
        f"clip{k}_000001": {
            "num_frames": 30 + k,
            "anomaly_start": 5,
            "anomaly_end": 9,
            "anomaly_class": "ego: lateral",
            "subset": "train",
        }
        for k in range(12)
    }
    (tmp_path / "metadata_train.json").write_text(json.dumps(entries))
    (tmp_path / "metadata_val.json").write_text(json.dumps({"v_000001": {**entries["clip0_000001"], "subset": "val"}}))
    dota, bdd = build_tree(
        TreeSize([tmp_path / "metadata_train.json", tmp_path / "metadata_val.json"], 5, 40), tmp_path / "tree"
    )
    assert (dota / "frames" / "clip3_000001" / "images" / "000032.jpg").stat().st_nlink == 12 * 30 + 66 + 31 + 5 * 40
    assert build_tree(
        TreeSize([tmp_path / "metadata_train.json", tmp_path / "metadata_val.json"], 5, 40), tmp_path / "tree"
    ) == (dota, bdd)  # reused
    dm = _datamodule(dota, bdd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        dm.setup("fit")
    videos = [v for split in dm.videos.values() for v in split]
    assert len(videos) == 18 and sum(v.record.source == "bdd" for v in videos) == 5
    counts = window_counts(dm)
    assert counts["val_windows"] <= 16 * counts["val_videos"] <= counts["val_windows_every_frame"] + 16
    memory = worker_memory(videos)
    assert memory["names"] == sum(30 + k for k in range(12)) + 30 + 200 and "tuple_growth_mb" in memory


def test_item_time_table_and_bad_input_figures(tmp_path):
    assert set(item_time_us(50, items=20)) == {"item_us", "eager_list_us"}
    table = metrics_table(1000)
    assert len(table) == 1000 and table["video_id"].nunique() == 10 and set(table["risk"]) == {0, 1, 2}
    assert isinstance(table, pd.DataFrame) and table["p_crash"].between(0, 1).all()
    bad = bad_input_lines(tmp_path, 40)
    assert bad["issues"] == 41 and bad["warning_lines"] == 2
    assert "40 data issues of kind missing_folder" in bad["example"]
