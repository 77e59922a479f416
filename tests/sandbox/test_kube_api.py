"""The sandbox's Kubernetes API through the official client: CRUD, selectors, watch, patches."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.sandbox.kube_helpers import NS, create_ready, deployment_body, push, unique, wait_for


def test_it_lists_license_api_pods_with_every_label_selector_form(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    names = {p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="app=license-api").items}
    assert len(names) >= 3
    for selector in ("app==license-api", "app in (license-api,other)", "app,version",
                     "app=license-api,version!=v2", "app=license-api,!nope",
                     "app=license-api,version notin (v9)"):
        found = {p.metadata.name for p in core.list_namespaced_pod(NS, label_selector=selector).items}
        assert found == names, selector
    assert core.list_namespaced_pod(NS, label_selector="app notin (license-api),app in (license-api)").items == []
    assert core.list_namespaced_pod(NS, label_selector="!app").items == []


def test_it_filters_by_field_selectors(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    pods = core.list_namespaced_pod(NS, label_selector="app=license-api").items
    one = pods[0].metadata.name
    by_name = core.list_namespaced_pod(NS, field_selector=f"metadata.name={one}").items
    assert [p.metadata.name for p in by_name] == [one]
    running = core.list_namespaced_pod(NS, label_selector="app=license-api",
                                       field_selector="status.phase=Running").items
    assert len(running) >= 3
    assert core.list_namespaced_pod(NS, field_selector="status.phase==Nope").items == []
    events = core.list_namespaced_event(
        NS, field_selector=f"involvedObject.kind=Pod,involvedObject.name={one},reason=Scheduled")
    assert [e.reason for e in events.items] == ["Scheduled"]
    assert events.items[0].involved_object.uid == pods[0].metadata.uid
    normal = core.list_namespaced_event(NS, field_selector="type!=Normal,reason=Scheduled")
    assert normal.items == []


def test_it_answers_kubernetes_status_errors(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    with pytest.raises(ApiException) as missing:
        apps.read_namespaced_deployment("does-not-exist", NS)
    assert missing.value.status == 404
    body = json.loads(missing.value.body)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "does-not-exist" not found'
    with pytest.raises(ApiException) as exists:
        apps.create_namespaced_deployment(NS, deployment_body("license-api", "x:1"))
    assert exists.value.status == 409
    assert json.loads(exists.value.body)["reason"] == "AlreadyExists"
    bad = deployment_body(unique("bad"), "x:1")
    bad["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 0, "maxUnavailable": 0}
    with pytest.raises(ApiException) as invalid:
        apps.create_namespaced_deployment(NS, bad)
    assert invalid.value.status == 422
    stale = apps.read_namespaced_deployment("license-api", NS)
    apps.patch_namespaced_deployment("license-api", NS, {"metadata": {"labels": {"touched": "1"}}})
    stale.metadata.labels["touched"] = "2"
    with pytest.raises(ApiException) as conflict:
        apps.replace_namespaced_deployment("license-api", NS, stale)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["reason"] == "Conflict"
    apps.patch_namespaced_deployment("license-api", NS, {"metadata": {"labels": {"touched": None}}})


def test_it_bumps_generation_on_spec_changes_only(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("gen")
    d = create_ready(kube_api, sandbox, name, replicas=1)
    gen, rv = d.metadata.generation, int(d.metadata.resource_version)
    labelled = apps.patch_namespaced_deployment(name, NS, {"metadata": {"labels": {"x": "y"}}})
    assert labelled.metadata.generation == gen
    assert int(labelled.metadata.resource_version) > rv
    scaled = apps.patch_namespaced_deployment(name, NS, {"spec": {"replicas": 2}})
    assert scaled.metadata.generation == gen + 1
    wait_for(lambda: apps.read_namespaced_deployment(name, NS).status.observed_generation == gen + 1)
    for _ in range(20):  # the controller writes status too: retry on 409 like a client would
        status_write = apps.read_namespaced_deployment_status(name, NS)
        status_write.spec.replicas = 7  # ignored: /status copies spec from the stored object
        try:
            after = apps.replace_namespaced_deployment_status(name, NS, status_write)
            break
        except ApiException as exc:
            assert exc.status == 409
    assert after.spec.replicas == 2 and after.metadata.generation == gen + 1
    wait_for(lambda: apps.read_namespaced_deployment(name, NS).status.observed_generation == gen + 1)
    scale = apps.read_namespaced_deployment_scale(name, NS)
    assert scale.spec.replicas == 2 and scale.status.selector == f"app={name}"
    apps.patch_namespaced_deployment_scale(name, NS, {"spec": {"replicas": 1}})
    assert apps.read_namespaced_deployment(name, NS).spec.replicas == 1
    apps.delete_namespaced_deployment(name, NS)


def test_it_watches_with_a_label_selector_and_resumes_from_a_resource_version(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    listed = core.list_namespaced_config_map(NS, label_selector="team=watch")
    rv = listed.metadata.resource_version
    name = unique("cm")
    seen: list[tuple[str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, NS, label_selector="team=watch",
                           resource_version=rv, timeout_seconds=5):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    core.create_namespaced_config_map(NS, {"metadata": {"name": unique("other")}, "data": {}})
    core.create_namespaced_config_map(NS, {"metadata": {"name": name, "labels": {"team": "watch"}}})
    core.patch_namespaced_config_map(name, NS, {"data": {"k": "v"}})
    core.delete_namespaced_config_map(name, NS)
    t.join(10)
    assert seen == [("ADDED", name), ("MODIFIED", name), ("DELETED", name)]


def test_it_sends_bookmarks_and_initial_events_when_asked(sandbox) -> None:
    url = (f"{sandbox.kube_url}/apis/apps/v1/namespaces/default/deployments?watch=True"
           "&fieldSelector=metadata.name%3Dlicense-api&sendInitialEvents=true"
           "&allowWatchBookmarks=TRUE&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
    with urllib.request.urlopen(url, timeout=10) as resp:
        lines = [json.loads(line) for line in resp.read().splitlines()]
    assert lines[0]["type"] == "ADDED" and lines[0]["object"]["metadata"]["name"] == "license-api"
    assert lines[1]["type"] == "BOOKMARK"
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_it_expires_old_resource_versions_with_410_and_recovers_after_a_relist(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    old_rv = core.list_namespaced_pod(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, {"metadata": {"name": unique("bump")}})
    sandbox.control("chaos/expire", {})
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(core.list_namespaced_pod, NS, resource_version=old_rv,
                                      timeout_seconds=2):
            pass
    assert gone.value.status == 410
    fresh = core.list_namespaced_pod(NS, label_selector="app=license-api")
    name = unique("after")
    got = []

    def consume() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, NS,
                           resource_version=fresh.metadata.resource_version, timeout_seconds=5):
            got.append(ev["object"].metadata.name)
            w.stop()

    t = threading.Thread(target=consume)
    t.start()
    core.create_namespaced_config_map(NS, {"metadata": {"name": name}})
    t.join(10)
    assert got == [name]


def test_it_closes_watches_when_chaos_drops_them_and_counts_them_in_metrics(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    ended = threading.Event()

    def consume() -> None:
        for _ in watch.Watch().stream(core.list_namespaced_pod, "kube-system", timeout_seconds=30):
            pass
        ended.set()

    t = threading.Thread(target=consume)
    t.start()
    wait_for(lambda: sandbox.control("metrics")["watches"].get("pods/kube-system"), what="watch")
    assert sandbox.control("chaos/drop-watches", {})["dropped"] >= 1
    assert ended.wait(5)
    wait_for(lambda: not sandbox.control("metrics")["watches"].get("pods/kube-system"))
    assert sandbox.control("metrics")["requests"]["kube"] > 0


def _raw_patch(sandbox, path: str, body: bytes, ctype: str) -> tuple[int, dict]:
    req = urllib.request.Request(f"{sandbox.kube_url}{path}", data=body, method="PATCH",
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_it_merges_strategic_patches_by_key_and_honours_directives(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    name = unique("smp")
    image = push(sandbox, "0" * 40)
    body = deployment_body(name, image, replicas=1)
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": image})
    apps.create_namespaced_deployment(NS, body)
    # A dict body goes out as strategic-merge-patch: containers merge by name.
    d = apps.patch_namespaced_deployment(name, NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": f"{image}-2", "env": [{"name": "B", "value": "3"},
                                                        {"name": "A", "$patch": "delete"}]}]}}}})
    app, sidecar = d.spec.template.spec.containers
    assert (app.name, sidecar.name) == ("app", "sidecar")
    assert app.image == f"{image}-2" and app.ports[0].container_port == 8000
    assert app.readiness_probe.initial_delay_seconds == 2
    assert [(e.name, e.value) for e in app.env] == [("B", "3")]
    # $setElementOrder reorders, null deletes.
    d = apps.patch_namespaced_deployment(name, NS, {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "readinessProbe": None}]}}}})
    assert [c.name for c in d.spec.template.spec.containers] == ["sidecar", "app"]
    assert d.spec.template.spec.containers[1].readiness_probe is None
    # JSON merge patch replaces lists whole.
    d = apps.patch_namespaced_deployment(
        name, NS, {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": image}]}}}},
        _content_type="application/merge-patch+json")
    assert [c.name for c in d.spec.template.spec.containers] == ["only"]
    assert d.spec.template.spec.containers[0].ports is None
    # A list body is a JSON patch.
    d = apps.patch_namespaced_deployment(name, NS, [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 2},
        {"op": "add", "path": "/metadata/labels/extra", "value": "yes"},
    ])
    assert d.spec.replicas == 2 and d.metadata.labels["extra"] == "yes"
    with pytest.raises(ApiException) as failed_test:
        apps.patch_namespaced_deployment(name, NS, [{"op": "test", "path": "/spec/replicas", "value": 9}])
    assert failed_test.value.status == 422
    status, answer = _raw_patch(sandbox, f"/apis/apps/v1/namespaces/default/deployments/{name}",
                                b"spec: {}", "text/plain")
    assert status == 415 and answer["reason"] == "UnsupportedMediaType"
    apps.delete_namespaced_deployment(name, NS)


def test_it_serves_tables_for_kubectl_get(sandbox) -> None:
    req = urllib.request.Request(
        f"{sandbox.kube_url}/api/v1/namespaces/default/pods?labelSelector=app%3Dlicense-api",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        table = json.loads(resp.read())
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name", "Ready", "Status", "Restarts", "Age"]
    assert all(row["cells"][1] == "1/1" and row["cells"][2] == "Running" for row in table["rows"])


def test_it_proxies_health_checks_to_ready_pods(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    ready = core.connect_get_namespaced_service_proxy_with_path("license-api:80", NS, "health/ready")
    assert json.loads(ready.replace("'", '"')) if ready.startswith("{'") else json.loads(ready)
    with urllib.request.urlopen(
            f"{sandbox.kube_url}/api/v1/namespaces/default/services/license-api/proxy/health/live",
            timeout=10) as resp:
        assert json.loads(resp.read()) == {"status": "alive"}
    with urllib.request.urlopen(
            f"{sandbox.kube_url}/api/v1/namespaces/default/services/license-api:80/proxy/health/ready",
            timeout=10) as resp:
        assert json.loads(resp.read()) == {"status": "ready", "database": "connected",
                                           "redis": "connected"}


def test_it_reports_commit_times_of_changes(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    since = core.list_namespaced_config_map(NS).metadata.resource_version
    name = unique("changes")
    core.create_namespaced_config_map(NS, {"metadata": {"name": name}})
    changes = sandbox.control(f"changes?since={since}")
    mine = [c for c in changes if c["name"] == name]
    assert mine and mine[0]["type"] == "ADDED" and mine[0]["kind"] == "ConfigMap"
    assert isinstance(mine[0]["at"], float) and int(mine[0]["resourceVersion"]) > int(since)


def test_it_serves_events_through_events_k8s_io_too(sandbox, kube_api) -> None:
    ev = client.EventsV1Api(kube_api)
    items = ev.list_namespaced_event(NS, field_selector="regarding.kind=Deployment,regarding.name=license-api").items
    assert items and all(e.regarding.name == "license-api" for e in items)
    assert items[0].reporting_controller == "deployment-controller"


def test_it_validates_without_storing_on_dry_run(sandbox, kube_api) -> None:
    apps = client.AppsV1Api(kube_api)
    before = apps.read_namespaced_deployment("license-api", NS)
    answer = apps.patch_namespaced_deployment("license-api", NS, {"spec": {"replicas": 9}}, dry_run="All")
    assert answer.spec.replicas == 9
    after = apps.read_namespaced_deployment("license-api", NS)
    assert after.spec.replicas == 3
    assert after.metadata.resource_version == before.metadata.resource_version
    name = unique("dry")
    apps.create_namespaced_deployment(NS, deployment_body(name, "x:1"), dry_run="All")
    assert not apps.list_namespaced_deployment(NS, field_selector=f"metadata.name={name}").items


def test_it_limits_log_bytes(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    pod = core.list_namespaced_pod(NS, label_selector="app=license-api").items[0]
    text = core.read_namespaced_pod_log(pod.metadata.name, NS, limit_bytes=80,
                                        _preload_content=False).data.decode()
    assert len(text.encode()) == 80 and text.startswith("[entrypoint] starting")


def test_it_pages_lists_with_limit_and_continue(sandbox, kube_api) -> None:
    core = client.CoreV1Api(kube_api)
    everything = [p.metadata.name for p in core.list_namespaced_pod(NS).items]
    seen, token = [], None
    while True:
        page = core.list_namespaced_pod(NS, limit=2, _continue=token)
        assert len(page.items) <= 2
        seen += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert seen == everything and len(everything) > 2
