"""The shared surface named in descheduler/__init__.py is the one the import contract enforces."""

from __future__ import annotations

import configparser
import importlib
import pkgutil
from pathlib import Path

import descheduler

CONTRACTS = Path(__file__).resolve().parents[2] / ".importlinter"


def top_level_modules() -> set[str]:
    return {f"descheduler.{info.name}" for info in pkgutil.iter_modules(descheduler.__path__)} - {
        "descheduler.__main__"
    }


def test_every_shared_module_exists() -> None:
    for name in descheduler.SHARED_SURFACE:
        importlib.import_module(name)


def test_the_contract_forbids_exactly_the_modules_outside_the_shared_surface() -> None:
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS)
    forbidden = set(parser["importlinter:contract:provider-uses-shared-surface"]["forbidden_modules"].split())
    assert forbidden == top_level_modules() - set(descheduler.SHARED_SURFACE)
