"""Deploying a branch or tag: resolved with git ls-remote against the Service's git_repo."""

from __future__ import annotations

import pytest

from dashboard import refs, services
from tests.gitrepo import make_repo
from tests.pipeline.conftest import SHA


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "license-api"
    return str(path), make_repo(path)


def test_it_resolves_branches_and_tags_by_their_exact_name(repo):
    url, shas = repo
    assert refs.resolve(url, "main") == shas["main"]  # not feature/main, which also ends so
    assert refs.resolve(url, "feature/main") == shas["feature/main"]
    assert refs.resolve(url, "v1") == shas["v1"]
    assert refs.resolve(url, "v2") == shas["v2"]  # the annotated tag's commit, not the tag
    assert refs.resolve(url, "refs/heads/main") == shas["main"]
    with pytest.raises(refs.RefNotFound, match="no branch or tag 'nope'"):
        refs.resolve(url, "nope")
    with pytest.raises(refs.RefNotFound):
        refs.resolve(url, "ain")  # a suffix of a real name is not a match


def test_an_unreachable_repository_is_unavailable_and_keeps_its_password_out(tmp_path):
    with pytest.raises(refs.RepositoryUnavailable):
        refs.resolve(str(tmp_path / "missing"), "main")
    with pytest.raises(refs.RepositoryUnavailable) as err:
        refs.resolve("https://deployer:s3cret-pass@127.0.0.1:1/license-api.git", "main")
    assert "127.0.0.1:1/license-api.git" in str(err.value)
    assert "s3cret" not in str(err.value) and "deployer" not in str(err.value)


def test_a_release_by_ref_records_the_commit_it_pointed_at(plain_service, repo):
    url, shas = repo
    plain_service.git_repo = url
    plain_service.save(update_fields=["git_repo"])
    release = services.request_release(service=plain_service, commit="", ref="main",
                                       actor=None, via="cli", reason="ship main")
    assert (release.commit_sha, release.ref) == (shas["main"], "main")
    with pytest.raises(services.InvalidRequest) as err:
        services.request_release(service=plain_service, commit="", ref="nope", actor=None,
                                 via="cli")
    assert err.value.field == "ref" and err.value.code == 400
    # a SHA given with the ref is used as is (the ref only labels it)
    labelled = services.request_release(service=plain_service, commit=SHA["good"], ref="main",
                                        actor=None, via="cli")
    assert labelled.commit_sha == SHA["good"]


def test_a_ref_needs_a_repository_and_something_must_be_given(plain_service):
    plain_service.git_repo = ""
    plain_service.save(update_fields=["git_repo"])
    with pytest.raises(services.InvalidRequest, match="no git repository") as err:
        services.request_release(service=plain_service, commit="", ref="main", actor=None,
                                 via="cli")
    assert err.value.field == "commit"
    with pytest.raises(services.InvalidRequest, match="or a branch or tag") as err:
        services.request_release(service=plain_service, commit="", ref="", actor=None, via="cli")
    assert err.value.field == "commit"


def test_it_reads_commit_times_and_history_of_local_and_remote_repositories(repo, settings, tmp_path):
    url, shas = repo
    settings.VAR_DIR = tmp_path / "var"
    for where in (url, f"file://{url}"):  # read in place; mirrored under var/git-cache
        times = refs.commit_times(where, [shas["main"], shas["v1"][:10], "dead" * 10])
        assert set(times) == {shas["main"], shas["v1"][:10]}
        assert times[shas["main"]] >= times[shas["v1"][:10]]
        log = refs.log(where, shas["v1"], shas["main"])
        assert log[0].sha == shas["main"] and shas["v1"] not in [c.sha for c in log]
        assert log[-1].subject == "commit for v2"
    assert list((tmp_path / "var" / "git-cache").iterdir())


def test_it_passes_only_shas_to_git_and_keeps_passwords_out(repo, settings, tmp_path):
    url, shas = repo
    settings.VAR_DIR = tmp_path / "var"
    with pytest.raises(ValueError):
        refs.log(url, "--output=/tmp/x", shas["main"])
    with pytest.raises(ValueError):
        refs.log(url, shas["v1"], "main;rm")
    assert refs.commit_times(url, ["--all", "HEAD"]) == {}
    with pytest.raises(refs.RepositoryUnavailable) as err:
        refs.log("https://deployer:s3cret-pass@127.0.0.1:1/license-api.git", shas["v1"], shas["main"])
    assert "s3cret" not in str(err.value) and "deployer" not in str(err.value)
    with pytest.raises(refs.RepositoryUnavailable):
        refs.log(str(tmp_path), shas["v1"], shas["main"])  # not a repository: never a parent's


def test_it_lists_migration_files_added_and_deleted_between_commits(settings, tmp_path):
    from tests.gitrepo import _git

    settings.VAR_DIR = tmp_path / "var"
    path = tmp_path / "src"
    (path / "app" / "migrations").mkdir(parents=True)
    _git(path, "init", "-q")
    (path / "app" / "migrations" / "0001_initial.py").write_text("# 1\n")
    (path / "README").write_text("x\n")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "one")
    one = _git(path, "rev-parse", "HEAD")
    (path / "app" / "migrations" / "0002_more.py").write_text("# 2\n")
    (path / "migrations").mkdir()
    (path / "migrations" / "0001_top.py").write_text("# top\n")
    (path / "app" / "migrations" / "notes.txt").write_text("not python\n")
    (path / "README").write_text("y\n")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "two")
    two = _git(path, "rev-parse", "HEAD")
    for where in (str(path), f"file://{path}"):  # in place, and through the blobless mirror
        assert refs.changed_files(where, one, two) == {
            "added": ["app/migrations/0002_more.py", "migrations/0001_top.py"], "deleted": []}
        assert refs.changed_files(where, two, one)["deleted"] == [
            "app/migrations/0002_more.py", "migrations/0001_top.py"]
    with pytest.raises(ValueError):
        refs.changed_files(str(path), "--output=/tmp/x", two)


def test_it_reads_the_migrations_a_migrate_run_applied():
    from dashboard.rollout.predeploy import Migration, applied_migrations

    out = ("Operations to perform:\n  Apply all migrations: admin, licenses\nRunning migrations:\n"
           "  Applying licenses.0012_license_seats... OK\n"
           "  Applying auth.0013_user-x... OK (0.1s)\n"
           "  Applying licenses.0099_not_null...Traceback (most recent call last):\n"
           "django.db.utils.IntegrityError: ...\n")
    assert applied_migrations(out) == [Migration("licenses.0012_license_seats", True),
                                       Migration("auth.0013_user-x", True),
                                       Migration("licenses.0099_not_null", False)]
    assert applied_migrations("+ ./warm-cache\ndone\n") == []
