"""Every endpoint with each scope: a token without the endpoint's scope gets 403 (problem
details naming the scope); admin and the right scope get past the check. Write scopes imply
read."""

from __future__ import annotations

import pytest

from dashboard.api.models import SCOPES
from tests.api.conftest import SHA, succeeded_release

pytestmark = pytest.mark.django_db

# (method, path, scope the endpoint needs)
ENDPOINTS = [
    ("get", "/api/v1/releases/", "read"),
    ("post", "/api/v1/releases/", "deploy"),
    ("get", "/api/v1/releases/{id}/", "read"),
    ("post", "/api/v1/releases/{id}/cancel/", "deploy"),
    ("post", "/api/v1/releases/{id}/rollback/", "rollback"),
    ("get", "/api/v1/services/", "read"),
    ("get", "/api/v1/services/license-api/", "read"),
    ("post", "/api/v1/services/license-api/pause/", "deploy"),
    ("post", "/api/v1/services/license-api/resume/", "deploy"),
    ("post", "/api/v1/services/license-api/lock/", "lock"),
    ("post", "/api/v1/services/license-api/unlock/", "lock"),
    ("get", "/api/v1/audit/", "read"),
    ("get", "/api/v1/audit/export/", "read"),
]
BODIES = {"/api/v1/releases/": {"service": "license-api", "commit": SHA},
          "/api/v1/services/license-api/lock/": {"reason": "scope matrix"}}


@pytest.mark.parametrize("method,path,needed", ENDPOINTS)
@pytest.mark.parametrize("scope", SCOPES)
def test_it_checks_the_scope_of_every_endpoint(service, api_for, method, path, needed, scope):
    succeeded_release(service, "a" * 40)
    release = succeeded_release(service, "b" * 40)
    url = path.format(id=release.pk)
    api = api_for(scope)
    r = api.get(url) if method == "get" else api.post(url, BODIES.get(path, {}))
    allowed = scope in (needed, "admin") or needed == "read"
    if allowed:
        assert r.status_code != 403, (scope, url, r.content)
        assert r.status_code < 500 or r.status_code == 503  # 503: no cluster for pause/resume
    else:
        assert r.status_code == 403, (scope, url, r.content)
        assert r["Content-Type"] == "application/problem+json"
        assert needed in r.json()["detail"]
