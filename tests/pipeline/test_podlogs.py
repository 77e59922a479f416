"""Pod logs on the Service page at any time: the pod list, one container's log (current or
previous instance), a download, and refusals naming the field. Sandbox Kubernetes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard import services

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(service):
    admin = User.objects.create_superuser("root", password="pw-for-tests-0")
    c = Client()
    c.force_login(admin)
    return c


def text(response) -> str:
    return b"".join(response).decode()


def test_it_lists_the_pods_and_reads_a_container_log(service, client):
    base = f"/admin/deployments/services/{service.name}"
    pods = client.get(f"{base}/pods.json").json()["pods"]
    assert pods and all(p["name"].startswith("license-api-") for p in pods)
    assert pods[0]["containers"][0]["name"] == "license-api"
    pod = pods[0]["name"]
    answer = client.get(f"{base}/logs/", {"pod": pod, "container": "license-api", "tail": "5"})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    lines = text(answer).splitlines()
    assert 1 <= len(lines) <= 5
    saved = client.get(f"{base}/logs/", {"pod": pod, "download": "1"})
    assert saved["Content-Disposition"].startswith(f'attachment; filename="{pod}-license-api-')
    assert text(saved)
    page = client.get(f"{base}/").content.decode()
    assert 'id="pod-logs"' in page and "podlogs.js" in page


def test_it_refuses_pods_and_containers_that_are_not_the_service_and_names_the_field(service, client):
    base = f"/admin/deployments/services/{service.name}/logs/"
    pod = services.service_pods(service)[0]["name"]
    for query, field in (({"pod": "kube-dns-0"}, "pod"), ({"pod": pod, "container": "sidecar"}, "container"),
                         ({"pod": pod, "tail": "0"}, "tail"), ({"pod": pod, "tail": "x"}, "tail"),
                         ({"pod": pod, "previous": "1"}, "previous")):
        answer = client.get(base, query)
        assert answer.status_code == 400, query
        assert answer.json()["field"] == field
    viewer = User.objects.create_user("nobody", password="pw-for-tests-0", is_staff=True)
    other = Client()
    other.force_login(viewer)
    assert other.get(base, {"pod": pod}).status_code == 404  # may not view the service
