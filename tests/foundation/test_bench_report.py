"""make bench's report: a partial run keeps the other sections; CPU accounting reads /proc."""

import os

from bench.__main__ import _MARK, _sections
from bench.common import tree_cpu_seconds


def test_sections_are_found_by_their_module_markers():
    text = (
        "# Benchmarks\n\nWritten by ...\n\n"
        f"## API\n\nrows\n| a | b |\n\n<!-- {_MARK}bench_api (2026-11-27 09:41 UTC) -->\n"
        "\n"
        f"## License API\n\nmore\n\n<!-- {_MARK}bench_licenseapi (2026-11-27 09:42 UTC) -->\n"
    )
    found = _sections(text)
    assert sorted(found) == ["bench_api", "bench_licenseapi"]
    assert found["bench_api"].startswith("## API\n") and "| a | b |" in found["bench_api"]
    assert found["bench_licenseapi"].startswith("## License API\n")


def test_a_report_without_markers_has_no_sections_to_keep():
    assert _sections("# Benchmarks\n\n## Old\n\nno marker\n") == {}


def test_cpu_time_of_a_process_tree_grows_with_work():
    before = tree_cpu_seconds(os.getpid())
    sum(i * i for i in range(3_000_000))
    assert tree_cpu_seconds(os.getpid()) > before
    assert tree_cpu_seconds(2**22 + 1) == 0.0  # no such process
