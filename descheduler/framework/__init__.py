"""How plugins plug in: the extension points, the handle a plugin is given, the registry and the profile runner.

- ``types``: the extension-point protocols (``DeschedulePlugin``, ``BalancePlugin``,
  ``FilterPlugin``, ``PreEvictionFilterPlugin``) and the ``Handle`` a plugin works through;
- ``registry``: ``PluginSpec`` (the policy's ``ArgsSpec`` plus a factory) and the ``Registry`` of
  one run, a value passed explicitly, never a global;
- ``profile``: builds each profile's plugins once per cycle (``PluginHandle`` wires them to the
  evictor and to the profile's filters) and runs every Deschedule plugin, then every Balance one.

The runner calls ``profile.run_profiles`` once per cycle; plugins import ``types`` and
``registry`` only, and reach the cluster state and the evictor through their handle.
"""
