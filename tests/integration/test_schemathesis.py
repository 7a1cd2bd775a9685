"""Every input gets a clear 4xx or a success: schemathesis generates requests from the
served OpenAPI document (every operation, a fixed seed, bounded examples and time) against
a real sidecar on loopback, and checks no 5xx, only documented status codes, and that
what the schema forbids is refused. Schema-valid requests may still be refused for rules
JSON Schema cannot say (total_tokens = prompt + output, a cache or reasoning count within
its total), so the positive-acceptance check is the one left out."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from exporter import Settings


@pytest.mark.seconds(46)
def test_the_openapi_document_and_the_server_agree(sidecar_factory, tmp_path: Path) -> None:
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.fail("schemathesis is missing: it is in the dev extra (pip install -e '.[dev]')")
    s = Settings()
    sc = sidecar_factory(replace(s, server=replace(s.server, collectors=())))
    out = subprocess.run(
        [str(st), "run", f"{sc.url}/openapi.json", "--checks", "all",
         "--exclude-checks", "positive_data_acceptance", "--max-examples", "10",
         "--seed", "1", "--workers", "1", "--max-time", "45",
         "--phases", "coverage,fuzzing", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=180)
    tail = out.stdout[-3000:]
    assert out.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail.split("Test cases:")[-1], tail
    status, _, _ = sc.request("GET", "/-/healthy")
    assert status == 200
