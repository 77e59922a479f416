"""`make bench`: run every bench/bench_*.py module and write docs/benchmarks.md.

Each module exposes `run() -> str`, returning one markdown section (a heading, what was
measured, and the numbers side by side from one run). Benchmarks never run in `make test`.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    sections = []
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
        sections.append(section)
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.machine()}, Python {platform.python_version()}. "
        "Each section compares its numbers side by side from one run.\n\n"
    )
    out = ROOT / "docs" / "benchmarks.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(header + "\n".join(sections))
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
