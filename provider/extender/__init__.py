"""``tensile-virtual-node extender``: a kube-scheduler extender that binds a pod to a virtual node only
when one node of its lower cluster can run it.

Owns the extender wire format (``api``), what is known of each virtual node's lower cluster (``board``:
the fit summaries the providers publish on Leases), the decisions (``decide``, over the pure
:mod:`provider.fit`), the HTTPS server (``server``) and their wiring (``app``). Reads the upper
cluster only; writes nothing.
"""

from provider.extender.app import Extender, Settings, check

__all__ = ["Extender", "Settings", "check"]
