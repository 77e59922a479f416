"""Foreign writes during DEPLOYING and VERIFYING: somebody else changed the Deployment's pod
template (dashboard.rollout.foreign says who and what). The release fails with reason
`foreign_write` and is NOT rolled back: undoing blindly would overwrite the other writer's
change, so the failure card asks instead ("roll back anyway"). If the release had paused the
Deployment for a step, it resumes it (its own change), so the other writer's template rolls
out as they meant it to.
"""

from __future__ import annotations

from typing import Any

from dashboard.models import Release
from dashboard.releases import lifecycle
from dashboard.releases.failing import fail
from dashboard.rollout import foreign


def expect(release: Release, dep: dict[str, Any]) -> str:
    """The fingerprint of the template the release wants, from the Deployment before (or
    right after) its own `set image`."""
    svc = release.service
    return foreign.fingerprint(foreign.expected_template(dep, svc.container, release.image))


def caught(release: Release, kube: Any, dep: dict[str, Any]) -> bool:
    """Fail the release (no rollback) if the template is not the one it wants."""
    found = foreign.foreign_write(dep, release.template_fingerprint, since=release.patched_at)
    if found is None:
        return False
    svc = release.service
    lifecycle.record_event(release, "foreign_write", found.sentence(svc.deployment),
                           found.to_dict(), publish_type="release.event")
    if (dep.get("spec") or {}).get("paused") and (release.rollout_step or {}).get("phase"):
        kube.resume(svc.namespace, svc.deployment)
    fail(release, code="foreign_write", reason=found.sentence(svc.deployment), rollback=False,
         extra={"foreign_write": found.to_dict()})
    return True
