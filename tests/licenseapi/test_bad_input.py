"""Whatever a client sends, the answer is a JSON 4xx naming the problem, never a 500, and
nothing is half-written."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from licenseapi.models import Activation, License

pytestmark = [pytest.mark.urls("licenseapi.urls"), pytest.mark.django_db]
BASE = "/api/v1/licenses"


@pytest.mark.parametrize(
    "key",
    ["", "LIC-", "not a key", "LIC-AAAAAAAA-BBBB", "LIC-AAAAAAA1-" + "-".join(["BBBBBBBB"] * 4), "x" * 10_000, 42, None, ["LIC"]],
)
def test_it_rejects_malformed_keys_with_400_naming_the_field(api, key):
    status, body, _ = api.post(f"{BASE}/validate/", {"key": key})
    assert status == 400
    assert body["error"] == "invalid_request" and "key" in body["fields"]


def test_it_names_unknown_fields(api, issued):
    status, body, _ = api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprnt": "m1", "extra": 1})
    assert status == 400
    assert body["error"] == "unknown_fields"
    assert set(body["fields"]) >= {"fingerprnt", "extra"}
    assert not Activation.objects.exists()


def test_it_requires_json_content_type(issued):
    response = Client().post(f"{BASE}/validate/", f"key={issued.key}", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert "application/json" in response.json()["detail"]


def test_it_explains_invalid_json(issued):
    response = Client().post(f"{BASE}/validate/", '{"key": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error" and "JSON" in response.json()["detail"]


@pytest.mark.parametrize("payload", ["[]", '"LIC"', "null", "123"])
def test_it_wants_a_json_object(payload):
    response = Client().post(f"{BASE}/validate/", payload, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@override_settings(LICENSE_API_MAX_BODY_BYTES=1024)
def test_it_refuses_oversized_bodies_with_413(issued):
    body = json.dumps({"key": issued.key, "fingerprint": "m", "hostname": "h" * 2000})
    response = Client().post(f"{BASE}/activate/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large" and "1024" in response.json()["detail"]
    assert not Activation.objects.exists()


def test_it_validates_fingerprints(api, issued):
    for fingerprint in ["", "has space", "x" * 129, 5]:
        status, body, _ = api.post(f"{BASE}/activate/", {"key": issued.key, "fingerprint": fingerprint})
        assert status == 400 and "fingerprint" in body["fields"]
    assert not Activation.objects.exists()


def test_it_answers_json_for_unknown_endpoints_and_methods(api):
    status, body, _ = api.get(f"{BASE}/validate/")
    assert status == 405 and body["error"] == "method_not_allowed"
    response = Client().get("/api/v1/nothing-here/")
    assert response.status_code == 404


def test_it_rejects_bad_staff_input_without_writing(staff_api, product):
    status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide", "seats": 0})
    assert status == 400 and "seats" in body["fields"]
    # Well-formed but unusable (the schema allows it): 422 naming the field.
    status, body, _ = staff_api.post(f"{BASE}/", {"product": "no-such-product"})
    assert status == 422 and body["error"] == "unprocessable" and "product" in body["fields"]
    for expires_at in ("tomorrow", "2030-01-01", "2030-01-01T00:00:00"):  # RFC 3339 only
        status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide", "expires_at": expires_at})
        assert status == 400 and "expires_at" in body["fields"], expires_at
    for field, value in (("seats", "3"), ("seats", 3.0), ("customer_name", 7), ("product", "acme ide")):
        status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide", field: value})
        assert status == 400 and field in body["fields"], (field, value)
    assert not License.objects.exists()


def test_it_answers_404_for_an_unknown_license_in_its_error_shape(staff_api):
    status, body, _ = staff_api.get(f"{BASE}/00000000-0000-0000-0000-000000000000/")
    assert status == 404 and body["error"] == "not_found" and body["detail"]


def test_it_refuses_a_status_change_body_that_is_not_an_object(staff_api, issued):
    for body in ([], 0, "x"):
        status, answer, _ = staff_api.post(f"{BASE}/{issued.license.id}/suspend/", body)
        assert status == 400 and answer["error"] == "invalid_request", body


def test_it_refuses_list_filters_the_schema_does_not_allow(staff_api):
    for params in ("status=gone", "status=", "limit=0", "limit=x", "offset=-1"):
        status, body, _ = staff_api.get(f"{BASE}/?{params}")
        assert status == 400 and body["fields"], params


def test_it_keeps_metadata_flat_and_free_of_nul(staff_api, product):
    # Found by schemathesis on PostgreSQL: jsonb cannot store NUL, which answered 500.
    for metadata in ({"po": "4\x002"}, {"p\x00o": "42"}, {"po": {"nested": 1}}, {"k": "v" * 201},
                     {f"k{i}": i for i in range(9)}, {"k" * 41: 1}, ["po"]):
        status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide", "metadata": metadata})
        assert status == 400 and "metadata" in body["fields"], metadata
    status, body, _ = staff_api.post(f"{BASE}/", {"product": "acme-ide", "metadata": {
        "po": "42", "seats_note": None, "paid": True, "amount": 12.5}})
    assert status == 201, body
    assert not License.objects.exclude(metadata__po="42").exists()
