"""The session's Kafka broker: one real single-node KRaft broker in e2e/.work/kafka/session.

Each run starts it afresh (new storage and ports; a broker left running there by an earlier,
interrupted run is stopped first) and stops it at the end, keeping the directory and its
broker.log for a look after a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_broker import REPOSITORY, KafkaBroker  # noqa: E402

SESSION_WORKDIR = REPOSITORY / "e2e" / ".work" / "kafka" / "session"


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
