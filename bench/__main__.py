"""`make bench`: run every bench/bench_*.py module and write docs/benchmarks.md.

Each module exposes `run() -> str`, returning one markdown section (a heading, what was
measured, and the numbers side by side from one run). Benchmarks never run in `make test`.
`make bench BENCH=api` runs only the modules whose names contain "api" and keeps the other
sections of the file as they were (each section ends with a marker naming its module).
"""

from __future__ import annotations

import importlib
import platform
import re
import sys
import time
import traceback
from pathlib import Path

from bench.common import host_speed

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    out = ROOT / "docs" / "benchmarks.md"
    sections = _sections(out.read_text()) if argv and out.exists() else {}
    speed_before = host_speed()
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            section = importlib.import_module(f"bench.{name}").run()
        except Exception:
            failed += 1
            section = f"## {name}\n\nFailed to run:\n\n```\n{traceback.format_exc()}```\n"
        print(section, flush=True)
        print(f"   ({time.monotonic() - started:.1f}s)", flush=True)
        sections[name] = f"{section.rstrip()}\n\n<!-- {_MARK}{name} ({_now()}) -->\n"
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {_now()}, "
        f"{platform.machine()}, Python {platform.python_version()}. "
        "Each section compares its numbers side by side from one run"
        + (f" (this time only {', '.join(names)} ran; the other sections are from earlier runs, "
           "dated at their ends)" if argv else "") + ". "
        f"Host speed, a fixed pure-Python loop (lower is faster; it varies between machines "
        f"of the same kind and over a day): {speed_before} before, {host_speed()} after.\n\n"
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(header + "\n".join(sections[n] for n in sorted(sections)))
    print(f"wrote {out}")
    return 1 if failed else 0


_MARK = "bench: "


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _sections(text: str) -> dict[str, str]:
    """The sections of an earlier benchmarks.md, by module name (each ends with its marker)."""
    found = {}
    body = text.split("\n## ", 1)[1] if "\n## " in text else ""
    for part in re.split(r"(?<=-->\n)\n?(?=## )", "## " + body if body else ""):
        mark = re.search(rf"<!-- {_MARK}(\w+) ", part)
        if mark:
            found[mark.group(1)] = part
    return found


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
