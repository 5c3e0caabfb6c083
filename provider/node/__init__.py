"""The virtual Node itself: registration, heartbeat, status, Lease and the capacity it advertises.

- ``controller``: :class:`NodeController`: one heartbeat thread writing the Node and its status;
- ``lease``: :class:`LeaseController`: the ``kube-node-lease`` Lease, renewed on each beat;
- ``builders``: pure builders of the Node, its conditions and status patch, and the Lease;
- ``capacity``: pure accounting of the lower cluster's free capacity from its nodes and pods.
"""
