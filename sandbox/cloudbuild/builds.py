"""Running a build: one asyncio task per build, QUEUED -> WORKING -> a terminal status.

Steps run one after another (waitFor parallelism is not simulated) and are simulated by their
builder and args: `docker build/tag/push` (see steps.py) and any other step, which succeeds
quickly unless its args say `sleep N` / `exit N`. Simulated seconds are divided by --speed,
and so is the build's `timeout` (it is a simulated duration like the steps it bounds).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from google.cloud.devtools import cloudbuild_v1 as cb

from sandbox.registry import Registry, split_reference

from .logs import LogObject, LogStore
from .shapes import TERMINAL, now
from .steps import normalize, simulate_step

log = logging.getLogger("sandbox.cloudbuild")
Status = cb.Build.Status
DEFAULT_TIMEOUT = timedelta(minutes=60)


@dataclass
class BuildRecord:
    """A build plus what its run needs: the commit, its log object and its task."""

    build: cb.Build
    location: str
    commit: str
    log: LogObject | None = None
    task: asyncio.Task[None] | None = None
    local_images: set[str] = field(default_factory=set)  # tagged by docker build/tag
    pushed: set[str] = field(default_factory=set)
    running: set[int] = field(default_factory=set)  # indexes of the steps running now

    def say(self, text: str, label: str | None = None) -> None:
        """Append lines to the log, prefixed by the step label as Cloud Build does."""
        if self.log is None:
            return
        lines = text.split("\n")
        self.log.append("".join(f"{label}: {ln}\n" if label else f"{ln}\n" for ln in lines))

    @property
    def finished(self) -> bool:
        return self.build.status in TERMINAL


def step_label(index: int, step: cb.BuildStep) -> str:
    return f'Step #{index} - "{step.id}"' if step.id else f"Step #{index}"


class StepFailed(Exception):
    def __init__(self, detail: str, failure_type: int, status: int = Status.FAILURE) -> None:
        super().__init__(detail)
        self.detail = detail
        self.failure_type = failure_type
        self.status = status


class Executor:
    def __init__(self, registry: Registry, logs: LogStore, speed: float, repo_root: Path) -> None:
        self.registry = registry
        self.logs = logs
        self.speed = max(speed, 0.001)
        self.repo_root = repo_root

    async def sleep(self, simulated_seconds: float) -> None:
        await asyncio.sleep(simulated_seconds / self.speed)

    def start(self, rec: BuildRecord) -> None:
        rec.task = asyncio.get_running_loop().create_task(
            self._run(rec), name=f"build-{rec.build.id}"
        )

    def cancel(self, rec: BuildRecord) -> None:
        """Mark the build CANCELLED now (the API answers with it), then stop its task."""
        self._finish(rec, Status.CANCELLED, step_status=Status.CANCELLED)
        rec.say("ERROR: build cancelled by user")
        if rec.task is not None:
            rec.task.cancel()

    # proto-plus enum members type-check as plain ints, hence `int` for statuses here.
    def _finish(
        self, rec: BuildRecord, status: int, step_status: int | None = None, detail: str = ""
    ) -> None:
        b = rec.build
        t = now()
        if step_status is not None:
            for index in rec.running:
                step = b.steps[index]
                step.status = step_status  # type: ignore[assignment]
                step.timing.end_time = t
        rec.running.clear()
        if "BUILD" in b.timing and not b.timing["BUILD"].end_time:
            b.timing["BUILD"].end_time = t
        b.status = status  # type: ignore[assignment]
        b.status_detail = detail
        b.finish_time = t

    async def _run(self, rec: BuildRecord) -> None:
        b = rec.build
        rng = random.Random(b.id)
        try:
            await self.sleep(rng.uniform(1, 2))  # waiting for a worker
            b.status = Status.WORKING  # type: ignore[assignment]
            b.start_time = now()
            for step in b.steps:
                step.status = Status.QUEUED  # type: ignore[assignment]
            rec.log = self.logs.create(b.logs_bucket, b.id)
            rec.say(f'starting build "{b.id}"\n')
            timeout = (b.timeout or DEFAULT_TIMEOUT).total_seconds() / self.speed
            try:
                async with asyncio.timeout(timeout):
                    await self._work(rec, rng)
            except TimeoutError:
                self._finish(rec, Status.TIMEOUT, Status.TIMEOUT, "Build timeout")
                rec.say("TIMEOUT\nERROR: context deadline exceeded")
            except StepFailed as exc:  # steps still running in parallel are cancelled
                self._finish(rec, exc.status, Status.CANCELLED, exc.detail)
                if exc.status == Status.FAILURE:
                    b.failure_info = cb.Build.FailureInfo(type_=exc.failure_type, detail=exc.detail)
                rec.say(f"ERROR\nERROR: {exc.detail.removeprefix('Build step failure: ')}")
            else:
                self._finish(rec, Status.SUCCESS)
                rec.say("DONE")
        except asyncio.CancelledError:
            return  # cancel() or the sandbox reset already recorded the outcome
        except Exception:  # a sandbox bug must not leave the build WORKING forever
            log.exception("cloudbuild sandbox: build %s crashed", b.id)
            self._finish(rec, Status.INTERNAL_ERROR, Status.CANCELLED, "internal error")

    async def _work(self, rec: BuildRecord, rng: random.Random) -> None:
        b = rec.build
        src = b.source
        if src.repo_source.commit_sha or src.repo_source.branch_name or src.git_source.url or (
            src.storage_source.bucket
        ):
            await self._fetch_source(rec, rng)
        b.timing["BUILD"] = cb.TimeSpan(start_time=now())
        rec.say("BUILD")
        b.results = cb.Results(
            build_step_images=[
                "sha256:" + hashlib.sha256(s.name.encode()).hexdigest() for s in b.steps
            ]
        )
        await self._run_steps(rec, rng)
        b.timing["BUILD"].end_time = now()
        if b.images:
            await self._push_images(rec, rng)

    async def _run_steps(self, rec: BuildRecord, rng: random.Random) -> None:
        """Each step starts when the steps it waits for are done: by default all earlier
        steps, `waitFor: ["-"]` none (start at once), else the steps whose ids it lists.
        The first failure stops the build; steps running beside it are cancelled."""
        steps = rec.build.steps
        ids = {s.id: i for i, s in enumerate(steps) if s.id}
        done = [asyncio.Event() for _ in steps]

        async def run(index: int, step: cb.BuildStep) -> None:
            waits = list(step.wait_for)
            deps = range(index) if not waits else [] if "-" in waits else [ids[w] for w in waits]
            for dep in deps:
                await done[dep].wait()
            await self._step(rec, index, step, rng)
            done[index].set()

        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(run(i, s)) for i, s in enumerate(steps)]
        try:
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in finished:
                error = task.exception()
                if error is not None:
                    raise error
        finally:
            for task in tasks:
                task.cancel()

    async def _fetch_source(self, rec: BuildRecord, rng: random.Random) -> None:
        b = rec.build
        started = now()
        rec.say("FETCHSOURCE")
        repo, git = b.source.repo_source, b.source.git_source
        if repo.commit_sha or repo.branch_name or git.url:
            url = git.url or (
                f"https://source.developers.google.com/p/{b.project_id}/r/"
                f"{repo.repo_name or 'license-api'}")
            ref = repo.commit_sha or repo.branch_name or git.revision or "HEAD"
            rec.say(
                f"Initialized empty Git repository in /workspace/.git/\n"
                f"From {url}\n"
                f" * branch            {ref} -> FETCH_HEAD"
            )
            await self.sleep(rng.uniform(2, 4))
            rec.say(f"HEAD is now at {rec.commit[:7] or ref[:7]} Deploy {ref[:7]}")
        else:
            src = b.source.storage_source
            rec.say(f"Fetching storage object: gs://{src.bucket}/{src.object_}")
            await self.sleep(rng.uniform(1, 3))
            rec.say(
                f"Copying gs://{src.bucket}/{src.object_}...\n"
                "/ [1 files][ 84.2 KiB/ 84.2 KiB]\nOperation completed over 1 objects/84.2 KiB."
            )
        b.timing["FETCHSOURCE"] = cb.TimeSpan(start_time=started, end_time=now())

    async def _step(
        self, rec: BuildRecord, index: int, step: cb.BuildStep, rng: random.Random
    ) -> None:
        label = step_label(index, step)
        rec.running.add(index)
        step.status = Status.WORKING  # type: ignore[assignment]
        step.timing = cb.TimeSpan(start_time=now())
        rec.say(f"Starting {label}")
        pulled = now()
        rec.say(f"Already have image (with digest): {step.name}", label)
        step.pull_timing = cb.TimeSpan(start_time=pulled, end_time=now())
        say: Callable[[str], None] = lambda text: rec.say(text, label)  # noqa: E731
        sleep: Callable[[float], Awaitable[None]] = self.sleep
        limit = step.timeout.total_seconds() / self.speed if step.timeout else None
        try:
            async with asyncio.timeout(limit):
                code = await simulate_step(step, rec, say, sleep, rng, self.repo_root,
                                           self._push_image)
        except TimeoutError:  # this step's own timeout (the build's is handled in _run)
            step.status = Status.TIMEOUT  # type: ignore[assignment]
            step.timing.end_time = now()
            rec.running.discard(index)
            raise StepFailed(
                f'build step {index} "{step.name}" timed out after '
                f"{step.timeout.total_seconds():g}s",
                cb.Build.FailureInfo.FailureType.USER_BUILD_STEP,
                Status.TIMEOUT,
            ) from None
        step.timing.end_time = now()
        rec.say(f"Finished {label}")
        if code and code not in step.allow_exit_codes and not step.allow_failure:
            step.status = Status.FAILURE  # type: ignore[assignment]
            step.exit_code = code
            rec.running.discard(index)
            raise StepFailed(
                f'Build step failure: build step {index} "{step.name}" failed: '
                f"step exited with non-zero status: {code}",
                cb.Build.FailureInfo.FailureType.USER_BUILD_STEP,
            )
        step.exit_code = code
        step.status = Status.FAILURE if code else Status.SUCCESS  # type: ignore[assignment]
        rec.running.discard(index)

    def _push_image(self, rec: BuildRecord, image: str) -> str:
        """Push a locally built image into the shared registry; returns its digest."""
        repository, tag, _ = split_reference(normalize(image))
        pushed = self.registry.push(repository, tag, rec.commit)
        rec.pushed.add(normalize(image))
        return pushed.digest

    async def _push_images(self, rec: BuildRecord, rng: random.Random) -> None:
        """The `images:` phase: push each listed image and report its digest in results."""
        b = rec.build
        missing = [i for i in b.images if normalize(i) not in rec.local_images]
        if missing:
            raise StepFailed(
                f"failed to find one or more images after execution of build steps: {missing}",
                cb.Build.FailureInfo.FailureType.PUSH_IMAGE_NOT_FOUND,
            )
        b.timing["PUSH"] = cb.TimeSpan(start_time=now())
        rec.say("PUSH")
        for image in b.images:
            started = now()
            repository = split_reference(image)[0]
            rec.say(f"Pushing {image}\nThe push refers to repository [{repository}]")
            already = normalize(image) in rec.pushed
            await self.sleep(rng.uniform(1, 2) if already else rng.uniform(5, 10))
            digest = self._push_image(rec, image)
            layer = "Layer already exists" if already else "Pushed"
            tag = split_reference(image)[1] or "latest"
            rec.say(f"{digest[7:19]}: {layer}\n{tag}: digest: {digest} size: 2841")
            b.results.images.append(
                cb.BuiltImage(
                    name=image,
                    digest=digest,
                    push_timing=cb.TimeSpan(start_time=started, end_time=now()),
                )
            )
        b.timing["PUSH"].end_time = now()
