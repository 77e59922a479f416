"""What a release keeps of the cluster: pod state changes, events, ReplicaSet scaling."""

from __future__ import annotations

from dashboard.rollout import changes
from tests.rollout.factories import NEW_HASH, event, pod, replicaset


def seen_after(entries, seen=None):
    seen = dict(seen or {})
    for e in entries:
        seen[e.data["key"]] = e.data["state"]
    return seen


def test_it_records_each_pod_state_once_and_again_when_it_changes():
    rs = [replicaset(2, NEW_HASH, replicas=1)]
    creating = pod("p1", waiting=("ContainerCreating", ""), phase="Pending")
    first = changes.diff(pods=[creating], replicasets=rs, events=[], seen={})
    assert [e.message for e in first if e.kind == changes.POD] == [
        "pod p1: Pending (ContainerCreating), 0/1 ready"]
    seen = seen_after(first)
    assert changes.diff(pods=[creating], replicasets=rs, events=[], seen=seen) == []
    running = pod("p1", ready=True)
    again = changes.diff(pods=[running], replicasets=rs, events=[], seen=seen)
    assert [e.message for e in again] == ["pod p1: Running, 1/1 ready"]
    gone = changes.diff(pods=[], replicasets=rs, events=[], seen=seen_after(again, seen))
    assert [(e.kind, e.message) for e in gone] == [(changes.POD, "pod p1: gone")]


def test_it_records_replicaset_scaling_steps():
    seen = seen_after(changes.diff(pods=[], replicasets=[replicaset(2, NEW_HASH, replicas=1)],
                                   events=[], seen={}))
    up = changes.diff(pods=[], replicasets=[replicaset(2, NEW_HASH, replicas=3)], events=[],
                      seen=seen)
    assert [e.message for e in up] == [f"ReplicaSet license-api-{NEW_HASH} (revision 2) scaled to 3"]
    assert up[0].data["replicas"] == 3 and up[0].kind == changes.SCALE


def test_it_records_a_repeating_event_only_when_its_count_doubles():
    scaled = event("license-api", "ScalingReplicaSet", "Scaled up replica set license-api-x to 1",
                   type_="Normal", kind="Deployment", container=None)
    backoff = event("p1", "BackOff", "Back-off restarting failed container")
    first = changes.diff(pods=[], replicasets=[], events=[scaled, backoff], seen={})
    assert [e.data["reason"] for e in first] == ["ScalingReplicaSet", "BackOff"]
    assert first[0].message.startswith("Normal ScalingReplicaSet Deployment/license-api: Scaled up")
    seen = seen_after(first)
    counts = []
    for n in range(2, 10):
        news = changes.diff(pods=[], replicasets=[],
                            events=[event("p1", "BackOff", "Back-off", count=n)], seen=seen)
        seen = seen_after(news, seen)
        counts += [e.data["count"] for e in news]
    assert counts == [2, 4, 8]


def test_it_scopes_events_to_the_release_objects_and_window():
    from datetime import timedelta

    from tests.rollout.factories import T0, iso

    def row(obj, seconds, uid):
        return {"uid": uid, "object": obj, "at": iso(T0 + timedelta(seconds=seconds)),
                "reason": "x", "type": "Normal", "message": ""}

    live = [row("Deployment/license-api", 10, "a"), row("Pod/license-api-7b6c5f5c5-x", 20, "b"),
            row("ReplicaSet/license-api-7b6c5f5c5", 30, "c"),
            row("Deployment/license-api-canary", 10, "d"),  # another Deployment
            row("Pod/redis-0", 10, "e"),  # another workload
            row("Pod/license-api-84d9f6b7c-y", -60, "f"),  # an earlier release's
            row("Pod/license-api-7b6c5f5c5-x", 400, "g")]  # after the release ended
    assert [e["uid"] for e in live if changes.in_scope(e, "license-api", T0,
                                                        T0 + timedelta(seconds=300))] == ["a", "b", "c"]
    kept = [row("Pod/license-api-7b6c5f5c5-x", 20, "b")]
    panel = changes.panel_events(kept, live, deployment="license-api", since=T0,
                                 until=None, active=True)
    assert [e["uid"] for e in panel] == ["a", "b", "c", "g"]
    ended = changes.panel_events(kept, live, deployment="license-api", since=T0,
                                 until=T0 + timedelta(seconds=300), active=False)
    assert [e["uid"] for e in ended] == ["b"]  # a finished release shows what it kept
