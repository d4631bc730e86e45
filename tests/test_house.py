"""The structure of the package: no import cycle among its modules (imports inside functions
count), a config validates without torch, and Opacus loads only for DP-GAN."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_imports() -> dict[str, set[str]]:
    """ganguard module -> the ganguard modules it imports, anywhere in its source."""
    files = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (SRC / "ganguard").rglob("*.py")}  # fmt: skip

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {f"{node.module}.{a.name}" for a in node.names}
        resolved = {resolve(t) for t in targets if t.startswith("ganguard")}
        # a module importing its own package (its parent __init__) is not a cycle of its own
        graph[module] = {r for r in resolved
                         if r and r != module and not module.startswith(r + ".")}  # fmt: skip
    return graph


def test_there_is_no_import_cycle() -> None:
    graph = module_imports()
    assert "ganguard.config" in graph and "ganguard.train" in graph
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")


def test_the_cycle_check_finds_a_cycle() -> None:
    """So the test above can fail."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter(graph).static_order())


def loaded_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running `code`."""
    listing = "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    script = f"{code}\nimport sys\n{listing}"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_validating_a_config_needs_neither_torch_nor_opacus() -> None:
    loaded = loaded_after(
        "from ganguard.config import config_from_dict\n"
        "config_from_dict({'method': {'name': 'dpgan', 'target_epsilon': 10}})"
    )
    assert "ganguard" in loaded and "pydantic" in loaded
    assert "torch" not in loaded and "opacus" not in loaded


def test_opacus_loads_only_when_dp_gan_is_used() -> None:
    assert "opacus" not in loaded_after("import ganguard, ganguard.audit, ganguard.train")
    assert "opacus" in loaded_after("from ganguard.methods import method_class\n"
                                    "method_class('dpgan')")  # fmt: skip


def test_the_api_names_the_functions_not_their_modules() -> None:
    """`ganguard.train` and `ganguard.audit` stay the functions once their modules are loaded."""
    import ganguard
    import ganguard.audit
    import ganguard.evaluate
    import ganguard.train  # noqa: F401

    assert callable(ganguard.train) and ganguard.train.__module__ == "ganguard.train"
    assert callable(ganguard.audit) and callable(ganguard.evaluate)
    assert ganguard.load_run.__module__ == "ganguard.runs"


def test_every_imported_package_is_declared() -> None:
    """Each third-party package src/ imports is a dependency in pyproject.toml (Ray: an extra)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((SRC.parent / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["ray"]
    declared = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in wanted}
    distribution = {"sklearn": "scikit-learn", "yaml": "pyyaml"}  # import name -> package name
    imported = set()
    for path in (SRC / "ganguard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "ganguard"}
    assert {"torch", "numpy", "scipy", "opacus"} <= third_party  # the scan sees imports
    missing = {distribution.get(m, m) for m in third_party} - declared
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
