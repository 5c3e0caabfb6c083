"""Two fixes to kwok v0.8.0's exec, applied to its source before the test environment builds it.

kwok plays the lower clusters' kubelets. Its exec (``ClusterExec``, a local command) differs from a
real kubelet's in two ways that the exec acceptance tests of the virtual node would otherwise
inherit (docs/design/streaming-findings.md section 4, checked live against the unpatched binary):

1. **Exit codes are lost.** kwok wraps the command's ``*exec.ExitError`` with ``fmt.Errorf``, and
   the CRI streaming server recognises an exit code only by a type assertion to
   ``k8s.io/utils/exec.ExitError``; every failing command becomes an ``InternalError`` and kubectl
   exits 1. The fix turns the error into ``CodeExitError``, as a container runtime reports it.
2. **A command's stdin never ends.** kwok copies the session's stdin into the child's pipe and never
   closes the pipe, so ``sha256sum`` or ``tar x`` wait for EOF forever. The fix closes it when the
   session's stdin ends (kubectl's stdin EOF), as a kubelet's runtime does.

Each patch names the exact text it replaces; a kwok whose source differs fails the build with
that message instead of building something untested. Nothing else of kwok changes.
"""

from __future__ import annotations

from pathlib import Path

PATCH_LEVEL = "tensile1"
"""Part of the cache key of the built kwok: bump it when a patch changes."""

_EXIT_CODE_HELPER = """

// exitCodeError reports a command's exit status the way the CRI streaming server recognises it
// (tensile test-environment patch: kwok v0.8.0 loses it, see tests/cluster/kwok_patches.py).
func exitCodeError(err error) error {
\tvar exitErr *osexec.ExitError
\tif errors.As(err, &exitErr) {
\t\treturn utilexec.CodeExitError{Err: err, Code: exitErr.ExitCode()}
\t}
\treturn err
}
"""

PATCHES: tuple[tuple[str, str, str], ...] = (
    (
        "pkg/utils/exec/exec.go",
        "\t\t\tgo func() {\n\t\t\t\t_, _ = io.Copy(inPipe, opt.In)\n\t\t\t}()",
        "\t\t\tgo func() {\n\t\t\t\t_, _ = io.Copy(inPipe, opt.In)\n\t\t\t\t_ = inPipe.Close()\n\t\t\t}()",
    ),
    (
        "pkg/kwok/server/debugging_exec.go",
        "\tif tty {\n\t\treturn s.execInContainerWithTTY(ctx, cmd, in, stdout, resize)\n\t}\n\n"
        "\treturn s.execInContainer(ctx, cmd, in, stdout, stderr)\n}\n",
        "\tif tty {\n\t\treturn exitCodeError(s.execInContainerWithTTY(ctx, cmd, in, stdout, resize))\n\t}\n\n"
        "\treturn exitCodeError(s.execInContainer(ctx, cmd, in, stdout, stderr))\n}\n" + _EXIT_CODE_HELPER,
    ),
    (
        "pkg/kwok/server/debugging_exec.go",
        'import (\n\t"context"\n\t"fmt"\n',
        'import (\n\t"context"\n\t"errors"\n\t"fmt"\n\tosexec "os/exec"\n\n\tutilexec "k8s.io/utils/exec"\n',
    ),
)


class PatchError(RuntimeError):
    """kwok's source is not what a patch expects."""


def apply(source: Path) -> None:
    """Patch the kwok module source tree at ``source`` in place."""
    for relative, old, new in PATCHES:
        path = source / relative
        text = path.read_text()
        if text.count(old) != 1:
            raise PatchError(f"{path}: the text this patch replaces is not there exactly once; kwok changed?")
        path.write_text(text.replace(old, new))
