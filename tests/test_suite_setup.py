"""How the suite runs (issue 29, item 7): README's test command is .ci/run's, under pytest-xdist with the slowest
tests listed; module-scoped fixtures keep their tests on one worker; build_once builds a shared folder once."""

from __future__ import annotations

import importlib.util
import re
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_command(text: str) -> str:
    """The one line that runs pytest, its comment dropped."""
    lines = [line.split("#")[0].strip() for line in text.splitlines() if line.startswith("python -m pytest")]
    assert len(lines) == 1, lines
    return lines[0]


def test_readme_and_ci_run_the_same_parallel_test_command():
    readme, ci = (pytest_command((ROOT / name).read_text()) for name in ("README.md", ".ci/run"))
    assert readme == ci == "python -m pytest -n auto --durations=20"
    project = (ROOT / "pyproject.toml").read_text()  # (tomllib is Python 3.11+)
    assert re.search(r'^addopts = ".*--dist loadgroup.*"$', project, re.MULTILINE)
    dev = re.search(r"^dev = \[\n(.*?)^\]", project, re.MULTILINE | re.DOTALL).group(1)
    assert re.search(r'^    "pytest-xdist>=', dev, re.MULTILINE)


def root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest_under_test", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeItem:
    def __init__(self, nodeid: str, *fixtures: tuple[str, str]) -> None:
        self.nodeid, self.marks = nodeid, []
        defs = {f"f{i}": [SimpleNamespace(scope=scope, baseid=baseid)] for i, (scope, baseid) in enumerate(fixtures)}
        self._fixtureinfo = SimpleNamespace(name2fixturedefs=defs)

    def add_marker(self, mark) -> None:
        self.marks.append(mark)


def test_tests_sharing_a_module_scoped_fixture_of_their_module_form_one_xdist_group():
    module = "tests/inference/test_stream.py"
    items = [
        FakeItem(f"{module}::test_a", ("module", module), ("function", "")),
        FakeItem(f"{module}::test_b", ("session", "tests/inference"), ("function", "")),
        FakeItem("tests/inference/test_cli.py::test_c", ("module", "tests/inference")),  # a conftest's: no group
    ]
    config = SimpleNamespace(pluginmanager=SimpleNamespace(hasplugin=lambda name: name == "xdist"))
    root_conftest().pytest_collection_modifyitems(config, items)
    assert [[(m.name, m.args) for m in item.marks] for item in items] == [[("xdist_group", (module,))], [], []]


def test_build_once_builds_one_folder_for_concurrent_askers_and_again_after_a_failure(build_once):
    builds = []

    def build(folder: Path) -> None:
        builds.append(folder)
        time.sleep(0.2)  # the other askers arrive while it builds
        (folder / "made").write_text("x")

    folders = []
    askers = [threading.Thread(target=lambda: folders.append(build_once("shared", build))) for _ in range(3)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert len(builds) == 1 and len(set(folders)) == 1 and (folders[0] / "made").read_text() == "x"

    def failing(folder: Path) -> None:
        (folder / "half").write_text("x")
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError, match="build failed"):
        build_once("broken", failing)
    assert (build_once("broken", build) / "made").is_file() and not (folders[0].parent / "broken" / "half").exists()
