"""Root of tensile's error types (callers catch these, never library exceptions) and the exit
statuses both commands share."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_RUNTIME = 1
"""A runtime failure: an API error, a failed plugin or eviction, a port already taken."""
EXIT_INPUT = 2
"""Bad input (policy, snapshot, flags, kubeconfig): nothing was sent to any cluster."""


class TensileError(Exception):
    """Base class of every error tensile raises on purpose."""


class InputError(TensileError):
    """Bad input from the user (policy, snapshot, flags, kubeconfig): exit status 2."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input document, at a dotted/indexed path.

    A ``warning`` marks input that upstream accepts leniently (an unknown value it ignores
    at run time, a config for a plugin nobody enables): tensile accepts it too and says so;
    ``validate --strict`` treats warnings as errors.
    """

    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProblemsError(InputError):
    """An input document has one or more problems; all of them are reported at once."""

    def __init__(self, problems: list[Problem], *, source: str = "") -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        """One line per problem, each naming the document, for printing."""
        where = f"{self.source}: " if self.source else ""
        return [f"{where}{problem}" for problem in self.problems]


class PolicyError(ProblemsError):
    """A policy has one or more problems; all of them are reported at once."""


class SnapshotError(ProblemsError):
    """A snapshot file or some of its objects cannot be used; every bad object is reported."""

    @classmethod
    def single(cls, message: str, *, source: str = "") -> SnapshotError:
        return cls([Problem("", message)], source=source)
