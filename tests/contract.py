"""Run schemathesis (its CLI, every check and phase, stateful links included) against a live
server of ours, the way a client generated from the published schema would be exercised.

The example budget is fixed; the seed is new on every run and printed, so each run explores
new inputs and a failure can be replayed: SCHEMATHESIS_SEED=<seed> pytest <the test>.
schemathesis.toml at the repository root holds the project's settings (also used by a bare
`schemathesis run`).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.plugins.worker import ROOT, Proc, free_port

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def start_asgi_server(tmp: Path, env: dict[str, str]) -> tuple[Proc, str]:
    """uvicorn serving config.asgi on a free port (APP_ROLE etc. from `env`)."""
    port = free_port()
    proc = Proc([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host",
                 "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                tmp / "uvicorn.log", env)
    proc.wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def new_seed() -> int:
    pinned = os.environ.get("SCHEMATHESIS_SEED")
    return int(pinned) if pinned else random.SystemRandom().randrange(2**64)


def run(schema_url: str, tmp: Path, *, headers: dict[str, str], max_examples: int, seed: int,
        label: str, phases: str = "examples,coverage,fuzzing,stateful",
        timeout: float = 240) -> tuple[bool, str]:
    """One schemathesis run; returns (passed, a report naming the seed and the findings)."""
    args = [str(SCHEMATHESIS), "--config-file", str(ROOT / "schemathesis.toml"), "run",
            schema_url, "--checks", "all", "--max-examples", str(max_examples),
            "--seed", str(seed), "--phases", phases, "--max-failures", "20", "--no-color",
            "--request-timeout", "30", "--generation-database", "none"]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    started = time.monotonic()
    print(f"schemathesis {label}: seed {seed} (replay: SCHEMATHESIS_SEED={seed})", flush=True)
    log = tmp / f"schemathesis-{re.sub(r'[^a-z0-9]+', '-', label.lower())}.log"
    with log.open("w") as out:
        done = subprocess.run(args, cwd=tmp, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
    text = log.read_text(errors="replace")
    summary = text[text.rfind("=== FAILURES"):] if "=== FAILURES" in text else text[-3000:]
    took = time.monotonic() - started
    print(f"schemathesis {label}: exit {done.returncode} in {took:.1f} s; "
          f"{_tail_line(text)}", flush=True)
    report = (f"schemathesis {label} found problems (seed {seed}; replay with "
              f"SCHEMATHESIS_SEED={seed}; full log {log}):\n{summary[-12000:]}")
    return done.returncode == 0, report


def _tail_line(text: str) -> str:
    lines = [ln.strip("= ") for ln in text.splitlines() if ln.startswith("====") and " in " in ln]
    return lines[-1] if lines else "no summary line"
