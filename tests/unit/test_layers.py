"""The packages import one way: cli -> service -> aws / docker / registry -> model, and no module cycle.

Every import counts, at the top of a module or inside a function or a TYPE_CHECKING block: a lazy
import is still a dependency, only a cheaper one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ecrtool

SOURCE = Path(ecrtool.__file__).parent
# a package may import its own modules and those of the packages ranked below it, never a sibling
RANK = {"model": 0, "aws": 1, "docker": 1, "registry": 1, "service": 2, "cli": 3}
TOP = {"ecrtool", "ecrtool.__main__"}  # the package itself (its version) and `python -m ecrtool`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The ecrtool modules NAME imports (a `from package import module` names the module)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
                for alias in node.names
            )
    return {item for item in found if item in MODULES and item != name}


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_every_module_belongs_to_a_layer() -> None:
    assert sorted(name for name in MODULES if layer(name) is None and name not in TOP) == []


def test_imports_go_down_only() -> None:
    wrong = []
    for name in MODULES:
        mine = layer(name)
        for target in imports(name):
            theirs = layer(target)
            if mine is None or theirs is None or theirs == mine:
                continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_the_package_itself_imports_nothing() -> None:
    assert imports("ecrtool") == set()


def test_no_import_cycle() -> None:
    graph = {name: imports(name) for name in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("package", sorted(RANK))
def test_each_package_says_what_it_owns_and_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((SOURCE / package / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert "import" in doc.lower() and len(doc) > 80


def test_the_checker_sees_a_wrong_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a model module importing the service must be caught: the checks above are not vacuous
    bad = tmp_path / "bad.py"
    bad.write_text("from ecrtool.service import copy\nimport ecrtool.cli.main\n")
    monkeypatch.setitem(MODULES, "ecrtool.model.bad", bad)
    assert imports("ecrtool.model.bad") == {"ecrtool.service.copy", "ecrtool.cli.main"}
