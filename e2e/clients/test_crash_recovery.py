"""Crash tests: continuous labelled INSERTs (and Stream Loads), `kill -9` at an arbitrary moment, restart; every
acknowledged label is present exactly once, no transaction is half there, and nothing else is.
Labels make a load exactly-once: retrying a committed label is refused."""

from __future__ import annotations

import random
import threading
import time

import pymysql
import requests

from cairn_server import CairnServer, create_duplicate_table

ROWS_PER_LOAD = 5
CRASH_CYCLES = 3


class LabelledWriter(threading.Thread):
    """Sends labelled loads one after another until the server goes away. `send(label)`
    returns only once the server acknowledged the load."""

    def __init__(self, prefix: str, send):
        super().__init__(daemon=True)
        self.prefix = prefix
        self.send = send
        self.acknowledged: list[str] = []
        self.in_flight: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        number = 0
        try:
            while True:
                label = f"{self.prefix}_{number}"
                self.in_flight = label
                self.send(label)
                self.acknowledged.append(label)
                self.in_flight = None
                number += 1
        except BaseException as error:  # noqa: BLE001 - the test inspects what ended the writer
            # Normally the kill: the load in flight may or may not have committed.
            self.error = error


def insert_writer(server: CairnServer, cycle: int) -> LabelledWriter:
    session = server.connect(database="crash", read_timeout=30, write_timeout=30)
    return LabelledWriter(f"crash_{cycle}", lambda label: session.cursor().execute(insert_statement(label)))


def insert_statement(label: str) -> str:
    values = ", ".join(f"('{label}', {row}, 'payload {row} of {label}')" for row in range(ROWS_PER_LOAD))
    return f"INSERT INTO loads WITH LABEL {label} (label, seq, payload) VALUES {values}"


def rows_per_label(server: CairnServer) -> dict[str, int]:
    session = server.connect(database="crash")
    with session.cursor() as cursor:
        cursor.execute("SELECT label, count(*), count(DISTINCT seq) FROM loads GROUP BY label")
        rows = cursor.fetchall()
    session.close()
    for label, count, distinct in rows:
        assert count == distinct, f"label {label} has duplicated rows: {count} rows, {distinct} distinct"
    return {label: count for label, count, _distinct in rows}


def create_loads_table(server: CairnServer) -> None:
    session = server.connect()
    with session.cursor() as cursor:
        cursor.execute("CREATE DATABASE crash")
        cursor.execute("USE crash")
        create_duplicate_table(
            cursor, "loads",
            "label VARCHAR(64) NOT NULL, seq INT NOT NULL, payload VARCHAR(128)",
            "label", buckets=4,
        )
    session.close()


def crash_cycles(server: CairnServer, make_writer, seed: int, check_crash_error) -> tuple[set[str], set[str]]:
    """CRASH_CYCLES times: a writer loads until `kill -9` at a random moment, then a restart.
    After each restart every acknowledged label is present exactly once, no half transaction
    is visible, and nothing else is. `check_crash_error(cycle, error)` checks that the writer
    stopped because of the crash. Returns the acknowledged labels and those in flight at a kill."""
    acknowledged: set[str] = set()
    uncertain: set[str] = set()
    random_source = random.Random(seed)
    for cycle in range(CRASH_CYCLES):
        writer = make_writer(server, cycle)
        writer.start()
        # A loaded machine may take a while for the first load; the kill comes after it.
        deadline = time.monotonic() + 60
        while not writer.acknowledged and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random_source.uniform(0.5, 3.0))
        server.kill()
        writer.join(timeout=60)
        assert not writer.is_alive(), "the writer did not notice the crash"
        check_crash_error(cycle, writer.error)
        assert writer.acknowledged, f"cycle {cycle}: no load was acknowledged before the kill"
        acknowledged.update(writer.acknowledged)
        if writer.in_flight:
            uncertain.add(writer.in_flight)

        server.start()
        present = rows_per_label(server)
        missing = acknowledged - present.keys()
        assert not missing, f"cycle {cycle}: acknowledged labels lost: {sorted(missing)[:10]}"
        unknown = present.keys() - acknowledged - uncertain
        assert not unknown, f"cycle {cycle}: rows under labels never sent: {sorted(unknown)[:10]}"
        partial = {label: count for label, count in present.items() if count != ROWS_PER_LOAD}
        assert not partial, f"cycle {cycle}: half transactions visible: {partial}"
    return acknowledged, uncertain


def test_kill_9_loses_no_acknowledged_load(tmp_path):
    server = CairnServer(tmp_path).start()
    try:
        create_loads_table(server)

        def refused_by_the_crash(cycle: int, error: BaseException | None) -> None:
            assert isinstance(
                error, (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)
            ), f"cycle {cycle}: the writer stopped for another reason than the crash: {error!r}"
            server_code = error.args[0] if error.args else None
            assert not (isinstance(server_code, int) and server_code < 2000), (
                f"cycle {cycle}: the server refused a load before the crash: {error!r}"
            )

        acknowledged, uncertain = crash_cycles(server, insert_writer, 20240101, refused_by_the_crash)

        # Retrying a committed label is refused and writes nothing.
        session = server.connect(database="crash")
        committed = sorted(acknowledged)[0]
        with session.cursor() as cursor:
            try:
                cursor.execute(insert_statement(committed))
                raise AssertionError(f"label {committed} was accepted twice")
            except pymysql.err.MySQLError as error:
                message = str(error).lower()
                assert "label" in message and "already" in message, error

            # The loads whose fate the crash hid: retry them; each ends up present exactly once.
            for label in sorted(uncertain):
                before = rows_per_label(server).get(label, 0)
                try:
                    cursor.execute(insert_statement(label))
                    assert before == 0, f"label {label} was present and still accepted again"
                except pymysql.err.MySQLError as error:
                    assert before == ROWS_PER_LOAD, f"label {label} absent but refused: {error}"
        session.close()

        present = rows_per_label(server)
        assert present.keys() == acknowledged | uncertain
        assert set(present.values()) == {ROWS_PER_LOAD}
    except BaseException:
        print(server.log_tail(80))
        raise
    finally:
        server.stop()


def stream_load_writer(server: CairnServer, cycle: int) -> LabelledWriter:
    def send(label: str) -> None:
        response = stream_load(server, label)
        if response.get("Status") != "Success":
            raise AssertionError(f"load {label} was refused: {response}")

    return LabelledWriter(f"stream_{cycle}", send)


def stream_load(server: CairnServer, label: str) -> dict:
    body = "".join(f"{label}\t{row}\tpayload {row} of {label}\n" for row in range(ROWS_PER_LOAD))
    url = f"http://{server.host}:{server.backend_http_port}/api/crash/loads/_stream_load"
    response = requests.put(url, data=body.encode(), headers={"label": label}, auth=("root", ""), timeout=30)
    return response.json()


def test_kill_9_loses_no_acknowledged_stream_load(tmp_path):
    server = CairnServer(tmp_path).start()
    try:
        create_loads_table(server)

        def refused_by_the_crash(cycle: int, error: BaseException | None) -> None:
            assert isinstance(error, requests.exceptions.ConnectionError), (
                f"cycle {cycle}: the writer stopped for another reason than the crash: {error!r}"
            )

        acknowledged, uncertain = crash_cycles(server, stream_load_writer, 20241121, refused_by_the_crash)

        # Retrying every label: the committed ones are refused, the lost in-flight ones load once.
        for label in sorted(acknowledged | uncertain):
            before = rows_per_label(server).get(label, 0)
            response = stream_load(server, label)
            if before:
                assert response["Status"] == "Label Already Exists", (label, response)
                assert response["ExistingJobStatus"] == "FINISHED", (label, response)
            else:
                assert label in uncertain and response["Status"] == "Success", (label, response)
        present = rows_per_label(server)
        assert present.keys() == acknowledged | uncertain
        assert set(present.values()) == {ROWS_PER_LOAD}
    except BaseException:
        print(server.log_tail(80))
        raise
    finally:
        server.stop()
