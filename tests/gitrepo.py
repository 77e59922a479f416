"""A small local git repository for ref-resolution tests (git ls-remote reads it directly)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
         "-c", "init.defaultBranch=main", "-C", str(repo), *args],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def make_repo(path: Path) -> dict[str, str]:
    """Commits on main, a branch feature/main, a lightweight tag v1 and an annotated tag v2;
    returns name -> commit SHA (the annotated tag's is the commit it points at)."""
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q")
    shas = {}
    for name in ("v1", "v2", "feature/main", "main"):
        _git(path, "commit", "-q", "--allow-empty", "-m", f"commit for {name}")
        shas[name] = _git(path, "rev-parse", "HEAD")
        if name == "v1":
            _git(path, "tag", "v1")
        elif name == "v2":
            _git(path, "tag", "-a", "v2", "-m", "release v2")
        elif name == "feature/main":
            _git(path, "branch", "feature/main")
    return shas
