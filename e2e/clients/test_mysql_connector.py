"""mysql-connector-python against Cairn, pure Python and C extension, including server-side
prepared statements (`prepared=True`: COM_STMT_PREPARE/EXECUTE/CLOSE, binary rows)."""

from __future__ import annotations

import datetime
import decimal

import mysql.connector
import pytest
from mysql.connector import errors

from cairn_server import create_duplicate_table


@pytest.fixture(params=[True, False], ids=["pure", "c-extension"])
def use_pure(request):
    return request.param


def connect(cairn, use_pure, **options):
    settings = dict(
        host=cairn.host, port=cairn.query_port, user="root", password="",
        use_pure=use_pure, autocommit=True, connection_timeout=10,
    )
    settings.update(options)
    return mysql.connector.connect(**settings)


def test_connect_and_server_info(cairn, use_pure):
    connection = connect(cairn, use_pure)
    assert connection.is_connected()
    cursor = connection.cursor()
    cursor.execute("SELECT @@version_comment, CONNECTION_ID() > 0")
    version_comment, has_id = cursor.fetchone()
    assert version_comment
    assert int(has_id) == 1
    connection.ping(reconnect=False)
    connection.close()


def test_prepared_statements_round_trip_types(cairn, use_pure, database):
    connection = connect(cairn, use_pure, database=database)
    plain = connection.cursor()
    create_duplicate_table(
        plain,
        "typed",
        "id INT NOT NULL, day DATE, moment DATETIME, amount DECIMAL(12, 3), huge LARGEINT, "
        "flag BOOLEAN, ratio DOUBLE, note VARCHAR(32)",
        "id",
    )
    prepared = connection.cursor(prepared=True)
    rows = [
        (1, datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 1, 10, 0, 0),
         decimal.Decimal("1234.567"), 2**100, True, 0.5, "first"),
        (2, datetime.date(2000, 2, 29), datetime.datetime(2000, 2, 29, 0, 0, 1),
         decimal.Decimal("-0.001"), -(2**100), False, -1e10, ""),
        (3, None, None, None, None, None, None, None),
    ]
    insert = "INSERT INTO typed (id, day, moment, amount, huge, flag, ratio, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    for row in rows[:2]:
        # LARGEINT values beyond 64 bits travel as strings in the binary protocol.
        prepared.execute(insert, (*row[:4], str(row[4]), *row[5:]))
        assert prepared.rowcount == 1
    prepared.execute(insert, rows[2])

    prepared.execute("SELECT id, day, moment, amount, huge, flag, ratio, note FROM typed WHERE id >= ? ORDER BY id", (1,))
    fetched = prepared.fetchall()
    assert len(fetched) == 3
    for expected, actual in zip(rows, fetched):
        identifier, day, moment, amount, huge, flag, ratio, note = actual
        assert identifier == expected[0]
        assert day == expected[1]
        assert moment == expected[2]
        assert amount == expected[3]
        assert (huge is None and expected[4] is None) or int(huge) == expected[4]
        assert (flag is None and expected[5] is None) or int(flag) == int(expected[5])
        assert ratio == expected[6]
        note = note.decode() if isinstance(note, (bytes, bytearray)) else note
        assert note == expected[7]

    # The same prepared statement, executed again with other parameters.
    prepared.execute("SELECT count(*) FROM typed WHERE id = ?", (2,))
    assert prepared.fetchall() == [(1,)]
    prepared.execute("SELECT count(*) FROM typed WHERE id = ?", (42,))
    assert prepared.fetchall() == [(0,)]
    prepared.close()
    connection.close()


def test_executemany_with_prepared_cursor(cairn, use_pure, database):
    connection = connect(cairn, use_pure, database=database)
    plain = connection.cursor()
    create_duplicate_table(plain, "many", "id INT NOT NULL, label VARCHAR(16)", "id", 2)
    prepared = connection.cursor(prepared=True)
    prepared.executemany("INSERT INTO many VALUES (?, ?)", [(n, f"l{n}") for n in range(50)])
    plain.execute("SELECT count(*), sum(id) FROM many")
    assert plain.fetchone() == (50, sum(range(50)))
    connection.close()


@pytest.mark.parametrize(
    "statement, expected_code",
    [
        ("SELEC 1", 1064),
        ("SELECT * FROM no_such_table", 1146),
        ("USE no_such_database", 1049),
        ("CREATE TABLE existing (id INT) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1 "
         'PROPERTIES ("replication_num" = "1")', 1050),
    ],
)
def test_errors_and_recovery(cairn, use_pure, database, statement, expected_code):
    connection = connect(cairn, use_pure, database=database)
    cursor = connection.cursor()
    create_duplicate_table(cursor, "existing", "id INT NOT NULL", "id")
    with pytest.raises(errors.Error) as raised:
        cursor.execute(statement)
    assert raised.value.errno == expected_code, raised.value
    assert raised.value.sqlstate, "the server must send a SQLSTATE"
    cursor.execute("SELECT 40 + 2")
    assert cursor.fetchone() == (42,)
    prepared = connection.cursor(prepared=True)
    with pytest.raises(errors.Error) as raised:
        prepared.execute("SELECT * FROM no_such_table WHERE id = ?", (1,))
    assert raised.value.errno == 1146
    prepared.execute("SELECT ? + 1", (1,))
    assert [int(value) for value in prepared.fetchone()] == [2]
    connection.close()


def test_wrong_password_is_1045(cairn, use_pure):
    with pytest.raises(errors.Error) as raised:
        connect(cairn, use_pure, password="definitely-wrong")
    assert raised.value.errno == 1045


def test_unknown_database_at_connect_is_1049(cairn, use_pure):
    with pytest.raises(errors.Error) as raised:
        connect(cairn, use_pure, database="no_such_database_at_all")
    assert raised.value.errno == 1049
