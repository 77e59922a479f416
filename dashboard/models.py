"""Deploy targets, releases, their timelines, locks and the audit trail.

Rows are written only by dashboard.services (and its helpers); reads are QuerySet methods.
Invariants live in the database: one active release per Service (partial unique index), one
idempotency key per Service, valid states/kinds/vias, an append-only audit table.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from dashboard import states
from dashboard.names import gke_cluster_error, image_repository_error
from dashboard.rollout import predeploy
from dashboard.rollout.failfast import validate_policy

DEFAULT_HEALTH_PATH = "/health/ready"


def validate_gke_name(value: str) -> None:
    error = gke_cluster_error(value)
    if error:
        raise ValidationError(error)


def validate_image_repository(value: str) -> None:
    error = image_repository_error(value)
    if error:
        raise ValidationError(error)


def validate_service_account_file(value: str) -> None:
    """A readable JSON service-account key (its secret is never echoed back)."""
    try:
        with open(value, encoding="utf-8") as fh:
            info = json.load(fh)
    except OSError as exc:
        raise ValidationError(f"cannot read {value}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ValidationError(f"{value} is not a JSON key file") from exc
    kind = info.get("type") if isinstance(info, dict) else None
    if kind != "service_account":
        raise ValidationError(f"{value} is not a service-account key (type {kind!r})")
    if not all(info.get(k) for k in ("client_email", "private_key", "token_uri")):
        raise ValidationError(f"{value} lacks client_email, private_key or token_uri")


class Cluster(models.Model):
    """How to reach a Kubernetes cluster: a GKE cluster by name (endpoint and CA from the
    Container API, Google credentials), a kubeconfig file + context, or in-cluster config."""

    name = models.SlugField(max_length=63, unique=True)
    gke_name = models.CharField(
        "GKE cluster", max_length=300, blank=True, validators=[validate_gke_name],
        help_text="projects/PROJECT/locations/LOCATION/clusters/CLUSTER; when set, the "
                  "kubeconfig fields are not used")
    credentials_file = models.CharField(
        max_length=500, blank=True, validators=[validate_service_account_file],
        help_text="service-account key file for this GKE cluster only (default: the "
                  "application default credentials)")
    kubeconfig_path = models.CharField(max_length=500, blank=True)
    context = models.CharField(max_length=200, blank=True)
    in_cluster = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.gke_name and (self.in_cluster or self.kubeconfig_path or self.context):
            raise ValidationError({"gke_name": "a GKE cluster is reached through the Container "
                                               "API: leave kubeconfig, context and in-cluster "
                                               "empty"})
        if self.credentials_file and not self.gke_name:
            raise ValidationError({"credentials_file": "only used for a GKE cluster (set the "
                                                       "GKE cluster name)"})


class ServiceQuerySet(models.QuerySet["Service"]):
    def visible_to(self, user: Any) -> ServiceQuerySet:
        """Return the Services `user` may see (dashboard.view_service + allowed_groups)."""
        if user is None or not user.is_active:
            return self.none()
        if getattr(user, "is_superuser", False):
            return self
        if not user.has_perm("dashboard.view_service"):
            return self.none()
        groups = Group.objects.filter(user=user)  # type: ignore[misc]
        return self.filter(Q(allowed_groups=None) | Q(allowed_groups__in=groups)).distinct()


class Service(models.Model):
    """A deploy target: one container of one Deployment, built by Cloud Build."""

    name = models.SlugField(max_length=63, unique=True)
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="services")
    namespace = models.CharField(max_length=63, default="default")
    deployment = models.CharField(max_length=253)
    container = models.CharField(max_length=63)
    image_repository = models.CharField(
        max_length=300, validators=[validate_image_repository],
        help_text="e.g. us-docker.pkg.dev/project/repository/app (or gcr.io/project/app)")
    gcp_project = models.CharField(max_length=100)
    # Build either by trigger id, or inline from build_config_path with git_repo as source.
    build_trigger_id = models.CharField(max_length=100, blank=True)
    build_config_path = models.CharField(max_length=300, blank=True)
    git_repo = models.CharField(max_length=300, blank=True)
    health_service = models.CharField(max_length=253, blank=True)
    health_port = models.PositiveIntegerField(default=80)
    health_path = models.CharField(max_length=300, default=DEFAULT_HEALTH_PATH)
    verify_successes = models.PositiveSmallIntegerField(
        default=3, help_text="consecutive 200s from the health path needed to succeed"
    )
    verify_window_seconds = models.PositiveIntegerField(default=60)
    rollout_timeout_seconds = models.PositiveIntegerField(default=300)
    auto_rollback = models.BooleanField(default=True)
    supersede_queued = models.BooleanField(
        default=True, help_text="a newer queued release replaces older queued ones"
    )
    # Per fatal reason: {"CrashLoopBackOff": {"action": "fatal"|"after"|"never",
    # "sightings": N, "seconds": T}}; missing reasons use krane's defaults
    # (dashboard.rollout.failfast).
    failfast_policy = models.JSONField(default=dict, blank=True)
    # Per deploy target (an environment can carry the same four): the pre-deploy Job
    # (dashboard.rollout.predeploy) and the step rollout.
    pre_deploy_command = models.JSONField(
        default=list, blank=True,
        help_text='run as a Job before the rollout, e.g. ["python", "manage.py", "migrate", '
        '"--noinput"]; [] = none')
    pre_deploy_deadline_seconds = models.PositiveIntegerField(
        default=600, help_text="the pre-deploy Job's activeDeadlineSeconds")
    rollout_steps = models.JSONField(
        default=list, blank=True,
        help_text="new pods per step before a bake, e.g. [1]: one pod, bake, then the rest")
    bake_seconds = models.PositiveIntegerField(default=60, help_text="bake after each step")
    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    allowed_groups = models.ManyToManyField(
        Group, blank=True, related_name="+",
        help_text="empty: everyone with the model permission",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [
            ("deploy_service", "Can deploy the service"),
            ("rollback_service", "Can roll the service back"),
            ("lock_service", "Can lock and unlock the service"),
            ("force_lock", "Can deploy through a lock (break-glass)"),
            ("pause_service", "Can pause and resume rollouts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rollout_timeout_seconds__gt=0), name="service_rollout_timeout_positive"
            ),
            models.CheckConstraint(
                condition=Q(verify_successes__gt=0), name="service_verify_successes_positive"
            ),
            models.CheckConstraint(condition=Q(bake_seconds__gt=0),
                                   name="service_bake_seconds_positive"),
            models.CheckConstraint(condition=Q(pre_deploy_deadline_seconds__gt=0),
                                   name="service_pre_deploy_deadline_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # A bad policy would otherwise only surface mid-rollout, in the worker.
        errors: dict[str, str] = {}
        checks = (("failfast_policy", lambda: validate_policy(self.failfast_policy or {})),
                  ("pre_deploy_command", lambda: predeploy.check_command(
                      self.pre_deploy_command)),
                  ("pre_deploy_deadline_seconds", lambda: predeploy.check_positive_seconds(
                      self.pre_deploy_deadline_seconds)),
                  ("rollout_steps", lambda: predeploy.check_steps(self.rollout_steps)),
                  ("bake_seconds", lambda: predeploy.check_positive_seconds(self.bake_seconds)))
        for field, check in checks:
            try:
                check()
            except ValueError as exc:
                errors[field] = str(exc)
        if errors:
            raise ValidationError(errors)


class ReleaseQuerySet(models.QuerySet["Release"]):
    def active(self) -> ReleaseQuerySet:
        return self.filter(state__in=states.ACTIVE)

    def queued(self) -> ReleaseQuerySet:
        return self.filter(state=states.QUEUED)

    def unfinished(self) -> ReleaseQuerySet:
        return self.filter(state__in=states.ACTIVE | states.PENDING)

    def terminal(self) -> ReleaseQuerySet:
        return self.filter(state__in=states.TERMINAL)

    def for_service(self, service: Service | int) -> ReleaseQuerySet:
        return self.filter(service=service)

    def succeeded(self) -> ReleaseQuerySet:
        return self.filter(state=states.SUCCEEDED)

    def for_list(self) -> ReleaseQuerySet:
        """Rows for list pages: one query with the Service and requester joined."""
        return self.select_related("service", "requested_by").order_by("-id")

    def schema_changes_after(self, release: Release) -> ReleaseQuerySet:
        """Releases of the same Service after `release` whose pre-deploy Job completed (in any
        end state: a rollout that failed later leaves the migrations applied)."""
        return (self.filter(service_id=release.service_id, id__gt=release.pk,
                            pre_deploy_exit_code=0).exclude(pre_deploy_job="").order_by("id"))

    def stale(self, before: Any) -> ReleaseQuerySet:
        """Active releases whose driver has not reported since `before` (for the reconciler)."""
        return self.active().filter(Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True))


class Release(models.Model):
    """One request to put a commit (kind deploy) or an earlier image (kind rollback) live."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="releases")
    kind = models.CharField(max_length=10, choices=states.KIND_CHOICES, default=states.KIND_DEPLOY)
    commit_sha = models.CharField(max_length=40, blank=True)
    ref = models.CharField(max_length=255, blank=True)
    image = models.CharField(max_length=500, blank=True, help_text="repository@digest")
    image_digest = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=20, choices=states.CHOICES, default=states.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="releases",
    )
    via = models.CharField(max_length=10, choices=states.VIA_CHOICES)
    reason = models.TextField(blank=True)
    force_reason = models.TextField(blank=True)
    # NULL, not "": the partial unique index below ignores releases without a key.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    rollback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="kind rollback: the succeeded release whose image is reused",
    )
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Build
    build_id = models.CharField(max_length=100, blank=True)
    build_log_offset = models.BigIntegerField(default=0)
    build_steps = models.JSONField(default=list, blank=True)
    # Rollout
    image_before = models.CharField(max_length=500, blank=True)
    revision_before = models.PositiveIntegerField(null=True, blank=True)
    revision_after = models.PositiveIntegerField(null=True, blank=True)
    patched_at = models.DateTimeField(null=True, blank=True)
    undo_sent_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    last_progress = models.JSONField(default=dict, blank=True)
    sightings = models.JSONField(default=dict, blank=True)
    # Pre-deploy Job (dashboard.releases.predeploy): its name once created, its output so
    # far (followed live; kept for the rollback guard), its container's exit code.
    pre_deploy_job = models.CharField(max_length=63, blank=True)
    pre_deploy_log = models.TextField(blank=True)
    pre_deploy_exit_code = models.IntegerField(null=True, blank=True)
    # Step rollout (dashboard.releases.stepped): where the release is in the Service's steps
    # ({index, pods, phase, bake_until, restarts}), written by the driver; a person's
    # "Continue now" is its own column so the driver's writes never lose it.
    rollout_step = models.JSONField(default=dict, blank=True)
    # The pod template the release wants (dashboard.rollout.foreign): any other is a foreign
    # write.
    template_fingerprint = models.CharField(max_length=64, blank=True)
    step_continue_at = models.DateTimeField(null=True, blank=True)
    # Timings: when each phase began; `timings` holds seconds spent per finished phase.
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    phase_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    failure_summary = models.JSONField(default=dict, blank=True)
    # Driver bookkeeping (dashboard.releases.driver): the current chain's tick, a lease so two runs
    # of one step never act at once, and the heartbeat the reconciler watches.
    tick = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["service", "state"]), models.Index(fields=["state"])]
        constraints = [
            models.UniqueConstraint(
                fields=["service"], condition=Q(state__in=sorted(states.ACTIVE)),
                name="one_active_release_per_service",
            ),
            models.UniqueConstraint(
                fields=["service", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="release_idempotency_key_per_service",
            ),
            models.CheckConstraint(condition=Q(state__in=states.ALL), name="release_state_valid"),
            models.CheckConstraint(condition=Q(kind__in=states.KINDS), name="release_kind_valid"),
            models.CheckConstraint(condition=Q(via__in=states.VIAS), name="release_via_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.service_id} {self.short_sha or self.image} ({self.state})"

    @property
    def short_sha(self) -> str:
        return self.commit_sha[:7]

    @property
    def is_active(self) -> bool:
        return self.state in states.ACTIVE

    @property
    def is_terminal(self) -> bool:
        return self.state in states.TERMINAL

    @property
    def tag(self) -> str:
        """The Cloud Build tag that identifies this release's one build."""
        return f"release-{self.pk}"


class AppendOnly(Exception):
    """Raised on any attempt to change or delete an append-only row."""


class ReleaseEvent(models.Model):
    """The append-only timeline of a release: states, build steps, rollout progress, pods."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=30)
    state = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["release", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["release", "seq"], name="release_event_seq_unique")
        ]

    def __str__(self) -> str:
        return f"{self.release_id}#{self.seq} {self.kind}: {self.message[:60]}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("release events are append-only")
        super().save(*args, **kwargs)


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("the audit trail is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("the audit trail is append-only")

    def for_service(self, name: str) -> AuditQuerySet:
        return self.filter(service=name)


class AuditEntry(models.Model):
    """One hash-chained, append-only record of who did what (dashboard.audit writes them).

    No foreign keys on purpose: entries outlive the rows they mention and must hash the same.
    """

    at = models.DateTimeField()
    actor = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=10)
    action = models.CharField(max_length=50)
    service = models.CharField(max_length=63, blank=True)
    release_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # Which of settings.AUDIT_HMAC_KEYS keyed `hash` (empty: an entry from before keys).
    key_id = models.CharField(max_length=16, blank=True, default="")

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["service", "id"]), models.Index(fields=["release_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor or '-'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("the audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("the audit trail is append-only")


class LockQuerySet(models.QuerySet["Lock"]):
    def active(self) -> LockQuerySet:
        """Locks that still hold (no expiry, or expiry in the future)."""
        now = timezone.now()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class Lock(models.Model):
    """A Service lock: new releases are refused (owner and reason shown) until unlocked."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="lock")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    owner_name = models.CharField(max_length=150, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = LockQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.service_id} locked by {self.owner_name or '-'}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class AuditVerifiedPrefix(models.Model):
    """How far the audit chain has been verified (dashboard/auditcheck.py): entries up to
    `entry_id` chain correctly and that entry's hash was `hash`. A cache, one row: the audit
    page checks only what was appended since and that this entry is unchanged; the periodic
    full walk (and `verify_audit`) re-checks everything and records `full_at`."""

    entry_id = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)
    verified_at = models.DateTimeField(default=timezone.now)
    full_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"audit verified to #{self.entry_id} ({self.count} entries)"
