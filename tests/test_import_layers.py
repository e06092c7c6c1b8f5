"""The package's import graph: no cycle, and no arrow up the layer order that docs/architecture.md lists.

The graph is read from the source (``ast``), not from a running interpreter: every ``import`` / ``from ... import``
of a ``riskvision`` module is an arrow, at module level, inside a function or under ``if TYPE_CHECKING:`` alike
(a function-local import that hides a cycle is still a cycle). A package's ``__init__.py`` is a module of its own
(``riskvision.inference``); ``from riskvision.x import name`` points at the submodule ``riskvision.x.name`` when
there is one, else at ``riskvision.x``. The layer order is read from docs/architecture.md's "Layers" list, its one
definition.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "src" / "riskvision"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

Graph = dict[str, set[str]]


def module_files(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package by dotted name (``riskvision.inference`` for ``inference/__init__.py``)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> Graph:
    """``module -> the package's modules it imports`` (see the module docstring for what counts)."""
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets |= {_known(alias.name, modules) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in modules else _known(base, modules))
    return {target for target in targets if target is not None and target != name}


def _known(dotted: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``dotted`` that is a module of the package (``None``: outside it)."""
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def read_layers(text: str) -> list[list[str]]:
    """The layers of docs/architecture.md's ``## Layers`` section, bottom first: each numbered line's backticked
    names, as dotted module prefixes (``data`` -> ``riskvision.data``; ``__init__``: the root package itself)."""
    section = re.search(r"^## Layers\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if section is None:
        raise AssertionError(f"{ARCHITECTURE} has no '## Layers' section. Fix: restore it (the layer order)")
    layers = []
    for item in re.findall(r"^\d+\. .*(?:\n[ \t]+\S.*)*", section.group(1), flags=re.M):  # + indented lines
        names = re.findall(r"`([^`]+)`", item)
        layers.append(["riskvision" if n == "__init__" else f"riskvision.{n}" for n in names])
    return layers


def layer_of(module: str, layers: list[list[str]]) -> int | None:
    """The index of the layer whose entry is ``module``'s longest listed prefix (``None``: not listed)."""
    best, found = -1, None
    for number, entries in enumerate(layers):
        for entry in entries:
            matches = module == entry or (entry != "riskvision" and module.startswith(entry + "."))
            if matches and len(entry) > best:
                best, found = len(entry), number
    return found


def upward_arrows(graph: Graph, layers: list[list[str]]) -> list[str]:
    """``a (layer i) -> b (layer j)`` for every arrow from a lower layer to a higher one (unlisted modules: skipped,
    :func:`test_every_module_has_a_layer` names them)."""
    found = []
    for source in sorted(graph):
        for target in sorted(graph[source]):
            low, high = layer_of(source, layers), layer_of(target, layers)
            if low is not None and high is not None and high > low:
                found.append(f"{source} (layer {low + 1}) -> {target} (layer {high + 1})")
    return found


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(module_files())


@pytest.fixture(scope="module")
def layers() -> list[list[str]]:
    return read_layers(ARCHITECTURE.read_text(encoding="utf-8"))


def test_no_import_cycle(graph):
    found = cycles(graph)
    lines = [
        f"{' <-> '.join(c)}: " + "; ".join(f"{a} -> {b}" for a in c for b in sorted(graph[a]) if b in c) for c in found
    ]
    assert not found, "import cycles (break each: move what both sides need below them):\n" + "\n".join(lines)


def test_every_module_has_a_layer(graph, layers):
    unlisted = [module for module in sorted(graph) if layer_of(module, layers) is None]
    assert not unlisted, (
        f"modules in no layer of {ARCHITECTURE.name}: {unlisted}. Fix: add each (or its package) "
        "to the '## Layers' list"
    )
    stale = [
        entry
        for entries in layers
        for entry in entries
        if not any(m == entry or m.startswith(entry + ".") for m in graph)
    ]
    assert not stale, f"{ARCHITECTURE.name} lists layers for modules that do not exist: {stale}. Fix: update the list"


def test_no_upward_import(graph, layers):
    found = upward_arrows(graph, layers)
    assert not found, (
        "imports against the layer order of docs/architecture.md (a module imports only its own "
        "layer and the layers below):\n" + "\n".join(found)
    )


def test_the_checks_see_what_they_must(tmp_path):
    """A cycle through a function-local import and a TYPE_CHECKING import, relative imports, a package's
    ``__init__`` and an upward arrow are all found (the checks above can fail)."""
    package = tmp_path / "riskvision"
    (package / "low").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low" / "__init__.py").write_text("from .a import thing\n")
    (package / "low" / "a.py").write_text("def f():\n    from riskvision.low.b import g\n")
    (package / "low" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from riskvision.low import a\n"
    )
    (package / "high.py").write_text("from riskvision.low import thing\n")
    (package / "bad.py").write_text("from . import high\n")
    graph = import_graph(module_files(package))
    assert graph["riskvision.low"] == {"riskvision.low.a"}
    assert graph["riskvision.bad"] == {"riskvision.high"}
    assert cycles(graph) == [["riskvision.low.a", "riskvision.low.b"]]
    layers = read_layers("# x\n## Layers\n1. floor: `__init__`, `low`,\n   `bad`\n2. top: `high`\n## Next\n3. `no`\n")
    assert layers == [["riskvision", "riskvision.low", "riskvision.bad"], ["riskvision.high"]]
    assert upward_arrows(graph, layers) == ["riskvision.bad (layer 1) -> riskvision.high (layer 2)"]
