"""The fault drills. Each takes a running Stack, does one kind of damage while a release is in
flight, and returns its figures (a dict printed on one line); it raises DrillFailed when the
system did not come through: a process died, the release did not end as it should, a viewer
was left silent, more than one build ran, the audit chain broke."""

from __future__ import annotations

import concurrent.futures
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from drills.stack import ENDED, Stack
from drills.viewer import Viewer


class DrillFailed(AssertionError):
    pass


def check(ok: object, message: str) -> None:
    if not ok:
        raise DrillFailed(message)


def commit(prefix: str = "c0ffee") -> str:
    return prefix + uuid.uuid4().hex[: 40 - len(prefix)]


def start(stack: Stack, sha: str | None = None) -> int:
    r = stack.deploy(sha)
    check(r.status_code == 202, f"deploy answered {r.status_code}: {r.text[:200]}")
    return int(r.json()["id"])


def settle(stack: Stack) -> None:
    """Wait until the Service has nothing active (an earlier drill's release ended)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        r = requests.get(f"{stack.base}/api/v1/releases/?service=license-api",
                         headers=stack.headers, timeout=10).json()
        rows = r.get("results", r) if isinstance(r, dict) else r
        if all(row.get("state") in ENDED for row in rows):
            return
        time.sleep(0.5)
    raise DrillFailed("an earlier release never ended")


def alive(stack: Stack) -> None:
    down = list(stack.down())
    check(not down, f"processes gone: {down}")


def _builds(stack: Stack, sha: str) -> int:
    url = f"http://127.0.0.1:{stack.cb_port}/v1/projects/sandbox/builds"
    r = requests.get(url, params={"filter": f'substitutions.COMMIT_SHA="{sha}"'}, timeout=10)
    return len(r.json().get("builds") or [])


def _heartbeat_at(stack: Stack, rid: int) -> float | None:
    """When the release's driver last reported (a run claims it before every step), from
    /metrics' dashboard_release_heartbeat_age_seconds; None if not active."""
    text = requests.get(f"{stack.base}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("dashboard_release_heartbeat_age_seconds{") and \
                f'release="{rid}"' in line:
            return time.time() - float(line.rsplit(" ", 1)[1])
    return None


def _readies(stack: Stack) -> int:
    """How many times a worker of this stack said it was ready (its log is appended to)."""
    return stack.procs["worker"].tail(10**7).count(" ready.")


def _audit_ok(stack: Stack) -> bool:
    import subprocess

    from drills.stack import PY, ROOT
    res = subprocess.run([PY, "manage.py", "verify_audit"], cwd=ROOT, env=stack.env,
                         capture_output=True, text=True, timeout=300)
    return res.returncode == 0


# --- the drills ------------------------------------------------------------------------------

def redis_restart(stack: Stack, outage: float = 8.0) -> dict[str, Any]:
    """Redis killed mid-rollout and back empty after `outage` s: every process stays up, the
    release succeeds, the viewer connected across the restart sees the end."""
    settle(stack)
    rid = start(stack)
    check(stack.wait_state(rid, ("deploying",), 120) == "deploying", "never reached deploying")
    viewer = Viewer(f"ws://127.0.0.1:{stack.web_port}/ws/releases/{rid}/", stack.token)
    viewer.start()
    time.sleep(1.0)
    stack.stop_redis()
    time.sleep(outage)
    stack.start_redis()
    back = time.time()
    final = stack.wait_state(rid, ENDED, 180)
    ended = time.time() - back
    time.sleep(3.0)  # the last messages reach the viewer
    viewer.stop()
    alive(stack)
    check(final == "succeeded", f"release ended {final} ({ended:.0f} s after Redis came back)")
    after = viewer.since(back)
    check(viewer.saw_state("succeeded", back), f"viewer across the restart never saw the end "
          f"({len(after)} messages after Redis came back; {viewer.error})")
    return {"outage_s": outage, "ended_after_redis_back_s": round(ended, 1),
            "viewer_messages_after": len(after)}


def worker_kill(stack: Stack, phase: str = "building", spare: bool = False) -> dict[str, Any]:
    """The worker SIGKILLed while the release is `phase`; a new one started at once (or, with
    `spare`, a second worker already running takes over): the release moves on within 10 s of
    when it could (the build done, or the kill), with one build."""
    settle(stack)
    if spare and not (stack.procs.get("spare") and stack.procs["spare"].alive):
        stack.start_worker("spare")
        deadline = time.time() + 60
        while " ready." not in stack.procs["spare"].tail(10**6) and time.time() < deadline:
            time.sleep(0.2)
    sha = commit()
    rid = start(stack, sha)
    check(stack.wait_state(rid, (phase,), 120) == phase, f"never reached {phase}")
    build_id = ""
    for _ in range(40):
        build_id = stack.release(rid).get("build_id") or ""
        if build_id or phase != "building":
            break
        time.sleep(0.25)
    readies = _readies(stack)
    stack.procs["worker"].kill()
    killed = time.time()
    if not spare:
        stack.start_worker()
    build_done = ready = resumed = None
    while time.time() - killed < 180:
        if ready is None and not spare and _readies(stack) > readies:
            ready = time.time()
        if build_done is None and build_id and stack.build(build_id).get("status") in (
                "SUCCESS", "FAILURE"):
            build_done = time.time()  # from here on the release could move on
        if resumed is None and (_heartbeat_at(stack, rid) or 0) > killed:
            resumed = time.time()  # a run claimed the release again (a step ran)
        if stack.release(rid).get("state") != phase:
            break
        time.sleep(0.1)
    moved = time.time()
    resumed = resumed or moved
    # Building: as the acceptance check measures it (the build may finish after the kill);
    # rolling out, the rollout's end is the cluster's business: the first step after the kill.
    lag = (moved - max(killed, build_done or killed)) if phase == "building" else (
        resumed - killed)
    check(stack.release(rid).get("state") != phase, f"still {phase} 180 s after the kill")
    final = stack.wait_state(rid, ENDED, 180)
    if spare:
        stack.start_worker()  # back to the stack's usual shape
        stack.procs.pop("spare").stop()
    alive(stack)
    check(final == "succeeded", f"release ended {final}")
    boot = round((ready or moved) - killed, 1)
    check(lag <= 10, f"resumed {lag:.1f} s after it could (goal <= 10 s"
          + (")" if spare else f"; the new worker was ready {boot} s after the kill)"))
    check(_builds(stack, sha) == 1, f"{_builds(stack, sha)} builds of one commit")
    figures: dict[str, Any] = {"phase": phase, "resumed_after_s": round(lag, 1),
                               "first_step_after_kill_s": round(resumed - killed, 1)}
    if not spare:
        figures["new_worker_ready_after_s"] = boot
    return {**figures, "builds": 1}


def watcher_kill(stack: Stack) -> dict[str, Any]:
    """The watcher SIGKILLed mid-rollout and restarted: the release succeeds and a viewer
    connected throughout sees the end."""
    settle(stack)
    rid = start(stack)
    check(stack.wait_state(rid, ("deploying",), 120) == "deploying", "never reached deploying")
    viewer = Viewer(f"ws://127.0.0.1:{stack.web_port}/ws/releases/{rid}/", stack.token)
    viewer.start()
    time.sleep(0.5)
    stack.procs["watcher"].kill()
    killed = time.time()
    stack.start_watcher()
    final = stack.wait_state(rid, ENDED, 180)
    time.sleep(2.0)
    viewer.stop()
    alive(stack)
    check(final == "succeeded", f"release ended {final}")
    check(viewer.saw_state("succeeded", killed), "viewer never saw the end")
    seqs = [m["seq"] for _, m in viewer.messages if m.get("type") != "snapshot"]
    gaps = sum(1 for a, b in itertools.pairwise(seqs) if b != a + 1)
    return {"ended_after_kill_s": round(time.time() - killed, 1), "viewer_messages":
            len(viewer.messages), "seq_gaps": gaps}


def api_chaos(stack: Stack) -> dict[str, Any]:
    """30 % of Cloud Build and Kubernetes requests fail (503/500) throughout a release: it
    still succeeds, with one build, and the web answers no 500."""
    settle(stack)
    stack.chaos({"cloudbuild": {"error_rate": 0.3}, "kube": {"error_rate": 0.3}})
    try:
        sha = commit()
        rid = start(stack, sha)
        t0 = time.time()
        final = stack.wait_state(rid, ENDED, 240)
    finally:
        stack.chaos({"cloudbuild": {"error_rate": 0}, "kube": {"error_rate": 0}})
    alive(stack)
    check(final == "succeeded", f"release under API chaos ended {final}")
    check(_builds(stack, sha) == 1, "more than one build")
    return {"took_s": round(time.time() - t0, 1)}


def concurrent_requests(stack: Stack) -> dict[str, Any]:
    """100 concurrent deploy requests and 20 with one Idempotency-Key: all answered without a
    500, one active release at a time, the duplicates collapse to one release."""
    settle(stack)
    key = uuid.uuid4().hex
    dup_sha = commit()

    def one(i: int) -> requests.Response:
        if i < 20:
            return stack.deploy(dup_sha, key=key)
        return stack.deploy(commit())

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, range(120)))
    codes = [a.status_code for a in answers]
    check(all(c < 500 for c in codes), f"5xx answers: {[c for c in codes if c >= 500]}")
    dup_ids = {a.json().get("id") for a in answers[:20] if a.status_code == 202}
    check(len(dup_ids) == 1, f"20 requests with one Idempotency-Key made {len(dup_ids)} releases")
    settle(stack)
    alive(stack)
    check(_audit_ok(stack), "audit chain broken")
    return {"requests": 120, "accepted": codes.count(202), "duplicate_releases": len(dup_ids)}


def crash_loop(stack: Stack) -> dict[str, Any]:
    """A commit whose containers crash-loop: the release fails fast and rolls back."""
    settle(stack)
    rid = start(stack, commit("dead"))
    t0 = time.time()
    final = stack.wait_state(rid, ENDED, 240)
    alive(stack)
    check(final in ("rolled_back", "failed"), f"crash-looping commit ended {final}")
    return {"ended": final, "took_s": round(time.time() - t0, 1)}


DRILLS: dict[str, Callable[[Stack], dict[str, Any]]] = {
    "worker_kill_building": lambda s: worker_kill(s, "building"),
    "worker_kill_deploying": lambda s: worker_kill(s, "deploying"),
    "worker_kill_building_spare": lambda s: worker_kill(s, "building", spare=True),
    "worker_kill_deploying_spare": lambda s: worker_kill(s, "deploying", spare=True),
    "watcher_kill": watcher_kill,
    "redis_restart_8s": lambda s: redis_restart(s, 8.0),
    "redis_restart_35s": lambda s: redis_restart(s, 35.0),
    "api_chaos": api_chaos,
    "concurrent_requests": concurrent_requests,
    "crash_loop": crash_loop,
}
