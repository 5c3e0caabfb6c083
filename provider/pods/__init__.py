"""Pods bound to the virtual node, mirrored into the lower cluster, and what they need there.

Controllers (I/O, one work queue each), around pure planners:

- ``controller``: :class:`PodController`: upper pod changes -> ``mirror.plan`` -> create, update or
  delete the lower mirror;
- ``status_sync``: :class:`StatusSync`: the mirror's status onto the upper pod (its own queue);
- ``copies``: :class:`CopiesController`: lower copies of the ConfigMaps and Secrets mirrors use,
  and their collection once unused (further reflectors, such as Services, go beside it);
- ``caches``: the two pod caches the three read, and what makes a lower pod ours;
- ``mirror``, ``status``, ``deps``: the pure planners (plain dicts in, actions and patches out).
"""
