"""The watcher process (`manage.py watch_clusters`), all of it: watcher (leader, namespaces,
services), informers (list + watch per kind per namespace), lease (leader election), publisher
(row messages to the live streams), mirror (release messages onto the service stream) and
podlogs (logs of a viewed release's pods). It reads Kubernetes and writes Redis; it wakes the
worker through the release pipeline's enqueue, never changes a release itself."""
