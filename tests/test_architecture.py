"""The import rules of docs/design.md: each kind of I/O lives in one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "aggregator"

# module (relative to the package) -> imports only it may use
OWNERS = {
    "httpx": {"fetch.py", "pipeline.py"},  # pipeline only passes a transport through
    "sqlite3": {"store.py"},
    "sqlite_utils": {"store.py"},
    "jinja2": {"render.py"},
    "apscheduler": {"scheduler.py"},
    "click": {"cli.py"},
    "feedparser": {"parse.py"},
    "fastfeedparser": {"parse.py"},
    "datasette": {"browse.py"},
    "uvicorn": {"browse.py"},
}
# stage -> stages it must not import (a stage never imports a later one)
ORDER = ["config", "fetch", "parse", "normalise", "text", "cluster", "classify", "store", "render"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_io_library_is_used_only_by_its_owner(library: str) -> None:
    users = {
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if any(n == library or n.startswith(library + ".") for n in _imports(p))
    }
    assert users <= OWNERS[library], f"{library} imported by {sorted(users - OWNERS[library])}"


def test_stages_do_not_import_later_stages() -> None:
    def stage_of(name: str) -> str | None:
        parts = name.split(".")
        if parts[0] != "aggregator" or len(parts) < 2:
            return None
        return parts[1] if parts[1] in ORDER else None

    problems = []
    for path in _modules():
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0].removesuffix(".py")
        if own not in ORDER:
            continue
        for name in _imports(path):
            other = stage_of(name)
            if other and ORDER.index(other) > ORDER.index(own):
                problems.append(f"{rel} imports {name}")
    assert not problems
