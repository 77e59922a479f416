"""The web process's side of live views: WebSocket consumers and their routes, the hub that
tails the live streams once per process for all its viewers, and the snapshots a (re)connecting
viewer starts from. The watcher process (dashboard/watch/) writes what these read."""
