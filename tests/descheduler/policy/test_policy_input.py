"""Malformed policy files: each is one clear problem in the user's terms (what and where),
never a crash, a hang or a Python type name; nothing is planned from them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from descheduler.errors import PolicyError
from descheduler.plugins import default_registry
from descheduler.policy.loading import load_policy_file, parse_policy

REGISTRY = default_registry()
ROOT = Path(__file__).resolve().parents[3]
HEADER = "apiVersion: descheduler/v1alpha2\nkind: DeschedulerPolicy\n"
RESTARTS = (
    HEADER
    + "profiles:\n- name: p\n  pluginConfig:\n  - name: RemovePodsHavingTooManyRestarts\n"
    + "    args: {podRestartThreshold: 5}\n"
    + "  plugins: {deschedule: {enabled: [RemovePodsHavingTooManyRestarts]}}\n"
)
PYTHON_WORDS = ("NoneType", "dict", "list", "str", "int", "unhashable", "Traceback", "Error:")


def problems_of_file(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_file(path, registry=REGISTRY)
    return [str(p) for p in info.value.problems]


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, registry=REGISTRY)
    return [str(p) for p in info.value.problems]


def no_python_words(lines: list[str]) -> None:
    for line in lines:
        for word in PYTHON_WORDS:
            assert f" {word} " not in f" {line} ".replace("'", " "), line


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-16", b""), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-32", b""), ("utf-8-sig", b"")],
    ids=["UTF-16 as PowerShell writes it", "UTF-16 LE", "UTF-16 BE", "UTF-32", "UTF-8 with BOM"],
)
def test_policies_in_the_encodings_yaml_allows_load(tmp_path: Path, encoding: str, bom: bytes) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(bom + RESTARTS.encode(encoding))
    policy = load_policy_file(path, registry=REGISTRY)
    assert policy.profiles[0].deschedule == ("RemovePodsHavingTooManyRestarts",)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RESTARTS.replace("p\n", "pé\n").encode("latin-1"), "not UTF-8: byte 0xe9 on line 4 looks like Latin-1"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00", "contains NUL bytes: binary data"),
        (bytes(range(128, 256)) * 4, "not UTF-8"),
    ],
    ids=["Latin-1 text", "a binary", "random high bytes"],
)
def test_other_encodings_are_named(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(data)
    (line,) = problems_of_file(path)
    assert expected in line


def test_deep_nesting_is_refused_with_its_line() -> None:
    (line,) = problems_of(HEADER + "profiles: " + "[" * 500 + "]" * 500 + "\n")
    assert "nested more than 64 levels deep" in line and "line 3" in line


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(9)]
    started = time.monotonic()
    (line,) = problems_of("\n".join(lines) + "\n")
    assert "aliases expand to more than" in line
    assert time.monotonic() - started < 2


def test_a_few_aliases_are_fine() -> None:
    text = RESTARTS.replace("    args: {podRestartThreshold: 5}", "    args: &restarts {podRestartThreshold: 5}")
    parse_policy(text, registry=REGISTRY)


def test_dev_zero_is_refused_after_a_mebibyte() -> None:
    (line,) = problems_of_file(Path("/dev/zero"))
    assert "larger than the 1 MiB allowed" in line


def test_a_50_mb_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(RESTARTS.encode() + b"#" * (50 << 20))
    started = time.monotonic()
    (line,) = problems_of_file(path)
    assert "larger than the 1 MiB allowed" in line
    assert time.monotonic() - started < 2


def test_a_folder_is_not_a_policy(tmp_path: Path) -> None:
    (line,) = problems_of_file(tmp_path)
    assert "is a folder" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEADER + "profiles: []\nprofiles:\n- name: p\n",
            "line 4, column 1: duplicate key 'profiles' (first on line 3)",
        ),
        (
            RESTARTS.replace("podRestartThreshold: 5", "podRestartThreshold: 5, podRestartThreshold: 6"),
            "(first on line 7)",
        ),
    ],
    ids=["a second profiles", "a key twice in a flow mapping"],
)
def test_duplicate_keys_are_refused_with_both_lines(text: str, expected: str) -> None:
    (line,) = problems_of(text)
    assert "duplicate key" in line and expected in line


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("[RemoveFailedPods]", "profiles[0].pluginConfig[0].name: unknown plugin ['RemoveFailedPods']"),
        ("{a: b}", "profiles[0].pluginConfig[0].name: unknown plugin {'a': 'b'}"),
        ("7", "profiles[0].pluginConfig[0].name: unknown plugin 7"),
    ],
    ids=["a list", "a mapping", "a number"],
)
def test_a_plugin_name_of_the_wrong_type_is_an_unknown_plugin(name: str, expected: str) -> None:
    text = HEADER + f"profiles:\n- name: p\n  pluginConfig:\n  - name: {name}\n"
    found = problems_of(text)
    assert any(line.startswith(expected) for line in found), found
    no_python_words(found)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("{podRestartThreshold: 1180591620717411303424}", "must be between -2147483648 and 2147483647 (int32)"),
        ("{podRestartThreshold: 5, states: [CrashLoopBackOff], includingInitContainers: 1}", "must be a boolean"),
    ],
    ids=["2**70 in an int32", "a number where a boolean goes"],
)
def test_arguments_are_checked_as_upstreams_types(args: str, expected: str) -> None:
    found = problems_of(RESTARTS.replace("{podRestartThreshold: 5}", args))
    assert any(expected in line for line in found), found


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("maxNoOfPodsToEvictTotal", "1180591620717411303424", "must be at most 18446744073709551615"),
        ("maxNoOfPodsToEvictPerNode", "-1", "must be >= 0"),
        ("gracePeriodSeconds", "9223372036854775808", "must be at most 9223372036854775807"),
    ],
    ids=["uint overflow", "negative uint", "int64 overflow"],
)
def test_top_level_integers_have_upstreams_ranges(field: str, value: str, expected: str) -> None:
    found = problems_of(RESTARTS + f"{field}: {value}\n")
    assert found == [f"{field}: {expected}, got {value}"] or any(expected in line for line in found), found


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"], ids=["inf", "-inf", "nan"])
def test_thresholds_must_be_finite(value: str) -> None:
    text = HEADER + (
        "profiles:\n- name: p\n  pluginConfig:\n  - name: LowNodeUtilization\n"
        f"    args: {{thresholds: {{cpu: {value}}}, targetThresholds: {{cpu: 50}}}}\n"
        "  plugins: {balance: {enabled: [LowNodeUtilization]}}\n"
    )
    found = problems_of(text)
    assert any("must be a finite number" in line for line in found), found


def test_one_bad_argument_does_not_drag_false_follow_on_problems() -> None:
    text = HEADER + (
        "profiles:\n- name: p\n  pluginConfig:\n  - name: LowNodeUtilization\n"
        "    args: {thresholds: {cpu: true}, targetThresholds: {cpu: 50}}\n"
        "  plugins: {balance: {enabled: [LowNodeUtilization]}}\n"
    )
    assert problems_of(text) == [
        "profiles[0].pluginConfig[0].args.thresholds.cpu: must be a number, got a boolean true"
    ]


def test_huge_values_are_shortened_in_messages() -> None:
    found = problems_of(RESTARTS.replace("states: []", "") + "kind2: " + "x" * 100_000 + "\n")
    assert found and all(len(line) < 400 for line in found), [len(line) for line in found]
    found = problems_of(RESTARTS.replace("{podRestartThreshold: 5}", "{podRestartThreshold: '" + "y" * 100_000 + "'}"))
    assert found and all(len(line) < 400 for line in found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the policy is empty"),
        ("# only a comment\n", "the policy is empty"),
        (RESTARTS + "---\n" + RESTARTS, "holds 2 YAML documents"),
        (HEADER + "profiles:\n- name: p\n  plugins: !!set {a, b}\n", "unsupported YAML tag !!set"),
        (HEADER + "gracePeriodSeconds: 2001-12-14\n" + RESTARTS[len(HEADER) :], "gracePeriodSeconds: must be"),
    ],
    ids=["empty file", "only a comment", "two documents", "a YAML set", "a timestamp stays a string"],
)
def test_other_shapes_of_wrong(text: str, expected: str) -> None:
    found = problems_of(text)
    assert any(expected in line for line in found), found
    no_python_words(found)


def test_a_config_for_a_plugin_the_profile_does_not_enable_is_a_warning() -> None:
    text = RESTARTS.replace(
        "  plugins:", "  - name: RemoveFailedPods\n    args: {minPodLifetimeSeconds: 60}\n  plugins:"
    )
    policy = parse_policy(text, registry=REGISTRY)
    (warning,) = policy.warnings
    assert warning.warning
    assert str(warning) == (
        "profiles[0].pluginConfig[1]: configures RemoveFailedPods, which this profile does not enable;"
        " ignored as upstream does"
    )


def test_every_shipped_policy_loads_without_warnings() -> None:
    for path in sorted((ROOT / "policies").glob("*.yaml")):
        assert load_policy_file(path, registry=REGISTRY).warnings == (), path


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("{matchLabels: {'bad key!': x}}", "key 'bad key!' must be at most 63 letters"),
        ("{matchLabels: {app: 'has space'}}", "value 'has space' must be empty or at most 63"),
        ("{matchLabels: {'Example.COM/app': web}}", "key 'Example.COM/app' its prefix must be a DNS subdomain"),
        ("{matchExpressions: [{key: app, operator: In, values: ['-x']}]}", "value '-x' must be empty"),
    ],
    ids=["key with a space", "value with a space", "upper-case prefix", "value starting with a dash"],
)
def test_label_selectors_are_checked_as_the_api_server_checks_them(selector: str, expected: str) -> None:
    found = problems_of(
        RESTARTS.replace("{podRestartThreshold: 5}", f"{{podRestartThreshold: 5, labelSelector: {selector}}}")
    )
    assert any(expected in line for line in found), found


def test_good_label_selectors_pass() -> None:
    selector = "{matchLabels: {app.kubernetes.io/name: web, tier: ''}, matchExpressions: [{key: x, operator: Exists}]}"
    parse_policy(
        RESTARTS.replace("{podRestartThreshold: 5}", f"{{podRestartThreshold: 5, labelSelector: {selector}}}"),
        registry=REGISTRY,
    )
