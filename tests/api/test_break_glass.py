"""force_reason (deploying through someone else's lock) is break-glass: it needs the token's
own 'force' scope, which nothing implies (not even 'admin'), and the force_lock permission."""

from __future__ import annotations

import pytest

from dashboard import services
from dashboard.models import Release
from tests.api.conftest import ALL_PERMS, SHA, make_user

pytestmark = pytest.mark.django_db
BODY = {"service": "license-api", "commit": SHA, "force_reason": "outage"}


@pytest.fixture
def locked(service):
    owner = make_user("owner", ALL_PERMS)
    services.lock_service(service=service, actor=owner, via="api", reason="freeze")
    return service


@pytest.mark.parametrize("scopes", ["deploy", "admin", "deploy,admin"])
def test_it_refuses_force_without_the_force_scope(locked, api_for, scopes):
    r = api_for(scopes).post("/api/v1/releases/", BODY)
    assert r.status_code == 403 and "'force' scope" in r.json()["detail"]
    assert not Release.objects.exists()


def test_it_breaks_the_lock_with_the_force_scope_and_permission(locked, api_for, token_for):
    r = api_for("deploy,force").post("/api/v1/releases/", BODY)
    assert r.status_code == 202, r.content
    assert Release.objects.get().force_reason == "outage"


def test_the_force_scope_alone_still_needs_the_permission(locked, token_for):
    from tests.api.conftest import Api

    weak = make_user("weak", [p for p in ALL_PERMS if p != "force_lock"])
    r = Api(token_for("deploy,force", user=weak)).post("/api/v1/releases/", BODY)
    assert r.status_code == 403 and not Release.objects.exists()
