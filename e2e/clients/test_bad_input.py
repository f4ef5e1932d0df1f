"""Bad input gets a clean refusal and every other session goes on: an oversized packet, a
client that disconnects in the middle of a result, and a connection flood."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time

import pymysql
import pytest

from cairn_server import create_duplicate_table

# Error codes a client may see when the server refuses a packet and closes the connection:
# 1153 (ER_NET_PACKET_TOO_LARGE) if it reads the error, 2006/2013 if the close wins the race
# with the client's write.
OVERSIZED_PACKET_CODES = {1153, 2006, 2013}
# 1040 Too many connections; 1203 the user's max_user_connections.
CONNECTION_REFUSED_CODES = {1040, 1203}
FLOOD_SIZE = 300


@pytest.fixture
def witness(cairn, database):
    """A session opened before the bad input, with data whose answer we know."""
    session = cairn.connect(database=database)
    with session.cursor() as cursor:
        create_duplicate_table(cursor, "witness", "id INT NOT NULL, payload VARCHAR(64)", "id", 2)
        values = ", ".join(f"({number}, '{'x' * 60}')" for number in range(1000))
        cursor.execute(f"INSERT INTO witness VALUES {values}")
    yield session
    session.close()


def assert_witness_works(session) -> None:
    with session.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(id) FROM witness")
        assert cursor.fetchone() == (1000, sum(range(1000)))


def test_oversized_packet_is_refused_cleanly(cairn, witness, database):
    with witness.cursor() as cursor:
        cursor.execute("SELECT @@max_allowed_packet")
        (max_allowed_packet,) = cursor.fetchone()
    max_allowed_packet = int(max_allowed_packet)
    assert 1024 <= max_allowed_packet <= 1024**3

    offender = cairn.connect(database=database, max_allowed_packet=4 * max_allowed_packet)
    oversized = "SELECT '" + "a" * (max_allowed_packet + 1024) + "' AS too_big"
    started = time.monotonic()
    with pytest.raises(pymysql.err.MySQLError) as raised:
        with offender.cursor() as cursor:
            cursor.execute(oversized)
    assert time.monotonic() - started < 60, "the refusal must come promptly"
    assert raised.value.args[0] in OVERSIZED_PACKET_CODES, raised.value
    offender.close()

    assert cairn.is_running()
    assert_witness_works(witness)
    fresh = cairn.connect(database=database)
    with fresh.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM witness")
        assert cursor.fetchone() == (1000,)
    fresh.close()


def test_client_disconnecting_mid_result(cairn, witness, database):
    reader = cairn.connect(database=database, cursorclass=pymysql.cursors.SSCursor)
    cursor = reader.cursor()
    cursor.execute("SELECT CONNECTION_ID()")
    (reader_id,) = cursor.fetchone()
    # A million wide rows: far more than the socket buffers hold, so the server is still
    # writing when the client goes away.
    cursor.execute("SELECT a.id, b.id, a.payload FROM witness a CROSS JOIN witness b")
    for _ in range(10):
        assert cursor.fetchone() is not None
    # Vanish without COM_QUIT, as a killed client does.
    reader._sock.shutdown(socket.SHUT_RDWR)
    reader._sock.close()
    reader._sock = None
    reader._rfile = None

    assert_witness_works(witness)
    # The server notices the dead client and ends its session.
    deadline = time.monotonic() + 60
    while True:
        with witness.cursor() as cursor:
            cursor.execute("SHOW PROCESSLIST")
            ids = {int(row[0]) for row in cursor.fetchall()}
        if int(reader_id) not in ids:
            break
        assert time.monotonic() < deadline, f"session {reader_id} still listed 60 s after its client left"
        time.sleep(0.5)
    assert cairn.is_running()
    assert_witness_works(witness)


def test_connection_flood_is_refused_cleanly(cairn, witness, database):
    with witness.cursor() as cursor:
        cursor.execute("SELECT @@max_connections")
        (max_connections,) = cursor.fetchone()
    max_connections = int(max_connections)

    opened: list[pymysql.connections.Connection] = []
    refused: list[int] = []
    unexpected: list[str] = []
    lock = threading.Lock()
    stop_witness = threading.Event()
    witness_errors: list[str] = []

    def open_one(_number: int) -> None:
        try:
            session = cairn.connect(database=database, connect_timeout=20, read_timeout=60)
            with session.cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchone() == (1,)
            with lock:
                opened.append(session)
        except pymysql.err.OperationalError as error:
            with lock:
                if error.args[0] in CONNECTION_REFUSED_CODES:
                    refused.append(error.args[0])
                else:
                    unexpected.append(repr(error))
        except Exception as error:  # noqa: BLE001 - every other failure is a test failure
            with lock:
                unexpected.append(repr(error))

    def keep_witness_busy() -> None:
        while not stop_witness.is_set():
            try:
                assert_witness_works(witness)
            except Exception as error:  # noqa: BLE001
                witness_errors.append(repr(error))
                return
            time.sleep(0.05)

    witness_thread = threading.Thread(target=keep_witness_busy)
    witness_thread.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
            list(pool.map(open_one, range(FLOOD_SIZE)))
    finally:
        stop_witness.set()
        witness_thread.join(timeout=120)

    try:
        assert not unexpected, f"connections failed uncleanly: {unexpected[:5]}"
        assert not witness_errors, f"the existing session broke during the flood: {witness_errors}"
        assert len(opened) + len(refused) == FLOOD_SIZE
        if max_connections < FLOOD_SIZE:
            assert refused, f"@@max_connections is {max_connections} but all {FLOOD_SIZE} connections opened"
        # Every accepted session works while the flood holds its connections.
        for session in opened[:20]:
            with session.cursor() as cursor:
                cursor.execute("SELECT 2")
                assert cursor.fetchone() == (2,)
    finally:
        for session in opened:
            session.close()

    assert cairn.is_running()
    assert_witness_works(witness)
    # Once the flood is gone, new sessions are accepted again.
    deadline = time.monotonic() + 30
    while True:
        try:
            fresh = cairn.connect(database=database)
            break
        except pymysql.err.OperationalError as error:
            assert error.args[0] in CONNECTION_REFUSED_CODES and time.monotonic() < deadline, error
            time.sleep(0.5)
    with fresh.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM witness")
        assert cursor.fetchone() == (1000,)
    fresh.close()
