"""`python -m sandbox`: the Kubernetes API (+ controllers) and Cloud Build on one asyncio loop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from .chaos import Chaos
from .gcp import ClusterInfo, add_routes, google_auth_middleware, kube_auth_middleware
from .guard import guard_middleware, write_control_token
from .identity import Identity, load_or_create_key
from .kube.cluster import Cluster
from .kube.kubeconfig import TOKEN, write_kubeconfig
from .kube.server import create_app
from .registry import Registry
from .tls import ca_pem, load_or_create_ca, server_context

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
    p.add_argument("--kube-tls-port", type=int, default=0,
                   help="HTTPS port of the same Kubernetes API, the endpoint the Container API "
                        "reports (0: any free port)")
    p.add_argument("--cloudbuild-port", type=int, default=8090)
    p.add_argument("--kubeconfig", type=Path, default=ROOT / "var" / "sandbox" / "kubeconfig")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated durations are divided by this; progress deadlines are not")
    p.add_argument("--manifests", type=Path, default=ROOT / "deploy" / "k8s")
    p.add_argument("--auth", choices=("open", "required"), default="open",
                   help="required: every Google and Kubernetes API call needs a token of the "
                        "generated service account (or the kubeconfig's token); open: any")
    p.add_argument("--token-lifetime", type=int, default=900,
                   help="seconds an access token from the token endpoint stays valid")
    p.add_argument("--prepare-only", action="store_true",
                   help="write the service-account key and cluster CA beside the kubeconfig, "
                        "then exit (so other processes can load the key before the sandbox "
                        "is up)")
    p.add_argument("--preload", type=Path, default=None,
                   help="file of `image [commit]` lines to pre-load into the registry")
    args = p.parse_args(argv)
    if args.speed <= 0:
        p.error("--speed must be > 0")
    if args.token_lifetime < 1:
        p.error("--token-lifetime must be >= 1")
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
    state = args.kubeconfig.parent
    registry, chaos = Registry(), Chaos()
    cluster = Cluster(registry=registry, chaos=chaos, speed=args.speed,
                      manifests=args.manifests, preload=args.preload)
    cluster.bootstrap()
    cluster.start()
    cb_url = f"http://{args.advertise_host}:{args.cloudbuild_port}"
    key = load_or_create_key(state / "service-account.json", f"{cb_url}/token")
    identity = Identity(key, token_lifetime=args.token_lifetime,
                        required=args.auth == "required")
    cluster.identity = identity
    control_token = write_control_token(state / "control-token")
    guard = guard_middleware([args.advertise_host], control_token)
    # A token of its own for the kubeconfig: with --auth required, kubectl keeps working
    # for whoever can read the file; open mode keeps the well-known one.
    kube_token = secrets.token_urlsafe(24) if identity.required else TOKEN
    kube_app = create_app(cluster)
    kube_app.middlewares.insert(0, kube_auth_middleware(identity, kube_token))
    kube_app.middlewares.insert(0, guard)
    kube_runner = web.AppRunner(kube_app, handler_cancellation=True,
                                access_log=None, shutdown_timeout=1.0)
    await kube_runner.setup()
    await web.TCPSite(kube_runner, args.host, args.kube_port, backlog=1024).start()
    ca_key, ca_cert = load_or_create_ca(state / "cluster-ca.pem")
    tls_site = web.TCPSite(kube_runner, args.host, args.kube_tls_port, backlog=1024,
                           ssl_context=server_context(ca_key, ca_cert, [args.advertise_host]))
    await tls_site.start()
    tls_port = _bound_port(tls_site, args.kube_tls_port)
    info = ClusterInfo(f"{args.advertise_host}:{tls_port}", ca_pem(ca_cert))
    runners = [kube_runner]
    cb = cloudbuild_app(registry, chaos, args.speed, cb_url)
    if cb is None:  # the Google half still serves tokens, the Container API and the registry
        cb = web.Application()
    else:
        cluster.cloudbuild_app = cb
    cb.middlewares.insert(0, google_auth_middleware(identity))
    cb.middlewares.insert(0, guard)
    add_routes(cb, identity, registry, lambda: info)
    cb_runner = web.AppRunner(cb, access_log=None, shutdown_timeout=1.0)
    await cb_runner.setup()
    await web.TCPSite(cb_runner, args.host, args.cloudbuild_port).start()
    runners.append(cb_runner)
    kube_url = f"http://{args.advertise_host}:{args.kube_port}"
    if identity.required:  # kubectl sends its token only over TLS
        write_kubeconfig(args.kubeconfig, f"https://{info.endpoint}", kube_token,
                         ca_pem(ca_cert))
    else:
        write_kubeconfig(args.kubeconfig, kube_url, kube_token)
    print(f"sandbox ready: kubernetes {kube_url} and https://{info.endpoint} (kubeconfig "
          f"{args.kubeconfig}), google APIs {cb_url} (auth {args.auth}, service account "
          f"{state / 'service-account.json'}), speed {args.speed:g}", flush=True)
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


def _bound_port(site: web.TCPSite, asked: int) -> int:
    server = site._server  # the asyncio Server behind the site: the only place a port 0 shows
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else asked


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("SANDBOX_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.prepare_only:
        state = args.kubeconfig.parent
        load_or_create_key(state / "service-account.json",
                           f"http://{args.advertise_host}:{args.cloudbuild_port}/token")
        load_or_create_ca(state / "cluster-ca.pem")
        return 0
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
