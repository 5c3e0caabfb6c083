"""What the end-to-end tests share: our commands as real processes, workloads, failing servers.

- ``providers``: tensile-virtual-node as a process (start, kill, logs, metrics) and pod helpers;
- ``webhooks``: the admission webhook as a process, and its configuration;
- ``tensile_env``: an upper cluster with virtual nodes over lower clusters, ready to use;
- ``workloads``: Deployments and pods the descheduler tests place and evict;
- ``failing_servers``: servers that misbehave on purpose (silent, closing, garbage).
"""
