"""Refusals are close codes after accept: 4401 anonymous, 4403 not allowed, 4404 unknown."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.live.conftest import session_cookie
from tests.live.helpers import ORIGIN, connect

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


async def close_code(url: str, cookie: str | None = None, headers: dict | None = None) -> int:
    extra = {**({"Cookie": cookie} if cookie else {}), **(headers or {})}
    async with websockets.connect(url, origin=ORIGIN, additional_headers=extra) as ws:
        try:
            raw = await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else -1
        raise AssertionError(f"got data instead of a refusal: {json.loads(raw)['type']}")


def test_it_refuses_anonymous_unscoped_and_unknown_clients(live):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    users = get_user_model()
    outsider = users.objects.create_user("outsider", password="pw", is_staff=True)
    viewer = users.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_service"))
    not_staff = users.objects.create_user("customer", password="pw", is_staff=False)
    not_staff.user_permissions.add(Permission.objects.get(codename="view_service"))
    restricted = live.service
    restricted.allowed_groups.add(Group.objects.create(name="license-team"))
    url = live.url(f"/ws/services/{restricted.name}/")

    assert asyncio.run(close_code(url)) == 4401
    assert asyncio.run(close_code(url, "sessionid=forged")) == 4401
    assert asyncio.run(close_code(url, session_cookie(outsider))) == 4403
    assert asyncio.run(close_code(url, session_cookie(not_staff))) == 4403
    assert asyncio.run(close_code(url, session_cookie(viewer))) == 4403  # not in the group
    assert asyncio.run(close_code(live.url("/ws/services/nope/"), live.cookie)) == 4404
    assert asyncio.run(close_code(live.url("/ws/releases/999999/"), live.cookie)) == 4404
    assert asyncio.run(close_code(live.url("/ws/releases/999999/"))) == 4401

    viewer.groups.add(Group.objects.get(name="license-team"))
    cookie = session_cookie(viewer)

    async def allowed() -> dict:
        async with await connect(url, cookie) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert asyncio.run(allowed())["type"] == "snapshot"


def test_it_refuses_a_foreign_origin(live):
    async def main() -> str:
        try:
            async with websockets.connect(live.url(f"/ws/services/{live.service.name}/"),
                                          origin="http://evil.example",
                                          additional_headers={"Cookie": live.cookie}):
                return "open"
        except websockets.InvalidStatus as exc:
            return str(exc.response.status_code)

    assert asyncio.run(main()) == "403"


def test_it_accepts_an_api_token_with_the_read_scope_for_that_service(live):
    api_models = pytest.importorskip("dashboard.api.models")
    from django.contrib.auth import get_user_model

    bot = get_user_model().objects.create_superuser("bot", "b@example.com", "pw")
    _, good = api_models.ApiToken.issue(name="reader", user=bot, scopes=["read"])
    _, scopeless = api_models.ApiToken.issue(name="scopeless", user=bot, scopes=[])
    nobody = get_user_model().objects.create_user("nobody", password="pw")
    _, powerless = api_models.ApiToken.issue(name="powerless", user=nobody, scopes=["read"])
    _, other = api_models.ApiToken.issue(name="other", user=bot, scopes=["read"],
                                         services=["something-else"])
    url = live.url(f"/ws/services/{live.service.name}/")

    def bearer(raw: str) -> dict:
        return {"Authorization": f"Bearer {raw}"}

    assert asyncio.run(close_code(url, headers=bearer("ddt_unknown"))) == 4401
    assert asyncio.run(close_code(url, headers=bearer(scopeless))) == 4403
    assert asyncio.run(close_code(url, headers=bearer(powerless))) == 4403  # user may not view
    assert asyncio.run(close_code(url, headers=bearer(other))) == 4403

    async def allowed() -> dict:
        async with websockets.connect(url, origin=ORIGIN, additional_headers=bearer(good)) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert asyncio.run(allowed())["type"] == "snapshot"
