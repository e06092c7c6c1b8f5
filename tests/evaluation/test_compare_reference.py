"""compare.py's named reference run (issue 26, item 7): every other run is paired against it, whatever the order
the runs were found in; a name that matches no run, or several, lists the runs."""

from __future__ import annotations

import pytest

from riskvision.evaluation.report import comparison_table, load_runs, reference_first
from riskvision.runs import RunMismatchError


def test_the_named_reference_run_comes_first_and_is_paired_against(fake_runs):
    runs = load_runs(fake_runs())
    assert [run.folder.name for run in runs] == ["bilstm", "resnet3d101"]
    ordered = reference_first(runs, "resnet3d101")  # its folder
    assert [run.folder.name for run in ordered] == ["resnet3d101", "bilstm"]
    assert reference_first(runs, ordered[0].name) == ordered  # its name
    assert reference_first(runs, None) == runs
    table = comparison_table(ordered, n_boot=10)
    assert list(table.columns)[-1] == f"{ordered[0].name} − {ordered[1].name}"


def test_a_reference_that_matches_no_run_lists_the_runs(fake_runs):
    runs = load_runs(fake_runs())
    with pytest.raises(RunMismatchError, match=r"reference='mvit' matches 0 of the runs \(.*\). Fix: reference="):
        reference_first(runs, "mvit")


def test_a_zoo_of_eleven_runs_keeps_distinct_colours_and_one_chance_line(tmp_path):
    from evaluation_fakes import write_fake_run

    from riskvision.evaluation.report import roc_pr_figure, run_colour

    runs = load_runs([write_fake_run(tmp_path / f"model{k:02d}", "binary", 0.5 + 0.2 * k, 0) for k in range(11)])
    assert len({str(run_colour(k, 11)) for k in range(11)}) == 11 and run_colour(3, 6) == "C3"
    figure = roc_pr_figure(runs)
    roc_ax, pr_ax = figure.axes
    assert len({str(line.get_color()) for line in roc_ax.get_lines()[:11]}) == 11
    labels = [text.get_text() for text in pr_ax.get_legend().get_texts()]
    assert len(labels) == 13 and sum(label.startswith("chance: crash fraction") for label in labels) == 1
    assert sum(label.startswith("95% bands") for label in labels) == 1  # one band entry for every run's band
