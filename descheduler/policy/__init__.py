"""DeschedulerPolicy files: what they hold once loaded, how they are read and checked, and their schema.

- ``types``: the loaded policy (``Policy``, ``Profile``, ``Limits``), the extension-point names,
  and ``ArgsSpec``/``Specs``, what the loader must know about each plugin;
- ``argspec``: plugin arguments described once, as frozen dataclasses: decoded with every problem
  and its path, rendered as JSON Schema, listed for ``tensile-deschedule plugins``;
- ``loading``: ``parse_policy`` maps upstream ``descheduler/v1alpha2`` to ``types``, applies
  defaults, runs each plugin's ``validate`` and raises one ``PolicyError`` with every problem;
  ``load_policy_file`` is its only I/O;
- ``schema``: the JSON Schema of policy files, generated from the same specs.

A leaf: it imports no framework, evictor or plugin. The loader and the schema take the plugin
specs as a parameter (the framework's ``Registry`` is one), so the package is tested on plain data.
"""
