"""Fixtures shared by the client tests: one `cairn allin1` for the session, fresh databases."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cairn_server import CairnServer  # noqa: E402

_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def cairn(tmp_path_factory, request):
    """The session's server, started on free ports with a temporary data directory."""
    server = CairnServer(tmp_path_factory.mktemp("cairn")).start()
    os.environ["CAIRN_MYSQL_ADDR"] = server.mysql_address
    yield server
    if request.session.testsfailed:
        print("\n" + server.log_tail(80), file=sys.stderr)
    running_at_end = server.is_running()
    server.stop()
    assert running_at_end, "the session's cairn server died during the tests\n" + server.log_tail()


@pytest.fixture
def root_connection(cairn):
    connection = cairn.connect()
    yield connection
    connection.close()


@pytest.fixture
def database(cairn, request):
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"t{os.getpid()}_{next(_database_numbers)}_{request.node.name[:24]}".lower()
    name = "".join(character if character.isalnum() else "_" for character in name)
    connection = cairn.connect()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE {name}")
    connection.close()


@pytest.fixture
def connection(cairn, database):
    """A PyMySQL session using the test's fresh database."""
    session = cairn.connect(database=database)
    yield session
    session.close()

