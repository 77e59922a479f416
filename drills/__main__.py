"""`make drills` (`python -m drills [NAME...]`): start a stack of its own on free ports and run
the fault drills (all, or those whose names contain an argument) one after another on it.
Prints one line per drill with its figures; exits non-zero when any failed. `--keep` leaves the
stack's directory (logs, database) for a look afterwards."""

from __future__ import annotations

import sys
import time
import traceback

from drills.drills import DRILLS, DrillFailed
from drills.stack import Stack


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    names = [a for a in argv if not a.startswith("--")]
    chosen = [n for n in DRILLS if not names or any(a in n for a in names)]
    failed = 0
    with Stack(keep=keep) as stack:
        print(f"drills: stack in {stack.dir} (web :{stack.web_port}, redis :{stack.redis_port})",
              flush=True)
        for name in chosen:
            started = time.monotonic()
            try:
                figures = DRILLS[name](stack)
                took = time.monotonic() - started
                shown = " ".join(f"{k}={v}" for k, v in figures.items())
                print(f"ok   {name:<24} {shown} ({took:.0f} s)", flush=True)
            except DrillFailed as exc:
                failed += 1
                print(f"FAIL {name:<24} {exc} ({time.monotonic() - started:.0f} s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {name:<24} error: {traceback.format_exc(limit=3)}", flush=True)
            down = stack.down()
            for proc in down:  # a later drill needs the whole stack
                print(f"     restarting {proc} after {name}", flush=True)
                if proc == "redis":
                    stack.start_redis()
                elif proc.startswith("worker"):
                    stack.start_worker(proc)
                elif proc == "watcher":
                    stack.start_watcher()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
