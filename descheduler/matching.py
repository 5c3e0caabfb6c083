"""Pure scheduling predicates shared by the evictor and the strategies.

Label selectors, node selectors and required node affinity, taints and tolerations,
and resource fit, with the same semantics as kube-scheduler's filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from descheduler.model import Node, Pod, Resources, Taint

LabelSelector = Mapping[str, Any]


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expr.get("key", ""), expr.get("operator", "")
    values = expr.get("values") or ()
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    return False


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything, None nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or ())


def _term_matches(term: Mapping[str, Any], node: Node) -> bool:
    """nodeaffinity's ``nodeSelectorTerm.match``: a term that does not parse matches no node."""
    expressions = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not expressions and not fields:
        return False  # an empty term matches no objects
    if not all(_node_expression_matches(e, node.labels) for e in expressions):
        return False
    return all(_field_matches(f, node.name) for f in fields)


def _node_expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """``labels.Requirement.Matches``, and only for a requirement ``labels.NewRequirement`` accepts.

    The API server checks a node affinity's operators and keys but not its values, so a term
    like ``NotIn ["not a label value"]`` can exist; upstream cannot parse it and the term
    matches nothing. Validity is looked up only when the requirement would match (an invalid
    one fails its term either way).
    """
    key, operator = expr.get("key") or "", expr.get("operator") or ""
    values: Sequence[str] = expr.get("values") or ()
    if operator == "In":
        hit = key in labels and labels[key] in values
    elif operator == "NotIn":
        hit = key not in labels or labels[key] not in values
    elif operator == "Exists":
        hit = key in labels
    elif operator == "DoesNotExist":
        hit = key not in labels
    elif operator in ("Gt", "Lt"):
        have = _go_int64(labels[key]) if key in labels else None
        want = _go_int64(values[0]) if len(values) == 1 else None
        hit = have is not None and want is not None and (have > want if operator == "Gt" else have < want)
    else:
        return False
    return hit and _requirement_valid(key, operator, tuple(values))


def _field_matches(expr: Mapping[str, Any], node_name: str) -> bool:
    """nodeaffinity's field selector: In/NotIn with exactly one value, over {"metadata.name": name}."""
    operator = expr.get("operator")
    values: Sequence[str] = expr.get("values") or ()
    if operator not in ("In", "NotIn") or len(values) != 1:
        return False  # does not parse: the term matches nothing
    field = node_name if expr.get("key") == "metadata.name" else ""  # fields.Set.Get: "" when absent
    return bool((field == values[0]) == (operator == "In"))


_INT64 = range(-(2**63), 2**63)
_GO_INT = re.compile(r"[+-]?[0-9]+")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SELECTOR_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


def _go_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: an optional sign, decimal digits, within int64."""
    if not _GO_INT.fullmatch(text):
        return None
    number = int(text)
    return number if number in _INT64 else None


def _label_key_valid(key: str) -> bool:
    """``content.IsLabelKey``: a name of at most 63 characters, with an optional DNS subdomain prefix."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False  # a second "/" lands in the prefix, which then does not parse
    return 0 < len(name) <= 63 and _LABEL_NAME.fullmatch(name) is not None


def _label_value_valid(value: str) -> bool:
    return len(value) <= 63 and (not value or _LABEL_NAME.fullmatch(value) is not None)


@lru_cache(maxsize=4096)
def _requirement_valid(key: str, operator: str, values: tuple[str, ...]) -> bool:
    """Whether ``labels.NewRequirement(key, operator, values)`` returns no error."""
    if not _label_key_valid(key) or not all(_label_value_valid(v) for v in values):
        return False
    if operator in ("In", "NotIn"):
        return bool(values)
    if operator in ("Exists", "DoesNotExist"):
        return not values
    if operator in ("Gt", "Lt"):
        return len(values) == 1 and _go_int64(values[0]) is not None
    return False


def label_selector_valid(selector: LabelSelector | None) -> bool:
    """Whether ``metav1.LabelSelectorAsSelector`` converts the selector without an error (None does)."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if not _requirement_valid(key, "In", (value,)):  # Equals with one value: the same checks
            return False
    for expr in selector.get("matchExpressions") or ():
        operator = expr.get("operator") or ""
        if operator not in _SELECTOR_OPERATORS:
            return False
        if not _requirement_valid(expr.get("key") or "", operator, tuple(expr.get("values") or ())):
            return False
    return True


def node_selector_terms_match(terms: Iterable[Mapping[str, Any]], node: Node) -> bool:
    """Terms are ORed; expressions within a term are ANDed."""
    return any(_term_matches(term, node) for term in terms)


def required_node_affinity_terms(pod: Pod) -> list[Mapping[str, Any]] | None:
    node_affinity = (pod.affinity or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None  # a NodeSelector with no terms is not None: it selects no node
    return list(required.get("nodeSelectorTerms") or ())


def pod_matches_node_selector(pod: Pod, node: Node) -> bool:
    """nodeSelector plus required node affinity, as the NodeAffinity filter checks."""
    for key, value in pod.node_selector.items():
        if node.labels.get(key) != value:
            return False
    terms = required_node_affinity_terms(pod)
    return terms is None or node_selector_terms_match(terms, node)


_DECIMAL_INTEGER = re.compile(r"0|-?[1-9][0-9]*")


def toleration_tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """core/v1 ``Toleration.ToleratesTaint`` with comparison operators on, as the descheduler calls it.

    An empty key matches every key (the API server only lets it pair with Exists); ``Lt`` and
    ``Gt`` compare canonical decimal integers; an unknown operator tolerates nothing.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key") or ""
    if key and key != taint.key:
        return False
    operator = toleration.get("operator") or "Equal"
    value = toleration.get("value") or ""
    if operator == "Equal":
        return value == taint.value
    if operator == "Exists":
        return True
    if operator in ("Lt", "Gt"):
        limit, actual = _int64(value), _int64(taint.value)
        if limit is None or actual is None:
            return False
        return actual < limit if operator == "Lt" else actual > limit
    return False


def _int64(text: str) -> int | None:
    """The value as upstream's comparison reads it: canonical decimal (no "+", no leading 0) within int64."""
    if not _DECIMAL_INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if number in _INT64 else None


def tolerates(pod: Pod, taint: Taint) -> bool:
    return any(toleration_tolerates(t, taint) for t in pod.tolerations)


def untolerated_taints(pod: Pod, node: Node, effects: tuple[str, ...] = ("NoSchedule", "NoExecute")) -> list[Taint]:
    return [t for t in node.taints if t.effect in effects and not tolerates(pod, t)]


def fits_resources(requests: Resources, free: Resources) -> bool:
    """True when every requested resource is available; unknown resources have 0 free."""
    return all(amount <= 0 or free.get(name, 0) >= amount for name, amount in requests.items())


def insufficient_resources(requests: Resources, free: Resources) -> list[str]:
    return [name for name, amount in requests.items() if amount > 0 and free.get(name, 0) < amount]


def parse_selector_string(text: str) -> dict[str, Any]:
    """Parse the string form of a label selector (``a=b,c!=d,e in (f,g),!h``) into a LabelSelector.

    Raises ValueError naming the requirement that does not parse.
    """
    requirements = _split_requirements(text)
    labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for req in requirements:
        expressions_or_label = _parse_requirement(req)
        if isinstance(expressions_or_label, tuple):
            labels[expressions_or_label[0]] = expressions_or_label[1]
        else:
            expressions.append(expressions_or_label)
    selector: dict[str, Any] = {}
    if labels:
        selector["matchLabels"] = labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def _split_requirements(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_RE = re.compile(rf"(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)")
_NOT_EXISTS_RE = re.compile(rf"!\s*(?P<key>{_KEY})")
_KEY_RE = re.compile(_KEY)
_EQUALITY_RE = re.compile(rf"(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)")


def _parse_requirement(req: str) -> tuple[str, str] | dict[str, Any]:
    if match := _SET_RE.fullmatch(req):
        values = [v.strip() for v in match["values"].split(",") if v.strip()]
        if not values:
            raise ValueError(f"requirement {req!r} needs at least one value")
        return {"key": match["key"], "operator": "In" if match["op"] == "in" else "NotIn", "values": values}
    if match := _NOT_EXISTS_RE.fullmatch(req):
        return {"key": match["key"], "operator": "DoesNotExist"}
    if _KEY_RE.fullmatch(req):
        return {"key": req, "operator": "Exists"}
    if match := _EQUALITY_RE.fullmatch(req):
        if match["op"] == "!=":
            return {"key": match["key"], "operator": "NotIn", "values": [match["value"]]}
        return (match["key"], match["value"])
    raise ValueError(f"cannot parse label selector requirement {req!r}")


# -- label syntax (apimachinery validation.IsQualifiedName / IsValidLabelValue) --------------

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a label key (``[prefix/]name``), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "its prefix must be a DNS subdomain (lower-case, such as example.com)"
    if not name or len(name) > 63 or not _NAME.match(name):
        return "must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value (empty, or a name of at most 63 characters), or None."""
    if value and (len(value) > 63 or not _NAME.match(value)):
        return (
            "must be empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return None
