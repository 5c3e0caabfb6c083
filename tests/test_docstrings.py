"""Every package says what it owns and every public class what it is: a walk over the source with
``ast`` (nothing is imported), naming each class or package that lacks its docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["descheduler", "provider"]
"""Top-level packages held to the rule (folders under the repository root)."""


def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def undocumented_classes(package: Path) -> list[str]:
    """``file:line: ClassName`` for every public class (nested ones too) without a docstring."""
    missing = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(_parsed(path)):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and not ast.get_docstring(node):
                missing.append(f"{path.relative_to(package.parent)}:{node.lineno}: {node.name}")
    return missing


def undocumented_packages(package: Path) -> list[str]:
    """Every folder of modules whose ``__init__.py`` is missing or has no docstring."""
    folders = sorted({path.parent for path in package.rglob("*.py")})
    missing = []
    for folder in folders:
        init = folder / "__init__.py"
        if not init.exists():
            missing.append(f"{folder.relative_to(package.parent)}/: no __init__.py")
        elif not ast.get_docstring(_parsed(init)):
            missing.append(f"{init.relative_to(package.parent)}: no docstring")
    return missing


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_class_has_a_docstring(package: str) -> None:
    missing = undocumented_classes(ROOT / package)
    assert not missing, "public classes without a docstring:\n" + "\n".join(missing)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_a_docstring(package: str) -> None:
    missing = undocumented_packages(ROOT / package)
    assert not missing, "packages without a docstring:\n" + "\n".join(missing)


def test_the_walk_names_what_is_missing(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "loose").mkdir()
    (package / "__init__.py").write_text('"""A package."""\n')
    (package / "sub" / "__init__.py").write_text("")
    (package / "loose" / "mod.py").write_text("")
    (package / "mod.py").write_text(
        'class Told:\n    """Says what it is."""\n\n\nclass Silent:\n    def inner(self) -> None:\n'
        "        class Nested:\n            pass\n\n\nclass _Private:\n    pass\n"
    )
    assert undocumented_classes(package) == ["pkg/mod.py:5: Silent", "pkg/mod.py:7: Nested"]
    assert undocumented_packages(package) == ["pkg/loose/: no __init__.py", "pkg/sub/__init__.py: no docstring"]
