"""python -m provider is tensile-virtual-node."""

from provider.cli import main

main()
