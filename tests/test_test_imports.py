"""Test modules share code through tests/support/ and conftest fixtures, never each other.

A test module that imports another (or conftest, or a helper left among the tests) ties the two
together: moving or deleting one breaks the other, and pytest may import a test module twice
under two names. The one exception is tests/conformance, which keeps its own raw client (it
shares no code with the product) and may import its own non-test modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SUPPORT = "tests.support"
CONFORMANCE = "tests.conformance"


def module_name(path: Path) -> str:
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str) -> list[tuple[int, str | None]]:
    """(line, module) of every import of a ``tests`` module; None for a relative import."""
    found: list[tuple[int, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, None))
            elif node.module is not None and node.module.split(".")[0] == "tests":
                if node.module == "tests":  # from tests import x: x is a module
                    found += [(node.lineno, f"tests.{alias.name}") for alias in node.names]
                else:
                    found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name.split(".")[0] == "tests"
            ]
    return found


def allowed(importer: str, module: str | None) -> bool:
    if module is None:
        return False  # relative imports hide which module is meant
    if module == SUPPORT or module.startswith(SUPPORT + "."):
        return True
    if importer.startswith(CONFORMANCE + ".") and module.startswith(CONFORMANCE + "."):
        return not module.rsplit(".", 1)[-1].startswith("test_")
    return False


def violations(path: Path, source: str) -> list[str]:
    importer = module_name(path)
    return [
        f"{path.relative_to(TESTS.parent)}:{line} imports {module or 'a relative module'}"
        for line, module in imported_modules(source)
        if not allowed(importer, module)
    ]


def test_test_modules_import_only_tests_support() -> None:
    found = [
        violation
        for path in sorted(TESTS.rglob("*.py"))
        for violation in violations(path, path.read_text(encoding="utf-8"))
    ]
    assert found == [], "move what is shared into tests/support/:\n" + "\n".join(found)


def test_the_check_catches_each_kind_of_cross_import() -> None:
    bad = (
        "from tests.conftest import unique_comp_id\n"
        "from tests.trading.test_orders import report\n"
        "import tests.integration.mm_helpers\n"
        "from tests import rawfix\n"
        "from .helpers import limit\n"
        "def f():\n"
        "    from tests.observe import FakeClock\n"
    )
    found = violations(TESTS / "trading" / "test_x.py", bad)
    assert [v.split(" imports ")[1] for v in found] == [
        "tests.conftest",
        "tests.trading.test_orders",
        "tests.integration.mm_helpers",
        "tests.rawfix",
        "a relative module",
        "tests.observe",
    ]
    good = "from tests.support.rawfix import frame\nimport tests.support.services\n"
    assert violations(TESTS / "trading" / "test_x.py", good) == []


def test_only_conformance_imports_its_own_modules() -> None:
    source = "from tests.conformance.wire import frame\n"
    assert violations(TESTS / "conformance" / "test_x.py", source) == []
    assert violations(TESTS / "fix" / "test_x.py", source) != []
    test_module = "from tests.conformance.test_wire import x\n"
    assert violations(TESTS / "conformance" / "test_x.py", test_module) != []
