"""The stock admin is no side door: tokens, Slack mappings, Services, Clusters, locks and
notification targets change only through the service layer (permission checks, audit trail);
every admin list is scoped to the Services the user may see; git URL credentials never show."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from dashboard import services
from dashboard.api.models import ApiToken, NotificationTarget, SlackUserMapping
from dashboard.models import AuditEntry, Cluster, Lock, Release, Service

pytestmark = pytest.mark.django_db
SECRET_REPO = "https://deploy-bot:hunter2@git.example.com/team/secret.git"


def _user(name: str, *perms: str, superuser: bool = False) -> User:
    user = User.objects.create_user(name, password="x-long-password-1", is_staff=True,
                                    is_superuser=superuser)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    return User.objects.get(pk=user.pk)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def root() -> User:
    return _user("root", superuser=True)


@pytest.fixture
def cluster() -> Cluster:
    return Cluster.objects.create(name="c1", kubeconfig_path="/nonexistent", context="c1")


def _service(cluster: Cluster, name: str, **kw) -> Service:
    return Service.objects.create(name=name, cluster=cluster, namespace="default",
                                  deployment=name, container=name,
                                  image_repository=f"gcr.io/sandbox/{name}", gcp_project="sandbox",
                                  build_trigger_id=name, health_service=name, **kw)


@pytest.fixture
def secret_service(cluster: Cluster) -> Service:
    svc = _service(cluster, "secret-svc", git_repo=SECRET_REPO)
    svc.allowed_groups.set([Group.objects.create(name="secret-team")])
    Release.objects.create(service=svc, commit_sha="a" * 40, state="succeeded", via="api")
    Lock.objects.create(service=svc, owner_name="someone", reason="secret freeze")
    from dashboard import audit
    audit.append(actor="x", via="api", action="lock", service="secret-svc", reason="r")
    return svc


# --- tokens ----------------------------------------------------------------------------------

TOKEN_FORM = {"name": "t", "scopes": ["admin"], "services": "", "via": "api"}


def test_it_lets_no_one_but_a_superuser_mint_a_token_for_someone_else(root):
    staff = _user("staff", "add_apitoken", "view_apitoken")
    r = _client(staff).post("/admin/dashboard_api/apitoken/add/",
                            {**TOKEN_FORM, "user": root.pk})
    assert r.status_code == 200 and not ApiToken.objects.exists()
    assert not AuditEntry.objects.filter(action="token.create").exists()


def test_a_tokens_scopes_never_exceed_its_creators_permissions():
    staff = _user("staff", "add_apitoken", "view_apitoken", "view_service")
    client = _client(staff)
    r = client.post("/admin/dashboard_api/apitoken/add/", {**TOKEN_FORM, "user": staff.pk})
    assert r.status_code == 200 and "beyond your own permissions: admin" in r.content.decode()
    r = client.post("/admin/dashboard_api/apitoken/add/",
                    {**TOKEN_FORM, "scopes": ["read"], "user": staff.pk})
    assert r.status_code == 302
    token = ApiToken.objects.get()
    assert (token.user, token.scopes, token.created_by) == (staff, ["read"], staff)
    entry = AuditEntry.objects.get(action="token.create")
    assert entry.actor == "staff" and entry.via == "admin"
    assert entry.payload["acting_as"] == "staff" and entry.payload["scopes"] == ["read"]


def test_a_superuser_may_mint_for_another_user_and_it_is_audited(root):
    other = _user("bot")
    r = _client(root).post("/admin/dashboard_api/apitoken/add/", {**TOKEN_FORM, "user": other.pk})
    assert r.status_code == 302 and ApiToken.objects.get().user == other
    assert AuditEntry.objects.get(action="token.create").payload["acting_as"] == "bot"


def test_a_staff_user_cannot_widen_or_move_an_existing_token(root):
    staff = _user("staff", "add_apitoken", "change_apitoken", "view_apitoken", "view_service")
    token, _ = ApiToken.issue(name="mine", scopes=["read"], user=staff)
    r = _client(staff).post(f"/admin/dashboard_api/apitoken/{token.pk}/change/",
                            {**TOKEN_FORM, "name": "mine", "user": root.pk})
    assert r.status_code == 200
    token.refresh_from_db()
    assert token.user == staff and token.scopes == ["read"]


# --- Slack mappings ------------------------------------------------------------------------

def test_slack_mappings_need_their_own_permission(root):
    staff = _user("staff", "add_slackusermapping", "view_slackusermapping")
    form = {"team_id": "T1", "slack_user_id": "U1", "user": staff.pk, "verified_email": ""}
    assert _client(staff).post("/admin/dashboard_api/slackusermapping/add/", form).status_code == 403
    mapper = _user("mapper", "add_slackusermapping", "view_slackusermapping", "map_slack_user")
    client = _client(mapper)
    r = client.post("/admin/dashboard_api/slackusermapping/add/", {**form, "user": root.pk})
    assert r.status_code == 200 and not SlackUserMapping.objects.exists()
    r = client.post("/admin/dashboard_api/slackusermapping/add/", {**form, "user": mapper.pk})
    assert r.status_code == 302 and SlackUserMapping.objects.get().user == mapper
    assert AuditEntry.objects.get(action="slack_mapping.create").actor == "mapper"


# --- notification targets ------------------------------------------------------------------

def test_notification_targets_are_audited_without_their_url(root):
    form = {"name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/T/B/sekrit",
            "secret": "", "services": "[]", "events": "[]", "active": "on"}
    r = _client(root).post("/admin/dashboard_api/notificationtarget/add/", form)
    assert r.status_code == 302 and NotificationTarget.objects.exists()
    entry = AuditEntry.objects.get(action="notification_target.create")
    assert entry.payload["host"] == "hooks.slack.com" and "sekrit" not in str(entry.payload)


def test_notification_targets_of_hidden_services_stay_hidden(secret_service):
    NotificationTarget.objects.create(name="secret-hook", url="https://ci.example.com/a",
                                      services=["secret-svc"])
    NotificationTarget.objects.create(name="all-hook", url="https://ci.example.com/b")
    viewer = _user("viewer", "view_service", "view_notificationtarget")
    body = _client(viewer).get("/admin/dashboard_api/notificationtarget/").content.decode()
    assert "all-hook" in body and "secret-hook" not in body


# --- scoping and redaction -----------------------------------------------------------------

LISTS = ["/admin/dashboard/service/", "/admin/dashboard/release/", "/admin/dashboard/lock/",
         "/admin/dashboard/auditentry/"]


def test_a_restricted_service_is_invisible_in_every_admin_list(secret_service, cluster):
    _service(cluster, "open-svc")
    viewer = _user("viewer", "view_service", "view_release", "view_lock", "view_auditentry",
                   "view_cluster")
    client = _client(viewer)
    for url in LISTS:
        body = client.get(url).content.decode()
        assert "secret-svc" not in body and "hunter2" not in body, url
    assert "open-svc" in client.get(LISTS[0]).content.decode()
    assert client.get(f"/admin/dashboard/service/{secret_service.pk}/change/").status_code == 302
    viewer.groups.add(Group.objects.get(name="secret-team"))
    assert "secret-svc" in _client(viewer).get(LISTS[1]).content.decode()


def test_git_url_credentials_never_show(secret_service, root):
    member = _user("member", "view_service")
    member.groups.add(Group.objects.get(name="secret-team"))
    page = _client(member).get(f"/admin/dashboard/service/{secret_service.pk}/change/")
    assert page.status_code == 200 and "hunter2" not in page.content.decode()
    assert "git.example.com/team/secret.git" in page.content.decode()
    page = _client(root).get(f"/admin/dashboard/service/{secret_service.pk}/change/")
    assert "hunter2" not in page.content.decode()


def test_saving_the_masked_url_keeps_the_credentials_and_is_audited(secret_service, root):
    from django.forms.models import model_to_dict

    from dashboard.admin import ServiceForm

    data = {k: v for k, v in model_to_dict(secret_service).items() if v is not None}
    # JSON fields come back from a form as text
    data.update({k: json.dumps(v) for k, v in data.items()
                 if k in ("pre_deploy_command", "rollout_steps", "failfast_policy")})
    data.update(git_repo="https://git.example.com/team/secret.git", namespace="prod",
                allowed_groups=[g.pk for g in secret_service.allowed_groups.all()])
    form = ServiceForm(data=data, instance=secret_service)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["git_repo"] == SECRET_REPO


def test_a_service_edit_in_the_admin_is_checked_and_audited(secret_service, root, cluster):
    outsider = _user("outsider", "view_service", "change_service")
    url = f"/admin/dashboard/service/{secret_service.pk}/change/"
    assert _client(outsider).get(url).status_code == 302  # not even visible
    svc = _service(cluster, "open-svc")
    from django.forms.models import model_to_dict
    data = {k: ("" if v is None else v) for k, v in model_to_dict(svc).items()}
    data.update(namespace="prod", allowed_groups=[])
    r = _client(outsider).post(f"/admin/dashboard/service/{svc.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    entry = AuditEntry.objects.get(action="service.change")
    assert entry.actor == "outsider" and "namespace" in entry.payload["changed"]


def test_removing_a_lock_in_the_admin_is_an_audited_unlock(cluster, root):
    svc = _service(cluster, "open-svc")
    owner = _user("owner", "view_service", "lock_service")
    services.lock_service(service=svc, actor=owner, via="admin", reason="freeze")
    lock = Lock.objects.get()
    bystander = _user("bystander", "view_service", "view_lock", "delete_lock")
    r = _client(bystander).post(f"/admin/dashboard/lock/{lock.pk}/delete/", {"post": "yes"})
    assert r.status_code == 403 and Lock.objects.exists()
    r = _client(owner).post(f"/admin/dashboard/lock/{lock.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302 and not Lock.objects.exists()
    assert AuditEntry.objects.filter(action="unlock", actor="owner").exists()


def test_the_compare_page_links_without_credentials(secret_service, root):
    from django.urls import reverse

    newer = Release.objects.create(service=secret_service, commit_sha="b" * 40,
                                   state="succeeded", via="api")
    body = _client(root).get(reverse("deployments:release-compare", args=[newer.pk]))
    text = body.content.decode()
    assert "hunter2" not in text and "git.example.com/team/secret/compare/" in text
