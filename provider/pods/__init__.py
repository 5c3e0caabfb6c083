"""Pods bound to the virtual node, mirrored into the lower cluster, and what they need there.

Controllers (I/O, one work queue each), around pure planners:

- ``controller``: :class:`PodController`: upper pod changes -> ``mirror.plan`` -> create, update or
  delete the lower mirror;
- ``status_sync``: :class:`StatusSync`: the mirror's status onto the upper pod (its own queue);
- ``copies``: :class:`CopiesController`: lower copies of the ConfigMaps and Secrets mirrors use,
  and their collection once unused;
- ``reflection``: :class:`ServiceReflection`: the informers of upper Services and EndpointSlices and
  of their lower copies, feeding ``services``' :class:`ServiceReflector` (lower Service copies of the
  namespaces this node mirrors pods of, shared by used-by) and ``endpoint_sync``'s
  :class:`EndpointWriter` (their lower EndpointSlices and, optionally, Endpoints);
- ``caches``: the two pod caches they read, and what makes a lower pod ours;
- ``mirror``, ``status``, ``deps``, ``service_plan``, ``endpoint_plan``: the pure planners (plain
  dicts in, actions and bodies out).
"""
