"""Commits and refs: the one rule for what a commit SHA and a branch/tag name look like (form,
REST, Slack and CLI all check with it), and resolving a branch or tag to its commit with
`git ls-remote`.

Deploying "main" means deploying the commit main points at when the request arrives: it is
resolved once, before the release exists, and the release records both (a retry or a later
look at the release names the same commit even after the branch moved). The Service's
`git_repo` is anything `git ls-remote` accepts (https or ssh URL, or a local path); nothing is
cloned for that. Credentials in a URL never appear in messages.

History (commit times for lead time, `git log a..b` for the compare page) needs the objects:
a local repository is read in place; a remote one is mirrored (bare, blobless) under
var/git-cache and fetched again at most every FETCH_EVERY seconds, or when a commit asked
for is missing. Only validated SHAs are ever passed to git, after the options.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

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


def _env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")}


def _ls_remote(repo: str, ref: str) -> str:
    env = _env()
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


# --- history -------------------------------------------------------------------------------

FETCH_EVERY = 60.0  # seconds between fetches of a remote repository's mirror
LOG_LIMIT = 200


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    at: datetime
    subject: str


def _git(repo: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=TIMEOUT,
                              env=_env(), check=False, input=stdin)
    except FileNotFoundError:
        raise RepositoryUnavailable("git is not installed here") from None
    except subprocess.TimeoutExpired:
        raise RepositoryUnavailable(
            f"{redact(repo)} did not answer within {TIMEOUT:.0f} s") from None


def _mirror(repo: str, *, refresh: bool) -> str:
    """The git directory to read `repo`'s history from (the repository itself when local)."""
    if os.path.isdir(repo):
        return repo
    cache = Path(getattr(settings, "VAR_DIR", ".")) / "git-cache"
    path = cache / hashlib.sha256(repo.encode()).hexdigest()[:32]
    stamp = path / "dashboard-fetched"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        done = _git(repo, "clone", "--bare", "--quiet", "--filter=blob:none", "--", repo,
                    str(path))
    elif refresh or not stamp.exists() or time.time() - stamp.stat().st_mtime > FETCH_EVERY:
        done = _git(repo, "--git-dir", str(path), "fetch", "--quiet", "--prune", "--", repo,
                    "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
    else:
        return str(path)
    if done.returncode != 0:
        raise RepositoryUnavailable(f"cannot fetch {redact(repo)} (exit {done.returncode})")
    # Fetches name the URL each time: the mirror's config keeps no credentials.
    _git(repo, "--git-dir", str(path), "config", "remote.origin.url", redact(repo))
    stamp.touch()
    return str(path)


def _git_dir_args(path: str) -> list[str]:
    # --git-dir, never -C: a directory that is not a repository must not fall back to a
    # repository above it.
    dot_git = Path(path) / ".git"
    return ["--git-dir", str(dot_git if dot_git.exists() else path)]


def commit_times(repo: str, shas: list[str]) -> dict[str, datetime]:
    """When each commit was made (committer time), for the SHAs `repo` has (a short SHA is
    matched by prefix); others are left out. One `git log --no-walk` for all of them."""
    wanted = sorted({s.lower() for s in shas if is_sha(s)})
    if not repo or not wanted:
        return {}
    out: dict[str, datetime] = {}
    for attempt in (False, True):
        path = _mirror(repo, refresh=attempt)
        done = _git(repo, *_git_dir_args(path), "log", "--no-walk", "--ignore-missing",
                    "--format=%H %ct", "--stdin", stdin="".join(f"{s}\n" for s in wanted))
        found = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
        out = {w: datetime.fromtimestamp(int(found[full]), tz=UTC)
               for w in wanted for full in found if full.startswith(w)}
        if len(out) == len(wanted) or os.path.isdir(repo):
            break
    return out


def log(repo: str, since: str, until: str, limit: int = LOG_LIMIT) -> list[Commit]:
    """`git log since..until`, newest first, at most `limit` commits. ValueError for
    anything but SHAs; RepositoryUnavailable when the commits cannot be read."""
    if not (is_sha(since) and is_sha(until)):
        raise ValueError(f"since and until must be {SHA_RULE}")
    for attempt in (False, True):
        path = _mirror(repo, refresh=attempt)
        done = _git(repo, *_git_dir_args(path), "log", f"--max-count={int(limit)}",
                    "--format=%H%x1f%an%x1f%ct%x1f%s", f"{since.lower()}..{until.lower()}", "--")
        if done.returncode == 0:
            break
        if os.path.isdir(repo) or attempt:
            raise RepositoryUnavailable(f"{redact(repo)} has no history between "
                                        f"{since[:12]} and {until[:12]}")
    commits = []
    for line in done.stdout.splitlines():
        parts = line.split("\x1f")
        if len(parts) == 4:
            commits.append(Commit(parts[0], parts[1],
                                  datetime.fromtimestamp(int(parts[2]), tz=UTC), parts[3]))
    return commits


MIGRATION_FILES = ":(glob)**/migrations/*.py"


def changed_files(repo: str, since: str, until: str,
                  pathspec: str = MIGRATION_FILES) -> dict[str, list[str]]:
    """Files matching `pathspec` added and deleted from `since` to `until` (`git diff
    --name-status since..until`; renames count as a deletion and an addition, and no file
    content is needed, so a blobless mirror answers): {"added": [...], "deleted": [...]}.
    ValueError for anything but SHAs; RepositoryUnavailable when the commits cannot be read."""
    if not (is_sha(since) and is_sha(until)):
        raise ValueError(f"since and until must be {SHA_RULE}")
    for attempt in (False, True):
        path = _mirror(repo, refresh=attempt)
        done = _git(repo, *_git_dir_args(path), "diff", "--name-status", "--no-renames",
                    "--diff-filter=AD", f"{since.lower()}..{until.lower()}", "--", pathspec)
        if done.returncode == 0:
            break
        if os.path.isdir(repo) or attempt:
            raise RepositoryUnavailable(f"{redact(repo)} has no history between "
                                        f"{since[:12]} and {until[:12]}")
    out: dict[str, list[str]] = {"added": [], "deleted": []}
    for line in done.stdout.splitlines():
        status, _, name = line.partition("\t")
        if name and status in ("A", "D"):
            out["added" if status == "A" else "deleted"].append(name)
    return {k: sorted(v) for k, v in out.items()}
