"""Layers: views sit on top. The API, the services and the engine never import a view."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The engine is recovery/engine.py today; a package of that name counts the same.
LOWER_LAYERS = ("recovery/api", "recovery/services", "recovery/engine", "recovery/engine.py")
VIEWS = "recovery.views"


def imports_of_views(source: str) -> list[str]:
    """The modules under recovery.views that this source imports, however it spells it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from recovery import views` names the package in the alias, not the module.
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [name for name in names if name == VIEWS or name.startswith(VIEWS + ".")]
    return found


def lower_layer_modules() -> list[Path]:
    modules: list[Path] = []
    for place in LOWER_LAYERS:
        path = ROOT / place
        if path.is_file():
            modules.append(path)
        elif path.is_dir():
            modules += sorted(path.rglob("*.py"))
    return modules


@pytest.mark.parametrize(
    "source",
    [
        "from recovery.views.audit import filtered",
        "import recovery.views.pages",
        "from recovery import views",
        "from recovery.views import pages as p",
    ],
)
def test_each_spelling_of_a_view_import_is_caught(source):
    assert imports_of_views(source)


def test_an_import_of_a_service_is_not_taken_for_a_view():
    assert not imports_of_views("from recovery.services import recoveries\nimport recovery.viewsx")


def test_no_module_of_the_api_services_or_engine_imports_a_view():
    modules = lower_layer_modules()
    assert any("recovery/api" in str(path) for path in modules)  # the walk found the layers
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in modules
        if (names := imports_of_views(path.read_text()))
    }
    assert offenders == {}
