"""Decoding errors of :mod:`descheduler.wire` in the user's terms: the field's path as in the
object (``metadata.labels``) and what is wrong (``each value must be a string, got an
integer``), never msgspec's wording or a Python type name."""

from __future__ import annotations

import re

import msgspec


class ObjectError(ValueError):
    """An object that does not have the shape tensile reads: the field's path and what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
    "datetime": "an RFC 3339 timestamp",
}
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`(?:, got `(?P<got>[^`]+)`)?(?P<rest>.*)$")
_REQUIRED = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_RELATIVE = re.compile(r"^(?P<path>[A-Za-z][\w.\[\]/-]*): (?P<message>.*)$", re.DOTALL)


def problem_of(exc: msgspec.ValidationError | msgspec.DecodeError) -> tuple[str, str]:
    """(field path such as ``metadata.labels``, message such as ``values must be strings, got an integer``)."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any text
    message, path = match.group("message"), (match.group("path") or "").lstrip(".")
    relative = _RELATIVE.match(message)
    if relative is not None:  # raised by a __post_init__ with its own path
        path = _join(path, relative.group("path"))
        return path, relative.group("message")
    required = _REQUIRED.match(message)
    if required is not None:
        return _join(path, required.group("field")), "required"
    in_map = path.endswith("[...]")
    path = path.removesuffix("[...]")
    expected = _EXPECTED.match(message)
    if expected is not None:
        message = _expected(expected)
        if in_map:
            message = "each value " + message
    elif message.startswith("Invalid enum value"):
        message = "unknown value " + message.removeprefix("Invalid enum value ")
    elif "RFC3339" in message:
        message = "must be an RFC 3339 timestamp such as 2024-01-31T12:00:00Z"
    return path, message


def _expected(match: re.Match[str]) -> str:
    # "or null" is true but unhelpful: null only ever means "unset".
    types = [t.strip() for t in match.group("want").split("|") if t.strip() != "null"] or ["null"]
    wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
    rest = match.group("rest").strip()
    if "with a timezone" in rest:
        return "must be an RFC 3339 timestamp with a time zone, such as 2024-01-31T12:00:00Z"
    if match.group("got") is None:
        if "length" in rest:
            return "must not be empty"
        return f"must be {wanted} {rest}".strip()
    got = _TYPE_WORDS.get(match.group("got"), match.group("got"))
    return f"must be {wanted}, got {got}"


def _join(base: str, rest: str) -> str:
    if not base:
        return rest
    return f"{base}{rest}" if rest.startswith("[") else f"{base}.{rest}"
