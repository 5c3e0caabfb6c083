from __future__ import annotations

import dataclasses

import pytest

from descheduler import errors
from provider import config


def test_defaults_match_a_kubelet_and_lower_cluster_follows_node_name() -> None:
    cfg = config.ProviderConfig(lower_kubeconfig="lower.yaml", node_name="vk-a")
    assert cfg.lower_cluster == "vk-a"
    assert (cfg.upper_kubeconfig, cfg.upper_cluster, cfg.taint_enabled) == (None, "upper", True)
    assert (cfg.kubelet_address, cfg.kubelet_port, cfg.lease_seconds) == ("127.0.0.1", 10250, 40)
    assert (cfg.renew_interval, cfg.resync_interval, cfg.log_format) == (10.0, 60.0, "text")


def test_explicit_lower_cluster_is_kept() -> None:
    cfg = config.ProviderConfig(lower_kubeconfig="lower.yaml", lower_cluster="dc-2")
    assert cfg.lower_cluster == "dc-2"


def test_config_is_frozen() -> None:
    cfg = config.ProviderConfig(lower_kubeconfig="lower.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.node_name = "other"  # type: ignore[misc]


def test_every_field_has_a_docstring() -> None:
    source = config.__loader__.get_source(config.__name__)  # type: ignore[union-attr]
    assert source is not None
    for field in dataclasses.fields(config.ProviderConfig):
        annotated = source.split(f"    {field.name}: ", 1)[1]
        assert annotated.splitlines()[1].strip().startswith('"""'), field.name


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"lower_kubeconfig": ""}, "lower_kubeconfig"),
        ({"node_name": "Virtual_Node"}, "node_name"),
        ({"node_name": "a" * 64, "lower_cluster": "dc"}, "node_name"),
        ({"upper_cluster": ""}, "upper_cluster"),
        ({"lower_cluster": "bad value"}, "lower_cluster"),
        ({"kubelet_port": 0}, "kubelet_port"),
        ({"kubelet_port": 65536}, "kubelet_port"),
        ({"renew_interval": 40.0}, "renew_interval"),
        ({"renew_interval": 0.0}, "renew_interval"),
        ({"lease_seconds": 5}, "renew_interval"),
        ({"resync_interval": 0.0}, "resync_interval"),
        ({"resync_interval": float("nan")}, "resync_interval"),
        ({"resync_interval": float("inf")}, "resync_interval"),
        ({"resync_interval": 99999999999.0}, "resync_interval"),
        ({"renew_interval": float("nan")}, "renew_interval"),
        ({"workers": 0}, "workers"),
        ({"workers": 100000}, "workers"),
        ({"tls_cert_file": "cert.pem"}, "tls_key_file"),
        ({"tls_key_file": "key.pem"}, "tls_cert_file"),
        ({"log_format": "xml"}, "log_format"),
    ],
    ids=[
        "empty lower kubeconfig -> rejected",
        "node name not a DNS label -> rejected",
        "node name over 63 chars -> rejected",
        "empty upper cluster id -> rejected",
        "lower cluster not a label value -> rejected",
        "port 0 -> rejected",
        "port 65536 -> rejected",
        "renewal not shorter than the lease -> rejected",
        "renewal 0 -> rejected",
        "lease shorter than the default renewal -> renewal rejected",
        "resync 0 -> rejected",
        "resync NaN -> rejected",
        "resync infinite -> rejected",
        "resync of 3000 years -> rejected",
        "renewal NaN -> rejected",
        "no workers -> rejected",
        "100000 workers -> rejected",
        "certificate without key -> rejected",
        "key without certificate -> rejected",
        "unknown log format -> rejected",
    ],
)
def test_bad_setting_is_named_by_its_path(overrides: dict[str, object], path: str) -> None:
    settings: dict[str, object] = {"lower_kubeconfig": "lower.yaml", **overrides}
    with pytest.raises(config.ConfigError) as caught:
        config.ProviderConfig(**settings)  # type: ignore[arg-type]
    assert [p.path for p in caught.value.problems] == [path]
    assert str(caught.value).startswith(f"{path}: ")


def test_all_problems_are_reported_at_once_as_input_error() -> None:
    with pytest.raises(errors.InputError) as caught:
        config.ProviderConfig(lower_kubeconfig="", kubelet_port=-1, log_format="xml")  # type: ignore[arg-type]
    assert isinstance(caught.value, config.ConfigError)
    assert [p.path for p in caught.value.problems] == ["lower_kubeconfig", "kubelet_port", "log_format"]


def test_zero_lease_also_fails_the_renewal_bound() -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.ProviderConfig(lower_kubeconfig="lower.yaml", lease_seconds=0)
    assert [p.path for p in caught.value.problems] == ["lease_seconds", "renew_interval"]
