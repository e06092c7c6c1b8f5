"""Fixtures of the evaluation tests: synthetic run folders made in tmp_path (see evaluation_fakes.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from evaluation_fakes import write_fake_run


@pytest.fixture
def fake_runs(tmp_path) -> Callable[..., list[Path]]:
    """``fake_runs()`` -> two run folders (binary, multiclass) under tmp_path/runs."""

    def make() -> list[Path]:
        return [
            write_fake_run(tmp_path / "runs" / "bilstm", "binary", 2.0, 0),
            write_fake_run(tmp_path / "runs" / "resnet3d101", "multiclass", 1.0, 1),
        ]

    return make
