"""Commits and refs: the one rule for what a commit SHA and a branch/tag name look like (form,
REST, Slack and CLI all check with it), and resolving a branch or tag to its commit with
`git ls-remote`.

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

# A SHA is 7 to 40 hex digits (any case on input, stored lower case). A ref starts with a
# letter or digit (never "-": it is passed to git as an argument) and never holds "..".
SHA_PATTERN = r"^[0-9a-fA-F]{7,40}$"
REF_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$"
SHA_RULE = "a git SHA: 7 to 40 hexadecimal characters"
REF_RULE = "a branch or tag name (letters, digits, . _ / + -; no '..')"
_SHA = re.compile(SHA_PATTERN)
_REF = re.compile(REF_PATTERN)


def is_sha(value: str) -> bool:
    return bool(_SHA.match(value or ""))


def is_ref(value: str) -> bool:
    return bool(_REF.match(value or ""))


def clean_commit(value: str | None) -> str:
    """The commit as stored (stripped, lower case; "" when empty). ValueError when it is
    not a SHA."""
    commit = (value or "").strip()
    if commit and not is_sha(commit):
        raise ValueError(f"must be {SHA_RULE}")
    return commit.lower()


def clean_ref(value: str | None) -> str:
    """The ref stripped ("" when empty). ValueError when it is not a branch or tag name."""
    ref = (value or "").strip()
    if ref and not is_ref(ref):
        raise ValueError(f"must be {REF_RULE}")
    return ref


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
