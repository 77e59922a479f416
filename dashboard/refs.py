"""Resolve a branch or tag name to the commit it points at, with `git ls-remote`.

Deploying "main" means deploying the commit main points at when the request arrives: it is
resolved once, before the release exists, and the release records both (a retry or a later
look at the release names the same commit even after the branch moved). The Service's
`git_repo` is anything `git ls-remote` accepts (https or ssh URL, or a local path); nothing is
cloned. Credentials in a URL never appear in messages.
"""

from __future__ import annotations

import os
import re
import subprocess

TIMEOUT = 15.0  # seconds for one ls-remote
_USERINFO = re.compile(r"(?<=://)[^/@]+@")


class RefNotFound(Exception):
    """The repository answered and has no such branch or tag."""


class RepositoryUnavailable(Exception):
    """git could not ask the repository (unreachable, refused, no git, too slow)."""


def redact(repo: str) -> str:
    """The repository as it may appear in messages: user and password removed."""
    return _USERINFO.sub("", repo)


def _ls_remote(repo: str, ref: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true",
           "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")}
    try:
        done = subprocess.run(
            ["git", "ls-remote", "--exit-code", "--", repo, ref, f"{ref}^{{}}"],
            capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False,
        )
    except FileNotFoundError:
        raise RepositoryUnavailable("git is not installed here") from None
    except subprocess.TimeoutExpired:
        raise RepositoryUnavailable(
            f"{redact(repo)} did not answer within {TIMEOUT:.0f} s") from None
    if done.returncode == 2:  # --exit-code: the repository answered without a match
        raise RefNotFound(f"no branch or tag {ref!r} in {redact(repo)}")
    if done.returncode != 0:
        raise RepositoryUnavailable(f"git ls-remote {redact(repo)} failed "
                                    f"(exit {done.returncode})")
    return done.stdout


def resolve(repo: str, ref: str) -> str:
    """The commit SHA `ref` (a branch, a tag, or a full refs/... name) points at in `repo`.

    A branch wins over a tag of the same name (as git checkout does); an annotated tag is
    peeled to its commit. Raises RefNotFound or RepositoryUnavailable.
    """
    found: dict[str, str] = {}
    for line in _ls_remote(repo, ref).splitlines():
        sha, _, name = line.partition("\t")
        found[name.strip()] = sha.strip().lower()
    for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", ref,
                 f"{ref}^{{}}"):
        if name in found and re.fullmatch(r"[0-9a-f]{40}", found[name]):
            return found[name]
    # ls-remote matches by suffix (e.g. "main" also matches refs/heads/feature/main): only
    # exact names count.
    raise RefNotFound(f"no branch or tag {ref!r} in {redact(repo)}")
