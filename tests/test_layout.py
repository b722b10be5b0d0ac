"""The tree shows the architecture: floors whose imports point only down, one import package, and
docs whose code references resolve."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).parents[1]
PACKAGE = "dropout_ports"
FLOORS = ("common", "backends", "benchmarks")  # bottom to top
PORTS = ("numpy", "torch", "jax", "tensorflow")
# Inside benchmarks/, bottom to top; a loose module (readme) sits on the top floor with the CLI.
HARNESS = ("results", "runs", "report", "suites", "conformance", "studies", "cli")
MAX_LINES = 300


def modules() -> dict[str, Path]:
    """Every module of the three floors, by its name under dropout_ports."""
    found = {}
    for floor in FLOORS:
        for path in sorted((ROOT / floor).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(path: Path) -> set[str]:
    """The project modules a module imports (as floor-relative names: common.config, ...)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}: relative import (every import names dropout_ports)"
            base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    local = {n.removeprefix(f"{PACKAGE}.") for n in names if n.startswith(f"{PACKAGE}.")}
    return local & set(modules())


def rank(name: str) -> tuple[int, int]:
    """(floor, the harness's subfloor): an import must not point to a higher rank."""
    floor, _, rest = name.partition(".")
    sub = rest.split(".")[0]
    if floor != "benchmarks" or not sub:
        return FLOORS.index(floor), 0
    return FLOORS.index(floor), HARNESS.index(sub) if sub in HARNESS else len(HARNESS)


def test_imports_point_only_down_and_never_in_a_cycle():
    graph = {name: imported(path) for name, path in modules().items()}
    upward = [f"{a} -> {b}" for a, deps in graph.items() for b in deps if rank(b) > rank(a)]
    assert not upward, upward
    cycles = [f"{a} <-> {b}" for a, deps in graph.items() for b in deps if a < b and a in graph[b]]
    assert not cycles, cycles


def test_common_imports_no_port_and_no_registry():
    """The floor is framework-free: fit takes a backend module, never a name to look up."""
    for name, path in modules().items():
        if name.startswith("common"):
            assert not {d for d in imported(path) if not d.startswith("common")}, name


def test_every_module_outside_the_harness_subfloors_is_accounted_for():
    """benchmarks/ keeps at most two loose modules; everything else lives in a subpackage."""
    loose = [p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name != "__init__.py"]
    assert len(loose) <= 2, loose
    unknown = {n.split(".")[1] for n in modules() if n.count(".") >= 2 and n.startswith("benchmarks.")}
    assert unknown <= set(HARNESS), unknown - set(HARNESS)


def test_no_backend_name_branches_outside_backends():
    """The harness asks a port what it has; it never compares with a framework's name."""
    found = []
    for name, path in modules().items():
        if not name.startswith("benchmarks"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                values = [node.left, *node.comparators]
                if any(isinstance(v, ast.Constant) and v.value in PORTS for v in values):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_files_stay_under_the_line_limit():
    long = {str(p.relative_to(ROOT)): n for p in [*modules().values(), *(ROOT / "tests").glob("*.py")]
            if (n := len(p.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert not long, long


def test_the_ports_mirror_each_other():
    """Keras 3's layout: the same modules, and the same names for the same things, in every port."""
    for port in PORTS:
        files = {p.name for p in (ROOT / "backends" / port).glob("*.py")}
        assert {"__init__.py", "ops.py", "masks.py", "models.py", "trainer.py"} <= files, port
        text = (ROOT / "backends" / port / "__init__.py").read_text()
        for name in ("keep_mask", "ScratchNet", "Trainer", "PEERS"):
            assert f'"{name}"' in text, (port, name)


def test_pyproject_installs_every_package_under_one_name():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        f"{PACKAGE}.{'.'.join(p.parent.relative_to(ROOT).parts)}"
        for floor in FLOORS
        for p in (ROOT / floor).rglob("__init__.py")
    }
    assert set(config["packages"]) == folders
    assert config["package-dir"] == {f"{PACKAGE}.{floor}": floor for floor in FLOORS}


def test_no_module_is_loaded_under_two_names():
    """Everything imports as dropout_ports.*; a bare `import common` would load a second copy."""
    for floor in FLOORS:
        package = importlib.import_module(f"{PACKAGE}.{floor}")
        for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.{floor}."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except ImportError as err:  # a framework this machine lacks (the ray extra, say)
                pytest.skip(f"{info.name}: {err}")
    bare = sorted(m for m in sys.modules if m.split(".")[0] in FLOORS)
    assert not bare, bare


# `dir/file.py` or `dir/file.py::name` in prose; docs/runs holds generated files only.
CODE_REFERENCE = re.compile(r"`((?:backends|common|benchmarks|tests|scripts)/[\w/]+\.(?:py|sh))(?:::(\w+))?`")


DEFINITION = r"^\s*(?:async def|def|class)\s+{name}\b|^{name}\s*[:=]"  # a function, class or constant


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_every_code_reference_in_the_docs_resolves(doc):
    text = (ROOT / doc if doc == "README.md" else ROOT / "docs" / doc).read_text()
    missing = []
    for path, name in CODE_REFERENCE.findall(text):
        target = ROOT / path
        if not target.is_file():
            missing.append(path)
        elif name and not re.search(
            rf"^\s*(def|class|async def)\s+{name}\b|^{name}\s*[:=]", target.read_text(), re.M
        ):
            missing.append(f"{path}::{name}")
    dotted = re.findall(rf"`({PACKAGE}\.[\w.]+)`", text)
    for reference in dotted:
        if not _resolves(reference):
            missing.append(reference)
    assert not missing, f"{doc} names code that does not exist: {missing}"


def _resolves(dotted: str) -> bool:
    """A dotted module, or a name in a module (functions and classes: attribute lookups)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(value, attribute):
                return False
            value = getattr(value, attribute)
        return True
    return False
