"""The package's layout holds: imports point one way, and one module owns precision.

docs/ARCHITECTURE.md draws the layers; this test is what keeps the drawing true.
Every ``import`` in every module counts, including those inside functions.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "snnbench"

#: Layers from the bottom up; a module may import from its own layer and those listed.
ALLOWED = {
    "core": {"core"},
    "task": {"core", "task"},
    "measure": {"core", "task", "measure"},
    "regress": {"core", "measure", "regress"},
    "history": {"core", "measure", "regress", "history"},
    "render": {"core", "measure", "regress", "history", "render"},
    "studies": {"core", "task", "measure", "regress", "history", "render", "studies"},
    "cli": {"core", "task", "measure", "regress", "history", "render", "studies", "cli"},
    "api": {"core", "task", "measure", "regress", "history", "render", "studies", "cli", "api"},
}
CORE = {"errors", "jax_compat", "jax_config", "precision"}
#: Studies are independent of each other: none imports another.
STUDIES = {"tradeoffs", "profile", "noise_study"}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__init__", "__main__"):
        return "api"
    return "core" if parts[1] in CORE else parts[1]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> set[str]:
    found = set()
    package = module.split(".")[:-1] if not path.name == "__init__.py" else module.split(".")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + [base]).strip(".")
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {name for name in found if name.split(".")[0] == "snnbench"}


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    layer = _layer(module)
    for imported in _imports(module, MODULES[module]):
        if imported not in MODULES and imported.rsplit(".", 1)[0] in MODULES:
            imported = imported.rsplit(".", 1)[0]  # `from pkg import name` of a non-module
        target = _layer(imported)
        assert target in ALLOWED[layer], f"{module} ({layer}) imports {imported} ({target})"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) == "studies"))
def test_studies_do_not_import_each_other(module):
    own = module.split(".")[2]
    for imported in _imports(module, MODULES[module]):
        parts = imported.split(".")
        if len(parts) > 2 and parts[1] == "studies" and parts[2] in STUDIES:
            assert parts[2] == own, f"{module} imports another study: {imported}"


def test_only_the_precision_module_touches_the_x64_flag():
    owners = [m for m, path in MODULES.items() if "jax_enable_x64" in path.read_text()]
    assert owners == ["snnbench.precision"]


def test_the_layer_check_would_catch_an_upward_import(tmp_path):
    upward = tmp_path / "bad.py"
    upward.write_text("def f():\n    from snnbench.cli import main\n")
    imported = _imports("snnbench.task.bad", upward)
    assert "snnbench.cli" in imported and "cli" not in ALLOWED[_layer("snnbench.task.bad")]


def test_every_layer_is_documented():
    text = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text()
    for layer in ("task", "measure", "regress", "history", "render", "studies", "cli"):
        assert f"`snnbench/{layer}/`" in text, layer
    for module in CORE:
        assert f"`{module}.py`" in text, module
