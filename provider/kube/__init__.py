"""What the provider's controllers use to follow and change clusters.

- ``informer``: one LIST+WATCH loop per resource, keeping a local store and calling a handler per event;
- ``workqueue``: a de-duplicating, delaying queue of object keys that a controller drains;
- ``reachability``: a ``Kube`` that remembers whether its cluster answers, and logs outages once.

Nothing here knows about pods, nodes or admission; the controllers in ``provider.node`` and
``provider.pods`` and the webhook in ``provider.webhook`` build on it.
"""
