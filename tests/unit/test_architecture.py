"""The dependency rules of DESIGN.md §1, checked on the source (a broken rule fails here)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "perflab"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _package_files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


def test_nothing_imports_the_cli() -> None:
    for path in SRC.rglob("*.py"):
        if "cli" in path.relative_to(SRC).parts:
            continue
        assert not any(n.startswith("perflab.cli") for n in _imports(path)), path


@pytest.mark.parametrize("package", ["stats", "model"])
def test_pure_base_imports_no_engine_and_no_io(package: str) -> None:
    forbidden_ours = ("perflab.load", "perflab.store", "perflab.report", "perflab.cli")
    forbidden_io = {"asyncio", "socket", "subprocess", "pathlib", "io", "uvloop", "pyarrow"}
    for path in _package_files(package):
        names = _imports(path)
        assert not any(n.startswith(forbidden_ours) for n in names), path
        assert not names & forbidden_io, (path, names & forbidden_io)


def test_report_never_imports_the_engine() -> None:
    for path in _package_files("report"):
        assert not any(n.startswith("perflab.load") for n in _imports(path)), path


def test_export_uses_only_the_pure_base() -> None:
    allowed = ("perflab.stats", "perflab.model", "perflab.errors", "perflab.lazy", "perflab.export")
    for path in _package_files("export"):
        ours = {n for n in _imports(path) if n.startswith("perflab")}
        assert all(n.startswith(allowed) or n == "perflab" for n in ours), (path, ours)


def test_detect_uses_stats_model_and_store_only() -> None:
    allowed = ("perflab.stats", "perflab.model", "perflab.store", "perflab.errors")
    allowed += ("perflab.lazy", "perflab.detect")
    for path in _package_files("detect"):
        ours = {n for n in _imports(path) if n.startswith("perflab")}
        assert all(n.startswith(allowed) for n in ours), (path, ours)


def test_bench_uses_stats_model_and_store_only() -> None:
    allowed = ("perflab.stats", "perflab.model", "perflab.store", "perflab.errors")
    allowed += ("perflab.lazy", "perflab.environment", "perflab.steal", "perflab.bench")
    for path in _package_files("bench"):
        ours = {n for n in _imports(path) if n.startswith("perflab")}
        assert all(n.startswith(allowed) for n in ours), (path, ours)


def test_capacity_uses_the_base_the_engine_and_the_report_only() -> None:
    allowed = ("perflab.stats", "perflab.model", "perflab.store", "perflab.load")
    allowed += ("perflab.errors", "perflab.lazy", "perflab.report", "perflab.capacity")
    for path in _package_files("capacity"):  # ``from perflab import load`` names "perflab"
        ours = {n for n in _imports(path) if n.startswith("perflab")}
        assert all(n.startswith(allowed) or n == "perflab" for n in ours), (path, ours)


def test_profile_is_an_engine_over_the_base_and_the_store() -> None:
    """profile -> stats, model, store (its artifacts are run-directory files); never report."""
    allowed = ("perflab.stats", "perflab.model", "perflab.store", "perflab.errors")
    allowed += ("perflab.lazy", "perflab.profile")
    for path in _package_files("profile"):
        ours = {n for n in _imports(path) if n.startswith("perflab")}
        assert all(n.startswith(allowed) for n in ours), (path, ours)


def test_ui_serves_stored_results_and_never_drives_the_engine() -> None:
    """ui -> store, report; plus the exporters' live folding and the compare facade."""
    allowed = ("perflab.store", "perflab.report", "perflab.model", "perflab.stats")
    allowed += ("perflab.errors", "perflab.lazy", "perflab.export", "perflab.compare", "perflab.ui")
    for path in _package_files("ui"):
        ours = {n for n in _imports(path) if n.startswith("perflab")}
        assert all(n.startswith(allowed) for n in ours), (path, ours)


@pytest.mark.parametrize(
    "module",
    [
        "perflab.export",
        "perflab.model",
        "perflab.stats",
        "perflab.store",
        "perflab.load",
        "perflab.demo",
        "perflab.ui",
        "perflab.detect",
        "perflab.capacity",
        "perflab.profile",
    ],
)
def test_all_matches_the_namespace(module: str) -> None:
    mod = importlib.import_module(module)
    exported = getattr(mod, "__all__", [])
    assert exported, f"{module} has no __all__"
    for name in exported:
        assert getattr(mod, name) is not None, f"{module}.{name} is missing"
