"""``kubectl tensile ...``: the ``kubectl-tensile`` console script, so kubectl runs tensile as a plugin.

kubectl finds ``kubectl-tensile`` on ``PATH`` and hands it every argument after ``tensile``,
its own flags included. This module only rewrites that command line into
``tensile-deschedule``'s and calls :func:`descheduler.cli.main`; it has no options of its own:

* ``kubectl tensile deschedule ARGS`` runs ``tensile-deschedule ARGS`` (``--kubeconfig`` and
  ``--context`` mean what they mean to kubectl; ``-n NS`` shows that namespace's part of a dry run);
* ``kubectl tensile explain POD -n NS`` runs ``tensile-deschedule explain NS/POD``; without ``-n``
  the namespace is the kubeconfig context's, as kubectl picks it (``default`` when it names none);
* ``validate``, ``plugins`` and ``schema`` pass through.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from descheduler import cli
from descheduler.errors import TensileError
from descheduler.kube import client

PROG = "kubectl tensile"
COMMANDS = ("deschedule", "explain", "validate", "plugins", "schema")
USAGE = f"""usage: {PROG} COMMAND [ARGS]

Commands:
  deschedule   plan (--dry-run) or run one descheduling cycle: tensile-deschedule's flags
  explain      why a pod is or is not chosen: {PROG} explain POD [-n NAMESPACE]
  validate     check policy files
  plugins      list the plugins and their arguments
  schema       print the DeschedulerPolicy JSON Schema

kubectl's --kubeconfig, --context and -n/--namespace are honoured."""


def translate(args: Sequence[str], *, context_namespace: str = "default") -> list[str]:
    """tensile-deschedule's arguments for ``kubectl tensile`` ARGS. ValueError for a bad command line."""
    if not args:
        raise ValueError(f"a command is needed: {', '.join(COMMANDS)} (see {PROG} --help)")
    command, rest = args[0], list(args[1:])
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r} for {PROG}: expected one of {', '.join(COMMANDS)}")
    if command == "deschedule":
        return rest
    if command != "explain":
        return [command, *rest]
    namespace, rest = _take_namespace(rest)
    pods = [i for i, arg in enumerate(rest) if not arg.startswith("-") and not _is_option_value(rest, i)]
    if pods:
        i = pods[0]
        if "/" not in rest[i]:
            rest[i] = f"{namespace or context_namespace}/{rest[i]}"
        elif namespace is not None:
            raise ValueError(f"{rest[i]} names its namespace: leave out -n {namespace}")
    return ["explain", *rest]


_VALUED = frozenset(
    {"--policy-config-file", "--snapshot", "--kubeconfig", "--context", "-o", "--output", "--logging-format"}
)


def _is_option_value(args: Sequence[str], i: int) -> bool:
    return i > 0 and args[i - 1] in _VALUED


def _take_namespace(args: list[str]) -> tuple[str | None, list[str]]:
    """Remove ``-n NS``, ``-nNS``, ``--namespace NS`` and ``--namespace=NS``; the last one given wins."""
    namespace, kept, i = None, [], 0
    while i < len(args):
        arg = args[i]
        if arg in ("-n", "--namespace"):
            if i + 1 >= len(args):
                raise ValueError(f"{arg} needs a namespace")
            namespace, i = args[i + 1], i + 2
            continue
        if arg.startswith("--namespace="):
            namespace = arg.split("=", 1)[1]
        elif arg.startswith("-n") and not arg.startswith("--"):
            namespace = arg[2:].lstrip("=")
        else:
            kept.append(arg)
        i += 1
    return namespace, kept


def _context_namespace(args: Sequence[str]) -> str:
    """The namespace of the kubeconfig context the command line picks, as kubectl reads it."""
    path = _value_of(args, "--kubeconfig")
    context = _value_of(args, "--context")
    return client.default_namespace(path, context)


def _value_of(args: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"], ["help"]):
        print(USAGE)
        sys.exit(0)
    try:
        namespace = _context_namespace(args) if args[:1] == ["explain"] else "default"
        translated = translate(args, context_namespace=namespace)
    except TensileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    cli.main(translated, prog_name=f"{PROG} deschedule" if args[0] == "deschedule" else PROG)
