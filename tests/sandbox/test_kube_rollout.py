"""The simulated deployment controller, ReplicaSet controller and kubelet, seen through the
official client: rolling-update steps, pause, progress deadline, undo, events, pod behaviour."""

from __future__ import annotations

import threading

from kubernetes import client, watch

from tests.sandbox.kube_helpers import (
    NS,
    condition,
    create_ready,
    deployment_body,
    push,
    ready,
    unique,
    wait_for,
)


def _events(core: client.CoreV1Api, kind: str, name: str, reason: str | None = None) -> list:
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    if reason:
        selector += f",reason={reason}"
    items = core.list_namespaced_event(NS, field_selector=selector).items
    return sorted(items, key=lambda e: int(e.metadata.resource_version))


def _log(core: client.CoreV1Api, pod: str, **kw) -> str:
    # The 36.x client returns str(bytes) for log bodies; read them raw (a client quirk).
    return core.read_namespaced_pod_log(pod, NS, _preload_content=False, **kw).data.decode()


def _rs_by_revision(apps: client.AppsV1Api, name: str) -> dict[str, client.V1ReplicaSet]:
    rss = apps.list_namespaced_replica_set(NS, label_selector=f"app={name}").items
    return {rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs for rs in rss}


def test_it_rolls_three_replicas_one_surge_pod_at_a_time_never_below_three_available(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("step")
    d = create_ready(kube_api, sandbox, name)
    old_rs = _rs_by_revision(apps, name)["1"].metadata.name
    available: list[int] = []
    live_pods: list[int] = []
    stop = threading.Event()

    def watch_deployment() -> None:
        w = watch.Watch()
        for ev in w.stream(apps.list_namespaced_deployment, NS, field_selector=f"metadata.name={name}",
                           resource_version=d.metadata.resource_version, timeout_seconds=20):
            if stop.is_set():
                w.stop()
                break
            available.append(ev["object"].status.available_replicas or 0)

    def watch_pods() -> None:
        alive: set[str] = set()
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_pod, NS, label_selector=f"app={name}", timeout_seconds=20):
            pod = ev["object"]
            if stop.is_set():
                w.stop()
                break
            if ev["type"] == "DELETED" or pod.metadata.deletion_timestamp:
                alive.discard(pod.metadata.name)
            else:
                alive.add(pod.metadata.name)
            live_pods.append(len(alive))

    threads = [threading.Thread(target=watch_deployment), threading.Thread(target=watch_pods)]
    for t in threads:
        t.start()
    image = push(sandbox, "1" * 40)
    apps.patch_namespaced_deployment(name, NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": image}]}}}})
    done = wait_for(lambda: ready(apps, name, 3) if len(_rs_by_revision(apps, name)) == 2 else None,
                    what="rollout")
    new_rs = _rs_by_revision(apps, name)["2"].metadata.name
    steps = [e.message for e in _events(core, "Deployment", name, "ScalingReplicaSet")]
    stop.set()
    apps.delete_namespaced_deployment(name, NS)  # its last events end both watches
    for t in threads:
        t.join(25)
    assert steps == [
        f"Scaled up replica set {old_rs} from 0 to 3",
        f"Scaled up replica set {new_rs} from 0 to 1",
        f"Scaled down replica set {old_rs} from 3 to 2",
        f"Scaled up replica set {new_rs} from 1 to 2",
        f"Scaled down replica set {old_rs} from 2 to 1",
        f"Scaled up replica set {new_rs} from 2 to 3",
        f"Scaled down replica set {old_rs} from 1 to 0",
    ]
    assert available and min(available) >= 3, available
    assert max(live_pods) <= 4, live_pods
    assert done.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    progressing = condition(done, "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "NewReplicaSetAvailable")
    assert condition(done, "Available").reason == "MinimumReplicasAvailable"


def test_it_holds_a_paused_rollout_until_resumed(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("pause")
    create_ready(kube_api, sandbox, name, replicas=2)
    apps.patch_namespaced_deployment(name, NS, {"spec": {"paused": True}})
    image = push(sandbox, "2" * 40)
    changed = apps.patch_namespaced_deployment(name, NS, {"spec": {"template": {"spec": {
        "containers": [{"name": "app", "image": image}]}}}})
    paused = wait_for(lambda: (lambda d: d if d.status.observed_generation == changed.metadata.generation
                               else None)(apps.read_namespaced_deployment(name, NS)))
    assert (condition(paused, "Progressing").status, condition(paused, "Progressing").reason) == (
        "Unknown", "DeploymentPaused")
    assert len(_rs_by_revision(apps, name)) == 1  # a template change while paused makes no RS
    assert paused.status.updated_replicas is None
    apps.patch_namespaced_deployment(name, NS, {"spec": {"paused": None}})
    done = wait_for(lambda: ready(apps, name, 2) if len(_rs_by_revision(apps, name)) == 2 else None)
    assert done.spec.template.spec.containers[0].image == image
    apps.delete_namespaced_deployment(name, NS)


def test_it_reports_progress_deadline_exceeded_for_a_never_ready_image(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("deadline")
    create_ready(kube_api, sandbox, name, replicas=2, deadline=2)
    image = push(sandbox, "fa11" + "0" * 36)
    apps.patch_namespaced_deployment(name, NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": image}]}}}})

    def timed_out():
        d = apps.read_namespaced_deployment(name, NS)
        c = condition(d, "Progressing")
        return d if c is not None and c.reason == "ProgressDeadlineExceeded" else None

    d = wait_for(timed_out, timeout=15, what="ProgressDeadlineExceeded")
    c = condition(d, "Progressing")
    new_rs = _rs_by_revision(apps, name)["2"].metadata.name
    assert c.status == "False" and c.message == f'ReplicaSet "{new_rs}" has timed out progressing.'
    assert d.status.available_replicas == 2  # the old pods keep serving
    pods = core.list_namespaced_pod(NS, label_selector=f"app={name},pod-template-hash={new_rs.rsplit('-', 1)[1]}").items
    assert pods and not pods[0].status.container_statuses[0].ready
    unhealthy = _events(core, "Pod", pods[0].metadata.name, "Unhealthy")
    assert unhealthy and unhealthy[0].message.startswith("Readiness probe failed")
    apps.delete_namespaced_deployment(name, NS)


def test_it_undoes_by_patching_back_an_old_replica_set_template(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("undo")
    create_ready(kube_api, sandbox, name, replicas=2)
    image = push(sandbox, "3" * 40)
    apps.patch_namespaced_deployment(name, NS, {"metadata": {"annotations": {
        "kubernetes.io/change-cause": "deploy v2"}}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": image}]}}}})
    wait_for(lambda: ready(apps, name, 2) if len(_rs_by_revision(apps, name)) == 2 else None)
    by_rev = _rs_by_revision(apps, name)
    assert by_rev["2"].metadata.annotations["kubernetes.io/change-cause"] == "deploy v2"
    template = kube_api.sanitize_for_serialization(by_rev["1"].spec.template)
    del template["metadata"]["labels"]["pod-template-hash"]
    apps.patch_namespaced_deployment(name, NS, [
        {"op": "replace", "path": "/spec/template", "value": template}])
    d = wait_for(lambda: (lambda d: d if d.metadata.annotations.get("deployment.kubernetes.io/revision") == "3"
                          and ready(apps, name, 2) else None)(apps.read_namespaced_deployment(name, NS)))
    after = _rs_by_revision(apps, name)
    assert set(after) == {"2", "3"}  # no new RS: the revision-1 RS became revision 3
    assert after["3"].metadata.name == by_rev["1"].metadata.name
    assert after["3"].metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert after["3"].spec.replicas == 2 and after["2"].spec.replicas == 0
    assert d.spec.template.spec.containers[0].image == by_rev["1"].spec.template.spec.containers[0].image
    apps.delete_namespaced_deployment(name, NS)


def test_it_records_pod_and_replica_set_events_in_order(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    apps = client.AppsV1Api(kube_api)
    name = unique("events")
    create_ready(kube_api, sandbox, name, replicas=1)
    pod = core.list_namespaced_pod(NS, label_selector=f"app={name}").items[0]
    reasons = [e.reason for e in _events(core, "Pod", pod.metadata.name)]
    assert reasons == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    started = _events(core, "Pod", pod.metadata.name, "Started")[0]
    assert started.involved_object.field_path == "spec.containers{app}"
    assert started.source.component == "kubelet" and started.source.host == pod.spec.node_name
    rs_name = pod.metadata.owner_references[0].name
    created = _events(core, "ReplicaSet", rs_name, "SuccessfulCreate")
    assert [e.message for e in created] == [f"Created pod: {pod.metadata.name}"]
    assert int(created[0].metadata.resource_version) < int(_events(core, "Pod", pod.metadata.name)[0].metadata.resource_version)
    assert pod.spec.node_name.startswith("gke-sandbox-pool-1-")
    assert pod.status.pod_ip and pod.status.host_ip
    terminating = core.delete_namespaced_pod(pod.metadata.name, NS)
    assert terminating.metadata.deletion_timestamp is not None
    wait_for(lambda: _events(core, "Pod", pod.metadata.name, "Killing"))
    wait_for(lambda: not core.list_namespaced_pod(NS, field_selector=f"metadata.name={pod.metadata.name}").items,
             what="pod removed after its grace period")
    deleted = _events(core, "ReplicaSet", rs_name, "SuccessfulCreate")
    assert len(deleted) == 2  # the RS replaced the deleted pod
    apps.delete_namespaced_deployment(name, NS)


def test_it_crash_loops_a_dead_commit_with_back_off_and_a_traceback(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("dead")
    image = push(sandbox, "dead" + "0" * 36)
    apps.create_namespaced_deployment(NS, deployment_body(name, image, replicas=1))

    def crashed():
        pods = core.list_namespaced_pod(NS, label_selector=f"app={name}").items
        cs = pods[0].status.container_statuses if pods else None
        if cs and cs[0].restart_count >= 2 and cs[0].state.waiting and cs[0].state.waiting.reason == "CrashLoopBackOff":
            return pods[0]
        return None

    pod = wait_for(crashed, timeout=20, what="CrashLoopBackOff")
    cs = pod.status.container_statuses[0]
    assert cs.last_state.terminated.exit_code == 1 and not cs.ready
    previous = _log(core, pod.metadata.name, previous=True)
    assert "Traceback (most recent call last):" in previous and "dead000000" in previous
    assert "image=" + image in previous
    backoff = _events(core, "Pod", pod.metadata.name, "BackOff")
    assert backoff and backoff[0].type == "Warning" and backoff[0].count >= 2
    apps.delete_namespaced_deployment(name, NS)


def test_it_fails_to_pull_an_unknown_image_then_backs_off(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("pull")
    apps.create_namespaced_deployment(NS, deployment_body(name, "gcr.io/sandbox/license-api:never-built", replicas=1))
    seen: set[str] = set()

    def states():
        pods = core.list_namespaced_pod(NS, label_selector=f"app={name}").items
        cs = pods[0].status.container_statuses if pods else None
        if cs and cs[0].state.waiting:
            seen.add(cs[0].state.waiting.reason)
        return pods[0] if {"ErrImagePull", "ImagePullBackOff"} <= seen else None

    pod = wait_for(states, timeout=20, every=0.02, what="ErrImagePull then ImagePullBackOff")
    failed = [e.message for e in _events(core, "Pod", pod.metadata.name, "Failed")]
    assert any("not found" in m and m.startswith('Failed to pull image "gcr.io/sandbox/license-api:never-built"')
               for m in failed)
    assert "Error: ImagePullBackOff" in failed
    apps.delete_namespaced_deployment(name, NS)


def test_it_starts_a_slow_commit_after_about_three_times_the_delay(sandbox, kube_api) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    name = unique("slow")
    image = push(sandbox, "5105" + "0" * 36)
    apps.create_namespaced_deployment(NS, deployment_body(name, image, replicas=1, initial_delay=10))
    pod = wait_for(lambda: ready(apps, name, 1), timeout=20)
    assert pod
    p = core.list_namespaced_pod(NS, label_selector=f"app={name}").items[0]
    started = p.status.container_statuses[0].state.running.started_at
    became_ready = next(c.last_transition_time for c in p.status.conditions if c.type == "Ready")
    assert (became_ready - started).total_seconds() >= 1  # 30 simulated s at --speed 20
    assert _events(core, "Pod", p.metadata.name, "Unhealthy")
    apps.delete_namespaced_deployment(name, NS)


def test_it_serves_container_logs_with_tail_timestamps_and_follow(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    # The Deployment's pods, not a pre-deploy Job's (another test may run one with the same app
    # label in this session's sandbox).
    pod = core.list_namespaced_pod(NS, label_selector="app=license-api,!job-name").items[0]
    full = _log(core, pod.metadata.name)
    assert "starting license-api image=gcr.io/sandbox/license-api:latest" in full
    tail = _log(core, pod.metadata.name, tail_lines=2, container="license-api")
    assert tail.splitlines() == full.splitlines()[-2:]
    stamped = _log(core, pod.metadata.name, tail_lines=1, timestamps=True)
    assert stamped[:4].isdigit() and "Z " in stamped
    assert _log(core, pod.metadata.name, since_seconds=10**8) == full
    # Move the sandbox's clock on (other tests may have too): the start-up lines fall out of a
    # one-minute window while later probe lines may stay in it.
    sandbox.control("clock/advance", {"seconds": 120})
    recent = _log(core, pod.metadata.name, since_seconds=60)
    assert "[entrypoint] starting" not in recent and len(recent) < len(full)
    resp = core.read_namespaced_pod_log(pod.metadata.name, NS, follow=True, _preload_content=False)
    first = resp.read(20)
    assert first
    resp.close()
