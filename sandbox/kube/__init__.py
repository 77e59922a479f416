"""The Kubernetes half of the sandbox: an API server, a watch hub and simulated controllers.

Layout (one asyncio loop, plain HTTP, aiohttp):

- ``store.py``  objects in memory, one global resourceVersion, a bounded change history
  (watch resume / 410 Expired, and /sandbox/v1/changes commit times);
- ``watch.py``, ``streams.py``  watch fan-out (lines written straight to each socket),
  bookmarks, timeoutSeconds, Table watches; followed container logs;
- ``api.py``, ``strategy.py``  the REST verbs with the API server's rules (defaults,
  generation, /status, /scale, graceful pod deletion, 409 on stale resourceVersion);
- ``patch.py``  strategic merge (merge keys, $setElementOrder, $patch, $retainKeys, null),
  JSON merge patch, JSON patch; anything else 415;
- ``selectors.py``, ``tables.py``, ``discovery.py``, ``openapi.py``, ``proxy.py``;
- ``controllers/``  deployment (shared/reference/kubernetes-semantics.md §3), replicaset,
  scheduler + kubelet (``podsim.py`` state), endpoints, garbage collector; all run as
  passes of one clock-driven loop (``cluster.py``) until nothing changes;
- ``control.py``  /sandbox/v1/ (chaos, metrics, reset, changes, clock/advance, images).

Known gaps: protobuf request bodies are decoded only for what kubectl's typed generators
create (``protobuf.py``: Deployment, ConfigMap, Secret, Namespace); other protobuf bodies
get 415. Pages of a paginated list are cut from the current state, not a snapshot;
server-side apply is a strategic merge without managed fields; no liveness-probe restarts;
no RBAC enforcement (any bearer token may do anything).
"""
