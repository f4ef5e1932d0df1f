"""Smoke tests of the test broker itself (e2e/tools/kafka.sh) and of the kafka_broker helpers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from kafka_broker import KAFKA_SH, KafkaBrokerError


def _kafka_sh(command: str, workdir) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(KAFKA_SH), command, str(workdir)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )


def _port_accepts(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def test_produce_and_consume_over_plaintext_and_sasl(kafka_broker):
    topic = "smoke_three_partitions"
    kafka_broker.create_topic(topic, partitions=3)
    assert kafka_broker.partition_count(topic) == 3

    plain = [f"plain-{index:03d}" for index in range(100)]
    for partition in range(3):
        placed = kafka_broker.produce(topic, plain[partition::3], partition=partition)
        assert [p for p, _ in placed] == [partition] * len(plain[partition::3])
        assert [offset for _, offset in placed] == list(range(len(plain[partition::3])))

    secure = [f"sasl-{index:03d}".encode() for index in range(100)]
    placed = kafka_broker.produce(topic, secure, key="sensor-7", sasl=True)
    assert len({partition for partition, _ in placed}) == 1, "one key must map to one partition"

    for sasl in (False, True):
        records = kafka_broker.consume(topic, sasl=sasl)
        assert len(records) == 200
        plain_read = [r for r in records if r.value.startswith(b"plain-")]
        sasl_read = [r for r in records if r.value.startswith(b"sasl-")]
        assert sorted(r.value.decode() for r in plain_read) == plain
        for partition in range(3):
            in_partition = [r.value.decode() for r in plain_read if r.partition == partition]
            assert in_partition == plain[partition::3]
        assert [r.value for r in sasl_read] == secure  # one partition: in produce order
        assert {r.key for r in sasl_read} == {b"sensor-7"}
        assert {r.key for r in plain_read} == {None}


def test_wrong_sasl_password_is_refused(kafka_broker):
    errors = []
    config = kafka_broker.client_config(sasl=True, password="not-the-password")
    config["error_cb"] = errors.append
    config["log_level"] = 2  # librdkafka would log every refused attempt
    admin = AdminClient(config)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=4)
    admin.poll(1)  # serves error_cb
    assert any(error.code() == KafkaError._AUTHENTICATION for error in errors), errors

    delivery = []
    producer = Producer({**config, "message.timeout.ms": 3000})
    producer.produce("smoke_refused", b"never stored", on_delivery=lambda e, m: delivery.append(e))
    producer.flush(10)
    assert len(delivery) == 1 and delivery[0] is not None, delivery

    # The right password still works on the same listener.
    assert kafka_broker.admin(sasl=True).list_topics(timeout=10).brokers


def test_unknown_topic_is_created_on_first_produce(kafka_broker):
    topic = "smoke_auto_created"
    kafka_broker.produce(topic, ["first"])
    assert kafka_broker.partition_count(topic) == 1
    assert [r.value for r in kafka_broker.consume(topic)] == [b"first"]


def test_kill_and_restart_on_the_same_ports_keeps_messages(kafka_broker):
    topic = "smoke_outage"
    kafka_broker.create_topic(topic, partitions=2)
    before = [f"before-{index}" for index in range(40)]
    kafka_broker.produce(topic, before[:20], partition=0)
    kafka_broker.produce(topic, before[20:], partition=1, sasl=True)
    addresses = (kafka_broker.bootstrap, kafka_broker.sasl_bootstrap)
    old_pid = kafka_broker.pid

    kafka_broker.kill()
    try:
        assert not kafka_broker.is_running()
        # kill returns once every thread of the JVM has exited, not when its first thread has:
        # the last one closes the listening sockets, on a loaded machine 100+ ms later.
        assert not _port_accepts(kafka_broker.bootstrap)
        assert not _port_accepts(kafka_broker.sasl_bootstrap)
        with pytest.raises(KafkaBrokerError):
            kafka_broker.produce(topic, ["during the outage"], timeout=3)
    finally:
        # Also when an assertion above failed: the later tests need the session's broker.
        started = time.monotonic()
        kafka_broker.restart()
        print(f"restart after kill -9 took {time.monotonic() - started:.1f}s")
    assert kafka_broker.is_running()
    assert (kafka_broker.bootstrap, kafka_broker.sasl_bootstrap) == addresses
    assert kafka_broker.pid != old_pid

    records = kafka_broker.consume(topic)
    assert [r.value.decode() for r in records] == before
    assert [(r.partition, r.offset) for r in records] == (
        [(0, offset) for offset in range(20)] + [(1, offset) for offset in range(20)]
    )
    kafka_broker.produce(topic, ["after"], partition=0)
    assert [r.value for r in kafka_broker.consume(topic, sasl=True)][20] == b"after"


def test_add_partitions(kafka_broker):
    topic = "smoke_growing"
    kafka_broker.create_topic(topic, partitions=1)
    kafka_broker.produce(topic, ["p0"], partition=0)
    kafka_broker.add_partitions(topic, 4)
    assert kafka_broker.partition_count(topic) == 4
    assert kafka_broker.partition_count(topic, sasl=True) == 4
    assert kafka_broker.produce(topic, ["p3"], partition=3) == [(3, 0)]
    records = kafka_broker.consume(topic)
    assert [(r.partition, r.value) for r in records] == [(0, b"p0"), (3, b"p3")]
    with pytest.raises(KafkaBrokerError):
        kafka_broker.add_partitions(topic, 2)  # partitions never shrink


# kafka.sh must not report "no broker running" while the broker's ports are open (a broker it
# does not know about would be left behind, and a restart on those ports would fail). These
# need no real broker: a listening socket and a stand-in process are enough.


def test_stop_and_kill_fail_when_an_unknown_process_holds_the_ports(tmp_path):
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        (tmp_path / "server.properties").write_text(f"listeners=PLAINTEXT://127.0.0.1:{port}\n")
        # The recorded PID is alive but no broker (this very process): as after PID reuse.
        (tmp_path / "broker.env").write_text(
            f"KAFKA_BOOTSTRAP=127.0.0.1:{port}\nKAFKA_PID={os.getpid()}\n"
        )
        assert _kafka_sh("status", tmp_path).returncode == 1
        for command in ("stop", "kill", "restart"):
            completed = _kafka_sh(command, tmp_path)
            assert completed.returncode != 0, completed.stderr
            assert f"port {port} held by pid {os.getpid()}" in completed.stderr, completed.stderr
    for command in ("stop", "kill"):  # the port is closed now: nothing to end, nothing wrong
        completed = _kafka_sh(command, tmp_path)
        assert completed.returncode == 0, completed.stderr
        assert "no broker of" in completed.stderr


def test_stop_ends_and_reports_a_broker_that_broker_env_does_not_record(tmp_path):
    workdir = tmp_path.resolve()
    (workdir / "server.properties").write_text("# no listeners\n")
    (workdir / "broker.env").write_text(f"KAFKA_PID={os.getpid()}\n")
    # Has the command line of a broker of WORKDIR: `... kafka.Kafka WORKDIR/server.properties`.
    stray = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)",
         "kafka.Kafka", str(workdir / "server.properties")],
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while f"kafka.Kafka\0{workdir}" not in open(f"/proc/{stray.pid}/cmdline").read():
            assert time.monotonic() < deadline, "the stand-in never exec'd"
            time.sleep(0.01)
        completed = _kafka_sh("stop", workdir)
        assert completed.returncode != 0, completed.stderr
        assert "does not record" in completed.stderr and f"pid {stray.pid}" in completed.stderr
        assert stray.wait(timeout=30) == -signal.SIGTERM
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
