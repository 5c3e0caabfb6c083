"""``python -m descheduler`` is ``tensile-deschedule``."""

from descheduler.cli import main

main()
