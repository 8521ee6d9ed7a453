"""The suite cannot go green by skipping: the `e2e` marker (skipped without Chromium) covers
exactly the browser tests in tests/e2e/, and everything else runs without a browser."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import E2E_DIR

ROOT = Path(__file__).resolve().parents[1]


def test_the_e2e_marker_covers_exactly_tests_e2e(request):
    items = request.session.items
    marked = {item.nodeid for item in items if item.get_closest_marker("e2e")}
    in_e2e = {item.nodeid for item in items if E2E_DIR in Path(item.path).parents}
    assert marked == in_e2e
    assert request.node.nodeid not in marked


def test_without_chromium_only_browser_tests_are_skipped(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"REQUIRE_E2E", "PYTEST_ADDOPTS"}}
    env.update(
        CHROMIUM_PATH="/nonexistent/chromium",
        # Its own test databases, beside the ones this run is using.
        PYTEST_XDIST_WORKER="integrity",
        EVENTPLANNER_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "tests/test_healthz.py",
            "tests/e2e/test_content_security_policy.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert " skipped" in summary, summary
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert skipped, output
    assert all("tests/e2e/" in line for line in skipped), skipped
