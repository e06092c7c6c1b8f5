"""README is a manual whose measured figures come from docs/results.json (scripts/benchmark_quickstart.py, i.e.
benchmarks/quickstart.py, writes both); it stays short and its links lead somewhere (issue 29 item 8, issue 32)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks import quickstart

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_quotes_exactly_the_figures_of_the_results_file():
    results = json.loads((ROOT / "docs" / "results.json").read_text())
    assert set(results) == set(quickstart.ENTRIES)
    for entry in results.values():  # every figure says when, on what and under which load it was measured
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["date"]) and entry["machine"] and "load" in entry
    block = quickstart.readme_block(README.read_text())
    assert block == quickstart.render_table(results), (
        "README's results table differs from docs/results.json: run python scripts/benchmark_quickstart.py --render"
    )


def test_a_changed_figure_in_the_results_file_no_longer_matches_readme():
    results = json.loads((ROOT / "docs" / "results.json").read_text())
    results["train_bilstm"]["value"] = 0.903  # e.g. a re-measurement that README has not been given
    assert quickstart.readme_block(README.read_text()) != quickstart.render_table(results)


def test_parse_best_reads_the_best_epoch_table_train_log_ends_with():
    log = (
        "[2026-12-02 10:00:00][riskvision][INFO] - Epoch 12/12: train/loss 0.1 | val/f1 0.9 (best 1.0 at epoch 9)\n"
        "[2026-12-02 10:00:01][riskvision][INFO] - Best epoch 9 by val/f1 (validation split, one value per "
        "validation clip):\n  val/ap        1.000\n  val/f1        1.000\n  val/loss      0.101\n"
        "[2026-12-02 10:00:02][riskvision][INFO] - Best checkpoint (val/f1=1.0000): x/epoch_009.ckpt\n"
    )
    assert quickstart.parse_best(log) == ("val/f1", 1.0, 9)
    with pytest.raises(ValueError, match="no 'Best epoch N by METRIC' table"):
        quickstart.parse_best("Epoch 1/12: train/loss 0.5")


def test_readme_is_a_short_manual_whose_local_links_exist():
    text = README.read_text()
    assert len(text.splitlines()) <= 350
    links = re.findall(r"\]\(((?!https?://|#)[^)#]+)(?:#[^)]*)?\)", text)
    assert links and [link for link in links if not (ROOT / link).exists()] == []
    assert (ROOT / "mkdocs.yml").is_file()
