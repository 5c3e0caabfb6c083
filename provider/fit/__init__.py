"""Would a pod fit a lower cluster? The pure part that the provider and the scheduler extender share.

Plain data in, plain data out: no I/O, no threads, no clock (issue 15).

- ``summary``: what a provider publishes about its lower cluster: the Pareto-maximal free and
  allocatable resource vectors of its nodes, grouped by labels (minus hostname) and taints, as
  compact versioned JSON;
- ``needs``: what an upper pod asks of a lower node: its effective requests and the lower
  constraints the mirror will carry;
- ``constraints``: the mirror's swap of the upper node constraints for the stashed lower ones,
  used by :mod:`provider.pods.mirror` to build the mirror and by ``needs`` to judge it;
- ``judge``: the verdict for one virtual node (fits, blocked or never) with a one-line reason,
  and the 0..10 scores of the virtual nodes that pass.
"""
