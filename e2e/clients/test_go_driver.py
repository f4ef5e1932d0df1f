"""Runs the Go module e2e/clients/go (go-sql-driver/mysql with Grafana's DSN) against the
session's server. e2e/tools/go.sh provides the Go caches and module downloads."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

CLIENTS = Path(__file__).resolve().parent
GO_TOOLS = CLIENTS.parent / "tools" / "go.sh"
EXPECTED_TESTS = {
    "TestPingAndSessionFromDSN",
    "TestTimeFilterMacroReturnsRowsInRangeAsUTCTimes",
    "TestTimeGroupMacroAveragesPerMinute",
    "TestUnixEpochMacros",
    "TestQueryBuilderReadsInformationSchema",
    "TestErrorsCarryMySQLCodesAndPoolRecovers",
}


def test_go_sql_driver_with_grafana_dsn(cairn):
    environment = dict(os.environ, CAIRN_MYSQL_ADDR=cairn.mysql_address)
    script = f'eval "$(bash {GO_TOOLS})" && cd {CLIENTS / "go"} && go test -count=1 -v ./...'
    completed = subprocess.run(
        ["bash", "-c", script], env=environment, capture_output=True, text=True, timeout=900
    )
    output = completed.stdout + completed.stderr
    print(output)
    assert completed.returncode == 0, f"go test failed:\n{output}"
    passed = set(re.findall(r"^--- PASS: (\w+)", completed.stdout, re.MULTILINE))
    assert passed == EXPECTED_TESTS, f"passed {sorted(passed)}, expected {sorted(EXPECTED_TESTS)}"
