"""Service-layer rules that live in the database: validation, queueing, locks, permissions,
the transition table, constraints. (Drivers are not running: nothing leaves the DB.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard import services, states
from dashboard.models import AuditEntry, Lock, Release, Service
from dashboard.releases import lifecycle
from tests.pipeline.conftest import SHA

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kwargs, field", [
    ({"service": "nope", "commit": SHA["good"]}, "service"),
    ({"commit": "xyz"}, "commit"),
    ({"commit": "abc12"}, "commit"),
    ({"commit": "g" * 40}, "commit"),
    ({"commit": SHA["good"], "ref": "--upload-pack=x"}, "ref"),
    ({"commit": SHA["good"], "ref": "a..b"}, "ref"),
    ({"commit": SHA["good"], "image": "docker.io/evil/app@sha256:" + "a" * 64}, "image"),
    ({"commit": SHA["good"], "image": "gcr.io/sandbox/license-api-other:1"}, "image"),
])
def test_it_refuses_bad_input_before_anything_starts(plain_service, kwargs, field):
    kwargs = {"service": plain_service, **kwargs}
    with pytest.raises(services.InvalidRequest) as err:
        services.request_release(actor=None, via="cli", **kwargs)
    assert err.value.code == 400 and err.value.field == field
    assert Release.objects.count() == 0 and AuditEntry.objects.count() == 0


def test_it_accepts_a_short_sha_and_an_image_of_the_repository(plain_service):
    release = services.request_release(
        service="license-api", commit="C0FFEE1", actor=None, via="cli",
        image="gcr.io/sandbox/license-api@sha256:" + "a" * 64,
    )
    assert release.commit_sha == "c0ffee1"
    assert release.state == states.DEPLOYING  # a known image needs no build


def test_it_queues_and_supersedes_older_queued_releases(plain_service):
    first = services.request_release(service=plain_service, commit=SHA["good"], actor=None, via="cli")
    second = services.request_release(service=plain_service, commit=SHA["good2"], actor=None, via="cli")
    third = services.request_release(service=plain_service, commit=SHA["slow"], actor=None, via="cli")
    second.refresh_from_db()
    assert (first.state, second.state, third.state) == (states.BUILDING, states.SUPERSEDED,
                                                         states.QUEUED)
    assert second.superseded_by_id == third.pk
    services.cancel_release(release=first, actor=None, via="cli")
    third.refresh_from_db()
    assert third.state == states.BUILDING  # started in the transaction that ended `first`


def test_it_keeps_queued_releases_in_order_when_the_service_says_so(plain_service):
    plain_service.supersede_queued = False
    plain_service.save()
    first = services.request_release(service=plain_service, commit=SHA["good"], actor=None, via="cli")
    second = services.request_release(service=plain_service, commit=SHA["good2"], actor=None, via="cli")
    third = services.request_release(service=plain_service, commit=SHA["slow"], actor=None, via="cli")
    services.cancel_release(release=first, actor=None, via="cli")
    second.refresh_from_db()
    third.refresh_from_db()
    assert (second.state, third.state) == (states.BUILDING, states.QUEUED)


def test_it_returns_the_same_release_for_the_same_idempotency_key(plain_service):
    a = services.request_release(service=plain_service, commit=SHA["good"], actor=None, via="cli",
                                 idempotency_key="k1")
    b = services.request_release(service=plain_service, commit=SHA["good"], actor=None, via="cli",
                                 idempotency_key="k1")
    assert a.pk == b.pk and Release.objects.count() == 1


def test_it_refuses_moves_the_table_does_not_list(plain_service):
    release = services.request_release(service=plain_service, commit=SHA["good"], actor=None,
                                       via="cli")
    with pytest.raises(services.Conflict):
        lifecycle.transition(release, states.SUCCEEDED)
    release.refresh_from_db()
    assert release.state == states.BUILDING


def test_it_lets_the_database_refuse_a_second_active_release(plain_service):
    services.request_release(service=plain_service, commit=SHA["good"], actor=None, via="cli")
    with pytest.raises(IntegrityError), transaction.atomic():
        Release.objects.create(service=plain_service, commit_sha=SHA["good2"], via="cli",
                               state=states.DEPLOYING)


def test_it_refuses_a_locked_service_naming_owner_and_reason(plain_service, users):
    services.lock_service(service=plain_service, actor=users.alice, via="admin",
                          reason="quarter close")
    with pytest.raises(services.Locked) as err:
        services.request_release(service=plain_service, commit=SHA["good"], actor=users.bob,
                                 via="admin")
    assert err.value.code == 409
    assert err.value.owner == "alice" and err.value.reason == "quarter close"
    # The owner may deploy through their own lock.
    services.request_release(service=plain_service, commit=SHA["good"], actor=users.alice,
                             via="admin")


def test_it_lets_only_break_glass_users_force_a_lock_and_audits_it(plain_service, users):
    services.lock_service(service=plain_service, actor=users.alice, via="admin", reason="freeze")
    users.alice.user_permissions.remove(
        *users.alice.user_permissions.filter(codename="lock_service"))
    with pytest.raises(services.NotAllowed):
        services.request_release(service=plain_service, commit=SHA["good"], actor=users.carol,
                                 via="admin", force_reason="urgent")
    release = services.request_release(service=plain_service, commit=SHA["good"], actor=users.bob,
                                       via="admin", force_reason="sev1 hotfix")
    assert release.force_reason == "sev1 hotfix"
    force = AuditEntry.objects.get(action="lock.force")
    assert force.actor == "bob" and force.reason == "sev1 hotfix"
    assert force.payload["lock_owner"] == "alice" and force.payload["break_glass"] is True


def test_it_ignores_an_expired_lock(plain_service, users):
    Lock.objects.create(service=plain_service, owner=users.alice, owner_name="alice",
                        reason="old", expires_at=timezone.now() - timedelta(seconds=1))
    release = services.request_release(service=plain_service, commit=SHA["good"],
                                       actor=users.bob, via="admin")
    assert release.state == states.BUILDING


def test_it_checks_permissions_and_group_restrictions(plain_service, users):
    from django.contrib.auth.models import Group

    with pytest.raises(services.NotAllowed) as err:
        services.request_release(service=plain_service, commit=SHA["good"], actor=users.carol,
                                 via="admin")
    assert err.value.code == 403
    with pytest.raises(services.NotAllowed):
        services.request_release(service=plain_service, commit=SHA["good"], actor=None,
                                 via="api")
    ops = Group.objects.create(name="ops")
    plain_service.allowed_groups.add(ops)
    with pytest.raises(services.NotAllowed):
        services.request_release(service=plain_service, commit=SHA["good"], actor=users.alice,
                                 via="admin")
    users.alice.groups.add(ops)
    services.request_release(service=plain_service, commit=SHA["good"], actor=users.alice,
                             via="admin")


def test_a_service_object_sees_its_group_restriction_change(plain_service, users):
    # The checks read a Service's groups once per object; changing them must not go unseen.
    from django.contrib.auth.models import Group

    from dashboard import permissions

    assert permissions.can_deploy(users.alice, plain_service)
    ops = Group.objects.create(name="ops")
    plain_service.allowed_groups.add(ops)
    assert not permissions.can_deploy(users.alice, plain_service)
    assert not permissions.can_deploy(users.alice, Service.objects.get(pk=plain_service.pk))
    plain_service.allowed_groups.clear()
    assert permissions.can_deploy(users.alice, plain_service)


def test_it_rolls_back_only_to_a_succeeded_release(plain_service):
    with pytest.raises(services.InvalidRequest):
        services.request_rollback(service=plain_service, actor=None, via="cli")
    failed = Release.objects.create(service=plain_service, commit_sha=SHA["good"], via="cli",
                                    state=states.FAILED, image="gcr.io/x@sha256:" + "1" * 64)
    with pytest.raises(services.InvalidRequest):
        services.request_rollback(service=plain_service, actor=None, via="cli", to_release=failed)


def test_it_reads_release_lists_in_one_query(plain_service, django_assert_num_queries):
    for i in range(5):
        Release.objects.create(service=plain_service, commit_sha=f"{i:07d}", via="cli",
                               state=states.SUCCEEDED)
    with django_assert_num_queries(1):
        rows = [(r.service.name, r.requested_by, r.state) for r in Release.objects.for_list()]
    assert len(rows) == 5


def test_it_lists_visible_services_in_one_query(plain_service, users, django_assert_num_queries):
    with django_assert_num_queries(3):  # the user's permissions (2, cached after), the list
        names = [s.name for s in Service.objects.visible_to(users.alice)]
    assert names == ["license-api"]


def test_it_refuses_an_unknown_fail_fast_policy(plain_service):
    from django.core.exceptions import ValidationError

    plain_service.failfast_policy = {"CrashLoopBackOff": "sometimes"}
    with pytest.raises(ValidationError, match="CrashLoopBackOff"):
        plain_service.full_clean()
    plain_service.failfast_policy = {"ImagePullBackOff": {"after_seconds": 60}}
    plain_service.full_clean()
