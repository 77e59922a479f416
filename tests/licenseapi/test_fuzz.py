"""Whatever JSON a client sends to the public endpoints, the answer is a JSON 4xx or a success,
never a 500 (property-based: hypothesis generates the bodies)."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licenseapi.keys import MalformedKey, parse_license_key

pytestmark = [pytest.mark.urls("licenseapi.urls"), pytest.mark.django_db]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"key": json_values}),
    st.fixed_dictionaries({"key": st.text(max_size=70), "fingerprint": json_values}, optional={"hostname": json_values}),
)


@override_settings(LICENSE_RATE_LIMIT_ENABLED=False)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, endpoint=st.sampled_from(["validate", "activate", "heartbeat", "deactivate", "certificate"]))
def test_it_never_answers_500_to_any_json(issued, body, endpoint):
    response = Client().post(f"/api/v1/licenses/{endpoint}/", json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201, 400, 403, 404, 409)
    payload = response.json()
    if response.status_code >= 400:
        assert payload["error"] and payload["detail"]


@given(st.text(max_size=80))
def test_it_parses_or_rejects_any_text_as_a_key(text):
    try:
        parts = parse_license_key(text)
    except MalformedKey:
        return
    assert len(parts.prefix) == 8 and len(parts.secret) == 35
