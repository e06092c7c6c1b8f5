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
