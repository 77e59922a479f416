"""A browser-like live-view client: keeps what the page would show and checks the stream."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets

ORIGIN = "http://127.0.0.1:8000"


class View:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.snapshots = 0
        self.pods: dict[str, dict[str, Any]] = {}
        self.rollout: dict[str, Any] | None = None
        self.events: dict[str, dict[str, Any]] = {}
        self.last = 0
        self.received_at: list[float] = []

    def apply(self, msg: dict[str, Any]) -> None:
        self.messages.append(msg)
        self.received_at.append(time.time())
        if msg["type"] == "snapshot":
            self.snapshots += 1
            data = msg["data"]
            self.pods = {p["name"]: p for p in data.get("pods") or []}
            self.rollout = data.get("rollout")
            self.events = {e["uid"]: e for e in data.get("events") or []}
        else:
            assert msg["seq"] == self.last + 1, f"gap or duplicate: {self.last} -> {msg['seq']}"
            data = msg["data"]
            if msg["type"] == "pod":
                if data.get("deleted"):
                    self.pods.pop(data["name"], None)
                else:
                    self.pods[data["name"]] = data
            elif msg["type"] == "rollout.progress":
                self.rollout = data
            elif msg["type"] == "k8s.event":
                self.events[data["uid"]] = data
        self.last = msg["seq"]

    def live(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] != "snapshot"]


async def connect(url: str, cookie: str | None = None, **kw: Any) -> Any:
    headers = {"Cookie": cookie} if cookie else {}
    return await websockets.connect(url, origin=ORIGIN, additional_headers=headers,
                                    max_size=None, open_timeout=15, **kw)


async def read_until(ws: Any, view: View, done: Any, timeout: float) -> View:
    deadline = time.monotonic() + timeout
    while not done(view):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"timed out; {len(view.messages)} messages; pods={list(view.pods)} "
                f"rollout={view.rollout}")
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            continue
        view.apply(json.loads(raw))
    return view


async def drain(ws: Any, view: View, quiet: float = 1.0) -> View:
    """Read until nothing arrives for `quiet` seconds."""
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), quiet)
        except TimeoutError:
            return view
        view.apply(json.loads(raw))


def rolled_out(image: str, replicas: int = 3) -> Any:
    def check(view: View) -> bool:
        r = view.rollout or {}
        pods = [p for p in view.pods.values() if not p.get("deleted")]
        return (bool(r.get("done")) and r.get("image") == image
                and len(pods) == replicas
                and all(p["image"] == image and p["all_ready"] for p in pods))
    return check


def set_image(sandbox: Any, tag: str) -> str:
    image = f"gcr.io/sandbox/license-api:{tag}"
    sandbox.control("images", {"image": image, "commit": "c0ffee" + "1" * 34})
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig))
    try:
        client.AppsV1Api(api).patch_namespaced_deployment(
            "license-api", "default",
            {"spec": {"template": {"spec": {"containers": [
                {"name": "license-api", "image": image}]}}}},
        )
    finally:
        api.close()
    return image


def cluster_pods(sandbox: Any) -> dict[str, dict[str, Any]]:
    items = sandbox.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dlicense-api")["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}
