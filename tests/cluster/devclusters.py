"""Start the test environment's three clusters and leave them running (manual work, demos, benchmarks).

    python tests/cluster/devclusters.py up [--root DIR] [--upper-nodes N]
    python tests/cluster/devclusters.py down [--root DIR]

Prints each cluster's kubeconfig path and how to stop them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cluster import binaries, clusters

DEFAULT_ROOT = Path.home() / ".cache" / "tensile" / "devclusters"
NAMES = ("upper", "lower-a", "lower-b")


def up(root: Path, upper_nodes: int) -> int:
    binaries.ensure()
    if (root / "clusters").exists() and any((root / "clusters").iterdir()):
        print(f"clusters already exist under {root}; run 'down' first", file=sys.stderr)
        return 1
    started = time.monotonic()
    specs = [
        clusters.ClusterSpec("upper", clusters.default_lower_nodes("upper", upper_nodes) if upper_nodes else ()),
        clusters.ClusterSpec("lower-a", clusters.default_lower_nodes("a")),
        clusters.ClusterSpec("lower-b", clusters.default_lower_nodes("b")),
    ]
    running = clusters.start_clusters(specs, root=root)
    print(f"3 clusters up in {time.monotonic() - started:.1f}s")
    for name, cluster in running.items():
        print(f"  {name:8} {cluster.apiserver_url}  kubeconfig: {cluster.kubeconfig}")
    print(f"kubectl:   {binaries.locate().kubectl}")
    print(f"stop with: python {Path(__file__).resolve()} down --root {root}")
    return 0


def down(root: Path) -> int:
    bins = binaries.locate()
    for name in NAMES:
        cluster = clusters.Cluster(
            name,
            root,
            root / "clusters" / name / "kubeconfig.yaml",
            "",
            bins,
            {"KWOK_WORKDIR": str(root), "PATH": "/usr/bin:/bin"},
        )
        cluster.stop()
    print(f"stopped clusters under {root}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"working directory (default {DEFAULT_ROOT})")
    parser.add_argument("--upper-nodes", type=int, default=0, help="kwok nodes to add to the upper cluster")
    args = parser.parse_args()
    return up(args.root, args.upper_nodes) if args.action == "up" else down(args.root)


if __name__ == "__main__":
    sys.exit(main())
