"""`manage.py deploy/rollback --wait` as people and the acceptance script use them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dashboard import states
from dashboard.models import Release
from tests.pipeline.conftest import SHA

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_refuses_a_malformed_sha_with_a_clear_message(plain_service):
    with pytest.raises(CommandError, match="7 to 40 hexadecimal"):
        call_command("deploy", "license-api", "--commit", "nothex")
    with pytest.raises(CommandError, match="unknown service"):
        call_command("deploy", "nope", "--commit", SHA["good"])
    with pytest.raises(CommandError, match="or a branch or tag"):
        call_command("deploy", "license-api")


@pytest.mark.slow
def test_it_waits_and_reports_a_crash_loop_rolled_back(service, worker):
    out = StringIO()
    call_command("deploy", "license-api", "--commit", SHA["good"], "--wait", stdout=out)
    assert "succeeded" in out.getvalue()
    out = StringIO()
    with pytest.raises(CommandError) as err:
        call_command("deploy", "license-api", "--commit", SHA["dead"], "--reason", "t", "--wait",
                     stdout=out)
    text = out.getvalue() + str(err.value)
    assert "CrashLoopBackOff" in text
    assert "rolled back" in text
    assert "building" in text and "deploying" in text and "available" in text, text
    assert Release.objects.get(commit_sha=SHA["dead"]).state == states.ROLLED_BACK
    out = StringIO()
    good = Release.objects.get(commit_sha=SHA["good"])
    call_command("rollback", "license-api", "--to", str(good.pk), "--wait", stdout=out)
    assert "succeeded" in out.getvalue()
