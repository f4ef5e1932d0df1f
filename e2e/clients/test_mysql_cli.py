"""The mysql CLI (Debian's mariadb-client) against Cairn: batch, --table, and an interactive
session on a pseudo-terminal, which sends `select @@version_comment limit 1` at start and
fetches field lists (COM_FIELD_LIST) on `USE db` because it runs without -A."""

from __future__ import annotations

import re
import shutil
import subprocess

import pexpect
import pytest

from cairn_server import create_duplicate_table


@pytest.fixture(scope="module")
def mysql_cli():
    path = shutil.which("mysql")
    assert path, "the mysql CLI is missing: e2e/tools/apt.sh installs mariadb-client"
    return path


def run_cli(mysql_cli, cairn, *arguments, database=None):
    command = [mysql_cli, "-h", cairn.host, "-P", str(cairn.query_port), "-uroot", *arguments]
    if database:
        command.append(database)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return completed


@pytest.fixture
def sensor_table(connection, database):
    with connection.cursor() as cursor:
        create_duplicate_table(
            cursor, "sensor_data",
            "sensor_id INT NOT NULL, ts DATETIME NOT NULL, temperature DOUBLE, note VARCHAR(16)",
            "sensor_id, ts",
        )
        cursor.execute(
            "INSERT INTO sensor_data VALUES "
            "(1, '2024-01-01 10:00:00', 21.5, 'a'), (2, '2024-01-01 10:00:01', 22, NULL), "
            "(3, '2024-01-01 10:00:02', -3.25, '')"
        )
    return database


def test_batch_mode_prints_tab_separated_rows(mysql_cli, cairn, sensor_table):
    completed = run_cli(
        mysql_cli, cairn, "--batch", "-e",
        "SELECT sensor_id, ts, note FROM sensor_data ORDER BY sensor_id",
        database=sensor_table,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        "sensor_id\tts\tnote\n"
        "1\t2024-01-01 10:00:00\ta\n"
        "2\t2024-01-01 10:00:01\tNULL\n"
        "3\t2024-01-01 10:00:02\t\n"
    )


def test_table_mode_prints_boxes(mysql_cli, cairn, sensor_table):
    completed = run_cli(
        mysql_cli, cairn, "--table", "-e",
        "SELECT sensor_id, note FROM sensor_data WHERE sensor_id <= 2 ORDER BY sensor_id",
        database=sensor_table,
    )
    assert completed.returncode == 0, completed.stderr
    # Numbers are right-aligned and strings left-aligned, as the CLI does for numeric types.
    assert completed.stdout == (
        "+-----------+------+\n"
        "| sensor_id | note |\n"
        "+-----------+------+\n"
        "|         1 | a    |\n"
        "|         2 | NULL |\n"
        "+-----------+------+\n"
    )


def test_batch_error_is_reported_with_code(mysql_cli, cairn, sensor_table):
    completed = run_cli(mysql_cli, cairn, "-e", "SELECT * FROM no_such_table", database=sensor_table)
    assert completed.returncode == 1
    assert re.search(r"^ERROR 1146 \(42S02\) at line 1: ", completed.stderr, re.MULTILINE), completed.stderr


def test_interactive_session_with_use_and_field_lists(mysql_cli, cairn, root_connection, sensor_table):
    with root_connection.cursor() as cursor:
        cursor.execute("SELECT @@version_comment")
        (version_comment,) = cursor.fetchone()
    assert version_comment

    session = pexpect.spawn(
        mysql_cli,
        ["-h", cairn.host, "-P", str(cairn.query_port), "-uroot"],
        env={"TERM": "dumb", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"},
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    try:
        # The banner's comment comes from `select @@version_comment limit 1`.
        session.expect(r"Server version: ([^\r\n]*)\r\n")
        assert version_comment in session.match.group(1)
        session.expect(r"\[\(none\)\]> ")

        session.sendline(f"USE {sensor_table}")
        # Without -A, the CLI reads every table's field list for completion before switching.
        session.expect("Reading table information for completion of table and column names")
        session.expect("Database changed")
        session.expect(rf"\[{sensor_table}\]> ")

        session.sendline("SELECT count(*) AS readings, max(temperature) AS hottest FROM sensor_data;")
        session.expect(r"\| readings \| hottest \|")
        session.expect(r"\|\s+3 \|\s+22 \|")
        session.expect(r"1 row in set")
        session.expect(rf"\[{sensor_table}\]> ")

        session.sendline("SELECT * FROM no_such_table;")
        session.expect(r"ERROR 1146 \(42S02\)")
        session.expect(rf"\[{sensor_table}\]> ")
        session.sendline("SELECT 'still here' AS status;")
        session.expect(r"\| still here \|")
        session.expect(rf"\[{sensor_table}\]> ")

        session.sendline("quit")
        session.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as error:
        raise AssertionError(f"mysql CLI session went wrong: {error}\nscreen so far:\n{session.before}") from error
    finally:
        session.close()
    assert session.exitstatus == 0
