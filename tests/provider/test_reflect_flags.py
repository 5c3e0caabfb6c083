"""``--reflect``/``--no-reflect``: what is reflected, and how a bad combination is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from descheduler.errors import InputError
from provider import config, flags

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("reflect", "no_reflect", "expected"),
    [
        ((), (), {"services"}),
        (("endpoints",), (), {"services", "endpoints"}),
        (("services",), (), {"services"}),
        (("endpoints", "endpoints"), (), {"services", "endpoints"}),
        ((), ("services",), set()),
        ((), ("endpoints",), {"services"}),
        (("endpoints",), ("services",), {"endpoints"}),
    ],
    ids=[
        "default: services",
        "--reflect endpoints adds",
        "--reflect services is the default",
        "repeated is once",
        "--no-reflect services: nothing",
        "--no-reflect endpoints: already off",
        "endpoints without services (refused by the config)",
    ],
)
def test_reflected_is_the_default_plus_reflect_minus_no_reflect(
    reflect: tuple[str, ...], no_reflect: tuple[str, ...], expected: set[str]
) -> None:
    assert flags.reflected(reflect, no_reflect) == frozenset(expected)


@pytest.mark.parametrize(
    ("reflect", "no_reflect", "named"),
    [
        (("services",), ("services",), "services"),
        (("endpoints",), ("endpoints",), "endpoints"),
        (("services", "endpoints"), ("endpoints", "services"), "endpoints, services"),
    ],
)
def test_a_kind_both_reflected_and_not_is_one_line(
    reflect: tuple[str, ...], no_reflect: tuple[str, ...], named: str
) -> None:
    with pytest.raises(InputError) as caught:
        flags.reflected(reflect, no_reflect)
    message = str(caught.value)
    assert "\n" not in message
    assert "--reflect" in message and "--no-reflect" in message and named in message


def test_the_config_defaults_to_services() -> None:
    assert config.ProviderConfig(lower_kubeconfig="lower.yaml").reflect == frozenset({"services"})


@pytest.mark.parametrize(
    "reflect",
    [frozenset(), frozenset({"services"}), frozenset({"services", "endpoints"})],
    ids=["nothing", "services", "services and endpoints"],
)
def test_the_config_takes_every_valid_set(reflect: frozenset[str]) -> None:
    assert config.ProviderConfig(lower_kubeconfig="lower.yaml", reflect=reflect).reflect == reflect


@pytest.mark.parametrize(
    ("reflect", "words"),
    [
        (frozenset({"pods"}), ("'pods'", "services", "endpoints")),
        (frozenset({"services", "configmaps", "pods"}), ("'configmaps', 'pods'",)),
        (frozenset({"endpoints"}), ("'endpoints' needs 'services'",)),
    ],
    ids=["unknown kind", "unknown kinds, sorted", "endpoints without services"],
)
def test_the_config_refuses_unknown_kinds_and_endpoints_without_services(
    reflect: frozenset[str], words: tuple[str, ...]
) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.ProviderConfig(lower_kubeconfig="lower.yaml", reflect=reflect)
    assert [p.path for p in caught.value.problems] == ["reflect"]
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_the_flags_name_the_problem_of_the_config() -> None:
    with pytest.raises(InputError) as caught:
        flags.provider_config(lower_kubeconfig="lower.yaml", reflect=frozenset({"endpoints"}))
    assert str(caught.value).startswith("--reflect: ")


def python_m_provider(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "provider", *args], capture_output=True, text=True, timeout=60, env=env, cwd=REPO
    )


def test_the_real_command_lists_the_flags_and_refuses_a_bad_kind_in_one_line() -> None:
    shown = python_m_provider("--help")
    assert shown.returncode == 0, shown.stderr
    assert "--reflect [services|endpoints]" in shown.stdout
    assert "--no-reflect [services|endpoints]" in shown.stdout
    refused = python_m_provider("--client-kubeconfig", "lower.yaml", "--reflect", "pods")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: "), refused.stderr
    assert "'--reflect'" in refused.stderr and "'pods'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_real_command_refuses_a_kind_both_reflected_and_not_in_one_line() -> None:
    refused = python_m_provider(
        "--client-kubeconfig", "lower.yaml", "--reflect", "services", "--no-reflect", "services"
    )
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == "error: --reflect and --no-reflect both name services; give one\n"
