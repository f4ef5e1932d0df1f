"""The session's Kafka broker: one real single-node KRaft broker in e2e/.work/kafka/session.

Each run starts it afresh (new storage and ports; a broker left running there by an earlier,
interrupted run is stopped first) and stops it at the end, keeping the directory and its
broker.log for a look after a failure.

The Routine Load tests also share one `cairn allin1` (`cairn`, started on first use, so the
broker's own smoke tests need no Cairn binary). Each test gets a fresh database (`database`,
whose jobs are stopped before it is dropped), a SQL session on it (`sql`) and topics with
unique names (`new_topic`). CairnServer comes from e2e/clients: the client tests' class.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_broker import REPOSITORY, KafkaBroker  # noqa: E402

sys.path.append(str(REPOSITORY / "e2e" / "clients"))

from cairn_server import CairnServer  # noqa: E402
from routine_load import Session, stop_live_jobs  # noqa: E402

SESSION_WORKDIR = REPOSITORY / "e2e" / ".work" / "kafka" / "session"

_numbers = itertools.count()


def _safe_name(request, prefix: str, length: int) -> str:
    """PREFIX, a number unique in this run, and the start of the test's name: lower-case
    letters, digits and underscores, valid as a database name and as a Kafka topic."""
    name = f"{prefix}{os.getpid()}_{next(_numbers)}_{request.node.name[:length]}".lower()
    return re.sub(r"[^a-z0-9_]", "_", name)


@pytest.fixture(scope="session")
def kafka_broker(request):
    broker = KafkaBroker().start(SESSION_WORKDIR)
    running_at_end = False
    try:
        yield broker
        if request.session.testsfailed:
            print("\n" + broker.log_tail(80), file=sys.stderr)
        running_at_end = broker.is_running()
    finally:
        # Raises, after ending it, when a broker of the directory ran that kafka.sh did not
        # record, and when the broker's ports stay open: a run leaves no broker behind.
        broker.stop()
    assert running_at_end, "the session's Kafka broker was not running at the end\n" + broker.log_tail()


@pytest.fixture(scope="session")
def cairn(tmp_path_factory, request):
    """The session's `cairn allin1`, on free ports with a temporary data directory. Tests
    that kill the server start their own CairnServer."""
    server = CairnServer(tmp_path_factory.mktemp("cairn")).start()
    running_at_end = False
    try:
        yield server
        if request.session.testsfailed:
            print("\n" + server.log_tail(80), file=sys.stderr)
        running_at_end = server.is_running()
    finally:
        server.stop()
    assert running_at_end, "the session's cairn server died during the tests\n" + server.log_tail()


@pytest.fixture
def database(cairn, request):
    """A fresh, empty database for one test. Its routine load jobs are stopped and then it is
    dropped, so no job of an earlier test competes for the two cores."""
    name = _safe_name(request, "rl", 24)
    session = Session(cairn)
    session.execute(f"CREATE DATABASE {name}")
    session.close()
    yield name
    if not cairn.is_running():
        return  # the session fixture reports the dead server
    stop_live_jobs(cairn, name)
    session = Session(cairn)
    session.execute(f"DROP DATABASE {name}")
    session.close()


@pytest.fixture
def sql(cairn, database):
    """A SQL session on the session's server, using the test's fresh database."""
    opened = Session(cairn, database)
    yield opened
    opened.close()


@pytest.fixture
def new_topic(kafka_broker, request) -> Callable[..., str]:
    """Creates a topic with a name unique in this run: `new_topic(partitions=3)`."""

    def create(partitions: int = 1) -> str:
        topic = _safe_name(request, "rl_", 40) + "_" + uuid.uuid4().hex[:6]
        kafka_broker.create_topic(topic, partitions=partitions)
        return topic

    return create
