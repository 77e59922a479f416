"""`python -m sandbox`: the Kubernetes API (+ controllers) and Cloud Build on one asyncio loop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from .chaos import Chaos
from .kube.cluster import Cluster
from .kube.kubeconfig import write_kubeconfig
from .kube.server import create_app
from .registry import Registry

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("sandbox")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--advertise-host", default=None,
                   help="host name clients use, written into the kubeconfig and build URLs "
                        "(default: --host, or 127.0.0.1 when listening on all addresses); "
                        "in docker compose, the service name")
    p.add_argument("--kube-port", type=int, default=6443)
    p.add_argument("--cloudbuild-port", type=int, default=8090)
    p.add_argument("--kubeconfig", type=Path, default=ROOT / "var" / "sandbox" / "kubeconfig")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated durations are divided by this; progress deadlines are not")
    p.add_argument("--manifests", type=Path, default=ROOT / "deploy" / "k8s")
    p.add_argument("--preload", type=Path, default=None,
                   help="file of `image [commit]` lines to pre-load into the registry")
    args = p.parse_args(argv)
    if args.speed <= 0:
        p.error("--speed must be > 0")
    if not args.advertise_host:
        args.advertise_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    return args


def cloudbuild_app(
    registry: Registry, chaos: Chaos, speed: float, public_url: str
) -> web.Application | None:
    """The Cloud Build half, imported lazily: the sandbox still serves Kubernetes without it."""
    try:
        # Local on purpose: Google's client libraries are optional for a Kubernetes-only
        # sandbox, and an ImportError here must not stop it.
        from . import cloudbuild
    except ImportError as exc:
        log.warning("Cloud Build sandbox unavailable (%s); serving Kubernetes only", exc)
        return None
    create: Any = getattr(cloudbuild, "create_app", None)
    if create is None:
        log.warning("sandbox.cloudbuild has no create_app; serving Kubernetes only")
        return None
    app: web.Application = create(registry=registry, chaos=chaos, speed=speed, repo_root=ROOT,
                                  public_url=public_url)
    return app


async def serve(args: argparse.Namespace) -> None:
    registry, chaos = Registry(), Chaos()
    cluster = Cluster(registry=registry, chaos=chaos, speed=args.speed,
                      manifests=args.manifests, preload=args.preload)
    cluster.bootstrap()
    cluster.start()
    kube_runner = web.AppRunner(create_app(cluster), handler_cancellation=True,
                                access_log=None, shutdown_timeout=1.0)
    await kube_runner.setup()
    await web.TCPSite(kube_runner, args.host, args.kube_port, backlog=1024).start()
    runners = [kube_runner]
    cb_url = f"http://{args.advertise_host}:{args.cloudbuild_port}"
    cb = cloudbuild_app(registry, chaos, args.speed, cb_url)
    if cb is not None:
        cluster.cloudbuild_app = cb
        cb_runner = web.AppRunner(cb, access_log=None, shutdown_timeout=1.0)
        await cb_runner.setup()
        await web.TCPSite(cb_runner, args.host, args.cloudbuild_port).start()
        runners.append(cb_runner)
    kube_url = f"http://{args.advertise_host}:{args.kube_port}"
    write_kubeconfig(args.kubeconfig, kube_url)
    print(f"sandbox ready: kubernetes {kube_url} (kubeconfig {args.kubeconfig}), cloudbuild "
          f"{cb_url if cb is not None else 'disabled'}, speed {args.speed:g}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    cluster.hub.drop_all()
    await cluster.stop()
    for runner in reversed(runners):
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("SANDBOX_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
