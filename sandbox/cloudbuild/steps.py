"""Simulated build steps, recognised by builder and args, with Cloud Build-like output.

`docker build` walks the repository's real Dockerfile (so the log reads like this project's
build) and, for a commit starting with `bad`, fails its first `RUN pip install` with exit 1.
`docker tag` / `docker push` act on the images the build tagged locally; pushing one that was
never built fails as docker does. Any other step succeeds after a moment, unless its args say
`sleep N` (simulated seconds) or `exit N`.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from google.cloud.devtools import cloudbuild_v1 as cb

from sandbox.registry import split_reference

if TYPE_CHECKING:
    from .builds import BuildRecord

Say = Callable[[str], None]
Sleep = Callable[[float], Awaitable[None]]
Push = Callable[["BuildRecord", str], str]

FALLBACK_DOCKERFILE = [
    "FROM python:3.11-slim",
    "WORKDIR /app",
    "COPY requirements.lock ./",
    "RUN pip install -r requirements.lock",
    "COPY . .",
    'CMD ["python", "manage.py", "runserver"]',
]


def normalize(image: str) -> str:
    """`repo` means `repo:latest`, as docker reads it."""
    repository, tag, digest = split_reference(image)
    if digest:
        return image
    return f"{repository}:{tag or 'latest'}"


def _hex(seed: str, n: int = 12) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def dockerfile_instructions(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError:
        return FALLBACK_DOCKERFILE
    joined = re.sub(
        r"\\\n\s*", "", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    return [ln.strip() for ln in joined.splitlines() if ln.strip()] or FALLBACK_DOCKERFILE


def _is_docker(step: cb.BuildStep) -> bool:
    return step.name.split("@")[0].split(":")[0].rsplit("/", 1)[-1] == "docker" or (
        step.entrypoint == "docker"
    )


async def simulate_step(
    step: cb.BuildStep,
    rec: BuildRecord,
    say: Say,
    sleep: Sleep,
    rng: random.Random,
    repo_root: Path,
    push: Push,
) -> int:
    """Run one step's simulation; returns its exit code."""
    args = list(step.args)
    if _is_docker(step) and args:
        if args[0] == "build":
            return await _docker_build(args[1:], rec, say, sleep, rng, repo_root)
        if args[0] == "tag" and len(args) >= 3:
            source, target = normalize(args[1]), normalize(args[2])
            if source not in rec.local_images:
                say(f"Error response from daemon: No such image: {args[1]}")
                return 1
            rec.local_images.add(target)
            return 0
        if args[0] == "push" and len(args) >= 2:
            return await _docker_push(args[-1], rec, say, sleep, rng, push)
    return await _generic(step, say, sleep, rng)


async def _docker_build(
    args: list[str], rec: BuildRecord, say: Say, sleep: Sleep, rng: random.Random, repo_root: Path
) -> int:
    tags: list[str] = []
    dockerfile = "Dockerfile"
    for i, arg in enumerate(args):
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if arg in ("-t", "--tag"):
            tags.append(nxt)
        elif arg.startswith("--tag="):
            tags.append(arg.split("=", 1)[1])
        elif arg in ("-f", "--file"):
            dockerfile = nxt
    steps = dockerfile_instructions(repo_root / dockerfile)
    weights = [
        10.0 if "pip install" in s else 2.0 if s.startswith(("RUN", "FROM")) else 0.2 for s in steps
    ]
    total = rng.uniform(30, 60)
    say("Sending build context to Docker daemon  2.341MB")
    failing = rec.commit.startswith("bad")
    for n, (instruction, weight) in enumerate(zip(steps, weights, strict=True), start=1):
        say(f"Step {n}/{len(steps)} : {instruction}")
        layer = _hex(f"{rec.commit}/{n}")
        if instruction.startswith("FROM"):
            say(f"{instruction.split()[1].split(':')[-1]}: Pulling from library/python")
        if instruction.startswith("RUN"):
            say(f" ---> Running in {_hex(layer)}")
        await sleep(total * weight / sum(weights))
        if failing and instruction.startswith("RUN") and "pip install" in instruction:
            command = instruction.removeprefix("RUN").strip()
            say(
                "Collecting django<5.3,>=5.2\n"
                "ERROR: Could not find a version that satisfies the requirement "
                "licensing-core==9.9.9 (from versions: none)\n"
                "ERROR: No matching distribution found for licensing-core==9.9.9\n"
                f"The command '/bin/sh -c {command}' returned a non-zero code: 1"
            )
            return 1
        if instruction.startswith("RUN"):
            say(f"Removing intermediate container {_hex(layer)}")
        say(f" ---> {layer}")
    if failing:  # no pip install line in this Dockerfile: fail at the end instead
        say(
            'ERROR: failed to solve: process "/bin/sh -c pip install" did not complete '
            "successfully: exit code: 1"
        )
        return 1
    say(f"Successfully built {_hex(rec.commit + 'image')}")
    for tag in tags:
        rec.local_images.add(normalize(tag))
        say(f"Successfully tagged {tag}")
    return 0


async def _docker_push(
    image: str, rec: BuildRecord, say: Say, sleep: Sleep, rng: random.Random, push: Push
) -> int:
    full = normalize(image)
    repository, tag, _ = split_reference(full)
    say(f"The push refers to repository [{repository}]")
    if full not in rec.local_images:
        say(f"An image does not exist locally with the tag: {image}")
        return 1
    layers = [_hex(f"{rec.commit}/layer{i}") for i in range(4)]
    say("\n".join(f"{layer}: Preparing" for layer in layers))
    # A second tag of an image this build already pushed only sends the manifest.
    again = any(split_reference(p)[0] == repository for p in rec.pushed)
    await sleep(rng.uniform(1, 2) if again else rng.uniform(5, 10))
    digest = push(rec, full)
    state = "Layer already exists" if again else "Pushed"
    say("\n".join(f"{layer}: {state}" for layer in layers))
    say(f"{tag}: digest: {digest} size: 2841")
    return 0


async def _generic(step: cb.BuildStep, say: Say, sleep: Sleep, rng: random.Random) -> int:
    words = " ".join([step.entrypoint, *step.args, step.script])
    say(f"Running {step.name} {' '.join(step.args)}".rstrip())
    pause = re.search(r"\bsleep\s+(\d+(?:\.\d+)?)", words)
    await sleep(float(pause.group(1)) if pause else rng.uniform(1, 2))
    code = re.search(r"\bexit\s+(\d+)", words)
    if code and int(code.group(1)):
        say(f"exit status {code.group(1)}")
        return int(code.group(1))
    return 0
