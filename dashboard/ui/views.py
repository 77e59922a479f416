"""The admin-hosted dashboard pages. Views validate input, check permissions and call
dashboard.services (the only code that changes state); they never decide anything themselves.

Every page requires a staff login (the admin's); every POST checks dashboard.permissions
again (403) before services.py checks it a third time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard import permissions, services, states
from dashboard.models import Release, Service
from dashboard.ui import history, pages
from dashboard.ui.forms import DeployForm, LockForm, ReasonForm, RollbackForm

VIA = "admin"


def _page(request: HttpRequest, template: str, title: str, status: int = 200,
          crumbs: list[tuple[str, str]] | None = None, **context: Any) -> TemplateResponse:
    ctx = {**admin.site.each_context(request), "title": title, "crumbs": crumbs or [], **context}
    return TemplateResponse(request, template, ctx, status=status)


def _service(request: HttpRequest, name: str) -> Service:
    """The Service if the user may view it; 404 otherwise (do not reveal that it exists)."""
    service = get_object_or_404(
        Service.objects.select_related("cluster").prefetch_related("allowed_groups"), name=name
    )
    if not permissions.can_view(request.user, service):
        raise Http404("no such service")
    return service


def _release(request: HttpRequest, pk: int) -> Release:
    release = get_object_or_404(
        Release.objects.select_related("service", "service__cluster", "requested_by",
                                       "rollback_of"), pk=pk
    )
    if not permissions.can_view(request.user, release.service):
        raise Http404("no such release")
    return release


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied("you may not do this to this service")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _release_url(release: Release) -> str:
    return reverse("deployments:release", args=[release.pk])


# --- deploy -----------------------------------------------------------------------------------

@staff_member_required
@require_http_methods(["GET", "POST"])
def deploy(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the form. POST: validate, then the confirmation page; POST with confirm=yes:
    request the release and go to its page."""
    service = _service(request, name)
    if request.method == "POST":
        _require(permissions.can_deploy(request.user, service))
    elif not permissions.can_deploy(request.user, service):
        raise PermissionDenied("you may not deploy this service")
    can_force = permissions.can_force(request.user, service)
    form = DeployForm(request.POST or None, can_force=can_force)
    crumbs = [(service.name, reverse("deployments:service", args=[service.name]))]
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data.get("force") and not can_force:
            raise PermissionDenied("you may not deploy past a lock")
        target = form.target()
        if request.POST.get("confirm") == "yes":
            try:
                release = services.request_release(
                    service=service, actor=request.user, via=VIA,
                    reason=form.cleaned_data["reason"],
                    force_reason=(form.cleaned_data.get("force_reason") or None)
                    if form.cleaned_data.get("force") else None,
                    **target,
                )
            except services.ServiceError as exc:
                if exc.code == 403:
                    raise PermissionDenied(exc.detail) from exc
                messages.error(request, exc.detail)
                return _page(request, "dashboard/deploy_form.html", f"Deploy {service.name}",
                             status=exc.code, form=form, service=service, crumbs=crumbs)
            messages.success(request, f"Release #{release.pk} requested.")
            return redirect(_release_url(release))
        preview = pages.deploy_preview(service, target["commit"], target["ref"])
        return _page(request, "dashboard/deploy_confirm.html", f"Confirm deploy of {service.name}",
                     form=form, service=service, crumbs=crumbs, **preview)
    return _page(request, "dashboard/deploy_form.html", f"Deploy {service.name}",
                 status=400 if form.is_bound else 200, form=form, service=service,
                 crumbs=crumbs)


@staff_member_required
@require_GET
def service_detail(request: HttpRequest, name: str) -> HttpResponse:
    """One Service: its card, live pods/rollout/events (kubectl get/describe, live) and its
    recent releases."""
    found = pages.cards(request.user, name=name)
    if not found:
        raise Http404("no such service")
    card = found[0]
    recent = list(Release.objects.for_list().filter(service=card.service)[:10])
    try:
        revisions, revisions_error = services.revisions(card.service), ""
    except services.ServiceError as exc:
        revisions, revisions_error = [], exc.detail
    config = {"wsPath": f"/ws/services/{name}/",
              "fragmentUrl": reverse("deployments:service-card", args=[name])}
    return _page(request, "dashboard/service.html", name, card=card, service=card.service,
                 live=card.live, rollout=card.live.rollout or {},
                 rollout_percent=pages.rollout_percent(card.live.rollout), recent=recent,
                 revisions=revisions, revisions_error=revisions_error, config=config)


@staff_member_required
@require_GET
def service_card(request: HttpRequest, name: str) -> JsonResponse:
    """One Service's card on the admin index, re-rendered for the index's script when the
    service's stream says a release or the lock changed."""
    found = pages.cards(request.user, name=name)
    if not found:
        raise Http404("no such service")
    html = render_to_string("dashboard/_card.html", {"card": found[0]}, request=request)
    return JsonResponse({"service": name, "html": html, "fragments": {"card": html}})


# --- the release page -------------------------------------------------------------------------

@staff_member_required
@require_GET
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(request, pk)
    ctx = history.release_context(request.user, release)
    config = {
        "id": release.pk,
        "wsPath": f"/ws/releases/{release.pk}/",
        "fragmentUrl": reverse("deployments:release-fragment", args=[release.pk]),
        "state": release.state,
        # The events panel shows only the release's objects within its window (release.js).
        "eventScope": {"deployment": release.service.deployment,
                       "since": _iso(release.patched_at or release.started_at),
                       "until": _iso(release.finished_at)},
    }
    crumbs = [("Release history", reverse("deployments:releases"))]
    return _page(request, "dashboard/release.html", f"Release #{release.pk} of {release.service}",
                 crumbs=crumbs, config=config, **ctx)


FRAGMENTS = ("summary", "timeline", "failure", "actions", "build")


@staff_member_required
@require_GET
def release_fragment(request: HttpRequest, pk: int) -> JsonResponse:
    """The durable parts of the release page, rendered by the same templates, for the page's
    script to swap in when the state changes (or while its socket is down)."""
    release = _release(request, pk)
    ctx = {**history.release_context(request.user, release), "request": request}
    fragments = {
        name: render_to_string(f"dashboard/release/_{name}.html", ctx, request=request)
        for name in FRAGMENTS
    }
    return JsonResponse({"id": release.pk, "state": release.state, "fragments": fragments})


ACTIONS = {
    "cancel": ("Cancel", permissions.can_deploy),
    "rollback": ("Roll back", permissions.can_rollback),
    "pause": ("Pause rollout of", permissions.can_pause),
    "resume": ("Resume rollout of", permissions.can_pause),
    "continue": ("Continue the rollout step of", permissions.can_deploy),
}


@staff_member_required
@require_http_methods(["GET", "POST"])
def service_action(request: HttpRequest, name: str, action: str) -> HttpResponse:
    """Confirmation page (GET) and the action itself (POST) for cancel, rollback, pause,
    resume. Cancel acts on the service's unfinished release (or ?release=<id>)."""
    if action not in ACTIONS:
        raise Http404("no such action")
    service = _service(request, name)
    verb, check = ACTIONS[action]
    _require(check(request.user, service))
    release = None
    if action in ("cancel", "continue"):
        rid = request.POST.get("release") or request.GET.get("release")
        qs = Release.objects.for_service(service).unfinished()
        release = qs.filter(pk=rid).first() if rid and rid.isdigit() else qs.order_by("-id").first()
        if release is None:
            messages.info(request, f"Nothing to {action}: no unfinished release.")
            return redirect("admin:index")
    choices = pages.rollback_choices(service) if action == "rollback" else None
    initial = {"revision": request.GET.get("revision")} if action == "rollback" else {}
    form: ReasonForm = (RollbackForm(request.POST or None, choices=choices, initial=initial)
                        if action == "rollback" else ReasonForm(request.POST or None))
    status = 200
    schema: list[dict[str, Any]] = []
    if action == "rollback" and request.method == "GET":
        try:
            schema = services.schema_changes(services.rollback_target(service))
        except services.ServiceError:
            schema = []  # no target: the POST says why
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        try:
            result = _act(action, request, service, release, reason, form.cleaned_data)
        except services.ServiceError as exc:
            if exc.code == 403:
                raise PermissionDenied(exc.detail) from exc
            messages.error(request, exc.detail)
            schema = getattr(exc, "releases", [])
            status = exc.code
        else:
            messages.success(request, f"{verb} {service.name}: done.")
            if isinstance(result, Release):
                return redirect(_release_url(result))
            nxt = request.POST.get("next", "")
            return redirect(nxt if nxt.startswith("/admin/") else reverse("admin:index"))
    if form.is_bound and not form.is_valid():
        status = 400
    return _page(request, "dashboard/action_confirm.html", f"{verb} {service.name}",
                 status=status,
                 form=form, service=service, action=action, verb=verb, release=release,
                 revision=form["revision"].value() if action == "rollback" else None,
                 schema_changes=schema,
                 next=request.GET.get("next", request.POST.get("next", "")))


def _act(action: str, request: HttpRequest, service: Service, release: Release | None,
         reason: str, data: dict[str, Any]) -> Any:
    kw: dict[str, Any] = {"actor": request.user, "via": VIA, "reason": reason}
    if action == "cancel" and release is not None:
        return services.cancel_release(release=release, **kw)
    if action == "rollback" and data.get("revision"):
        return services.request_rollback_to_revision(
            service=service, revision=data["revision"],
            acknowledge_schema_change=bool(data.get("acknowledge_schema_change")), **kw)
    if action == "continue" and release is not None:
        return services.continue_step(release=release, **kw)
    if action == "rollback":
        target = None
        if data.get("to_release"):
            target = get_object_or_404(Release.objects.for_service(service),
                                       pk=data["to_release"])
        return services.request_rollback(
            service=service, to_release=target,
            acknowledge_schema_change=bool(data.get("acknowledge_schema_change")), **kw)
    if action == "pause":
        return services.pause_service(service=service, **kw)
    return services.resume_service(service=service, **kw)


# --- history, audit, locks, metrics -----------------------------------------------------------

@staff_member_required
@require_GET
def releases(request: HttpRequest) -> HttpResponse:
    ctx = history.release_list(request)
    return _page(request, "dashboard/releases.html", "Release history", **ctx)


@staff_member_required
@require_GET
def releases_export(request: HttpRequest, fmt: str) -> HttpResponse:
    return history.export(request, fmt)


@staff_member_required
@require_GET
def release_compare(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(request, pk)
    ctx = history.compare(release)
    crumbs = [("Release history", reverse("deployments:releases")),
              (f"#{release.pk}", _release_url(release))]
    return _page(request, "dashboard/compare.html", f"Release #{release.pk} compared",
                 crumbs=crumbs, **ctx)


@staff_member_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    return _page(request, "dashboard/audit.html", "Audit log", **history.audit_context(request))


@staff_member_required
@require_GET
def locks(request: HttpRequest) -> HttpResponse:
    ctx = history.locks_context(request.user)
    form = LockForm(services=[s.name for s in ctx["lockable"]])
    return _page(request, "dashboard/locks.html", "Locks", form=form, **ctx)


@staff_member_required
@require_POST
def lock_take(request: HttpRequest) -> HttpResponse:
    ctx = history.locks_context(request.user)
    form = LockForm(request.POST, services=[s.name for s in ctx["lockable"]])
    if not form.is_valid():
        if "service" in form.errors and request.POST.get("service"):
            raise PermissionDenied("you may not lock this service")
        return _page(request, "dashboard/locks.html", "Locks", status=400, form=form, **ctx)
    service = _service(request, form.cleaned_data["service"])
    _require(permissions.can_lock(request.user, service))
    minutes = form.cleaned_data.get("expires_in_minutes")
    expires = timezone.now() + timedelta(minutes=minutes) if minutes else None
    try:
        services.lock_service(service=service, actor=request.user, via=VIA,
                              reason=form.cleaned_data["reason"], expires_at=expires)
    except services.ServiceError as exc:
        if exc.code == 403:
            raise PermissionDenied(exc.detail) from exc
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{service.name} locked.")
    return redirect("deployments:locks")


@staff_member_required
@require_POST
def lock_release(request: HttpRequest, name: str) -> HttpResponse:
    service = _service(request, name)
    _require(permissions.can_lock(request.user, service))
    try:
        services.unlock_service(service=service, actor=request.user, via=VIA,
                                reason=request.POST.get("reason", ""))
    except services.ServiceError as exc:
        if exc.code == 403:
            raise PermissionDenied(exc.detail) from exc
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{service.name} unlocked.")
    return redirect("deployments:locks")


@staff_member_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return _page(request, "dashboard/metrics.html", "Delivery metrics",
                 **history.metrics_context(request))


@staff_member_required
@require_GET
def metrics_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in ("csv", "json"):
        raise Http404("export as csv or json")
    return history.metrics_export(request, fmt)


def release_state_label(state: str) -> str:
    return dict(states.CHOICES).get(state, state)
