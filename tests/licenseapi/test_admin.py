"""The admin: licenses created there show their key once; actions go through services."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from licenseapi.models import License, LicenseChange

pytestmark = [pytest.mark.urls("tests.licenseapi.urls_with_admin"), pytest.mark.django_db]


def test_it_shows_the_key_once_after_creating_a_license(admin_client, product, api):
    response = admin_client.post(
        "/admin/licenseapi/license/add/",
        {"product": product.pk, "customer_name": "Ada", "customer_email": "ada@example.com", "seats": 2, "metadata": "{}",
         "activations-TOTAL_FORMS": "0", "activations-INITIAL_FORMS": "0",
         "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0"},
        follow=True,
    )
    assert response.status_code == 200
    texts = [str(m) for m in get_messages(response.wsgi_request)] + [response.content.decode()]
    key_line = next(t for t in texts if "shown only now" in t)
    key = next(w for w in key_line.replace("<", " ").split() if w.startswith("LIC-"))
    lic = License.objects.get()
    assert lic.changes.get().actor == "admin:admin"
    assert api.post("/api/v1/licenses/validate/", {"key": key})[1]["valid"] is True
    page = admin_client.get(f"/admin/licenseapi/license/{lic.pk}/change/").content.decode()
    assert key not in page and lic.masked_key in page


def test_its_actions_suspend_and_log(admin_client, issued):
    response = admin_client.post(
        "/admin/licenseapi/license/",
        {"action": "suspend_licenses", "_selected_action": [str(issued.license.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    issued.license.refresh_from_db()
    assert issued.license.status == "suspended"
    assert LicenseChange.objects.filter(action="suspended", actor="admin:admin").exists()


def test_editing_terms_records_the_diff(admin_client, issued):
    lic = issued.license
    response = admin_client.post(
        f"/admin/licenseapi/license/{lic.pk}/change/",
        {"product": lic.product_id, "customer_name": "Ada L.", "customer_email": lic.customer_email,
         "seats": 7, "expires_at_0": "", "expires_at_1": "", "metadata": "{}",
         "activations-TOTAL_FORMS": "0", "activations-INITIAL_FORMS": "0",
         "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    change = LicenseChange.objects.get(action="updated")
    assert change.changes["seats"] == [3, 7] and change.changes["customer_name"] == ["Ada", "Ada L."]


def test_the_admin_lists_pages(admin_client, issued):
    for url in ("/admin/licenseapi/license/", "/admin/licenseapi/activation/", "/admin/licenseapi/product/",
                "/admin/licenseapi/stafftoken/", "/admin/licenseapi/processedstripeevent/"):
        assert admin_client.get(url).status_code == 200, url


def test_deleting_an_activation_in_the_admin_frees_the_seat_and_logs_it(admin_client, issued, api):
    from licenseapi.models import Activation

    api.post("/api/v1/licenses/activate/", {"key": issued.key, "fingerprint": "m0"})
    activation = Activation.objects.get()
    response = admin_client.post(
        "/admin/licenseapi/activation/",
        {"action": "delete_selected", "_selected_action": [str(activation.pk)], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Activation.objects.exists()
    assert LicenseChange.objects.filter(action="deactivated", actor="admin:admin").exists()


def test_licenses_cannot_be_deleted_only_revoked(admin_client, issued):
    response = admin_client.get(f"/admin/licenseapi/license/{issued.license.pk}/delete/")
    assert response.status_code == 403
