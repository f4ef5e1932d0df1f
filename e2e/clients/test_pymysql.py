"""PyMySQL against Cairn: connect, DDL, parameters, type round trips, errors and recovery."""

from __future__ import annotations

import datetime
import decimal

import pymysql
import pytest

from cairn_server import create_duplicate_table

LARGEINT_MAX = 2**127 - 1
# StarRocks documents LARGEINT as [-2^127 + 1, 2^127 - 1].
LARGEINT_MIN = -(2**127) + 1


def error_code(error: pymysql.err.MySQLError) -> int:
    return error.args[0]


def test_connect_reads_server_variables(cairn):
    connection = cairn.connect()
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@version_comment, @@version, @@session.autocommit, DATABASE()")
        version_comment, version, autocommit, database = cursor.fetchone()
    connection.close()
    assert version_comment, "@@version_comment must not be empty: the mysql CLI prints it"
    assert version and version[0].isdigit(), f"@@version should look like 5.1.0, got {version!r}"
    assert int(autocommit) == 1
    assert database is None


def test_ddl_and_inserts_with_parameters(connection):
    with connection.cursor() as cursor:
        create_duplicate_table(
            cursor, "readings", "id INT NOT NULL, name VARCHAR(32), ts DATETIME", "id", buckets=2
        )
        cursor.execute("SHOW TABLES")
        assert cursor.fetchall() == (("readings",),)

        affected = cursor.execute(
            "INSERT INTO readings (id, name, ts) VALUES (%s, %s, %s)",
            (1, "it's quoted", datetime.datetime(2024, 1, 1, 10, 0, 0)),
        )
        assert affected == 1
        cursor.execute(
            "INSERT INTO readings (id, name, ts) VALUES (%s, %s, %s), (%s, %s, %s)",
            (2, None, None, 3, "三", datetime.datetime(2024, 2, 29, 23, 59, 59)),
        )
        cursor.execute("SELECT id, name, ts FROM readings WHERE id >= %s ORDER BY id", (1,))
        assert cursor.fetchall() == (
            (1, "it's quoted", datetime.datetime(2024, 1, 1, 10, 0, 0)),
            (2, None, None),
            (3, "三", datetime.datetime(2024, 2, 29, 23, 59, 59)),
        )


def test_types_round_trip(connection):
    with connection.cursor() as cursor:
        create_duplicate_table(
            cursor,
            "typed",
            "id INT NOT NULL, day DATE, moment DATETIME, amount DECIMAL(10, 2), "
            "huge LARGEINT, flag BOOLEAN, ratio DOUBLE, small TINYINT, big BIGINT, note VARCHAR(20)",
            "id",
        )
        rows = [
            (1, datetime.date(2024, 1, 1), datetime.datetime(2024, 1, 1, 10, 0, 0),
             decimal.Decimal("123.45"), LARGEINT_MAX, True, 1.5, -128, 2**63 - 1, "héllo"),
            (2, datetime.date(1970, 1, 1), datetime.datetime(1999, 12, 31, 23, 59, 59),
             decimal.Decimal("-0.01"), LARGEINT_MIN, False, -2.25, 127, -(2**63), ""),
            (3, None, None, None, None, None, None, None, None, None),
        ]
        cursor.executemany(
            "INSERT INTO typed VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows
        )
        cursor.execute("SELECT * FROM typed ORDER BY id")
        fetched = cursor.fetchall()

    assert len(fetched) == 3
    for expected, actual in zip(rows, fetched):
        (identifier, day, moment, amount, huge, flag, ratio, small, big, note) = actual
        assert identifier == expected[0]
        assert day == expected[1] and (day is None or type(day) is datetime.date)
        assert moment == expected[2] and (moment is None or type(moment) is datetime.datetime)
        assert amount == expected[3] and (amount is None or isinstance(amount, decimal.Decimal))
        # LARGEINT has no MySQL type of its own; whatever it is sent as, the value must be exact.
        assert (huge is None and expected[4] is None) or int(huge) == expected[4]
        # BOOLEAN is TINYINT(1) on the wire, as in MySQL and StarRocks.
        assert (flag is None and expected[5] is None) or int(flag) == int(expected[5])
        assert ratio == expected[6]
        assert small == expected[7]
        assert big == expected[8]
        assert note == expected[9]


def test_executemany_inserts_every_row(connection):
    rows = [(number, f"name-{number}") for number in range(500)]
    with connection.cursor() as cursor:
        create_duplicate_table(cursor, "many", "id INT NOT NULL, name VARCHAR(20)", "id", 3)
        affected = cursor.executemany("INSERT INTO many (id, name) VALUES (%s, %s)", rows)
        assert affected == len(rows)
        cursor.execute("SELECT count(*), sum(id), min(name), max(name) FROM many")
        assert cursor.fetchone() == (500, sum(range(500)), "name-0", "name-99")


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
def test_errors_carry_mysql_codes_and_session_survives(connection, statement, expected_code):
    with connection.cursor() as cursor:
        create_duplicate_table(cursor, "existing", "id INT NOT NULL", "id")
        cursor.execute("INSERT INTO existing VALUES (7)")
        with pytest.raises(pymysql.err.MySQLError) as raised:
            cursor.execute(statement)
        assert error_code(raised.value) == expected_code, raised.value
        # The same session goes on, in the same database.
        cursor.execute("SELECT id FROM existing")
        assert cursor.fetchall() == ((7,),)
    connection.ping(reconnect=False)


def test_unknown_database_at_connect_is_1049(cairn):
    with pytest.raises(pymysql.err.OperationalError) as raised:
        cairn.connect(database="no_such_database_at_all")
    assert error_code(raised.value) == 1049


def test_wrong_password_is_1045(cairn, root_connection):
    with root_connection.cursor() as cursor:
        cursor.execute("CREATE USER 'py_tester'@'%' IDENTIFIED BY 'right-password'")
    try:
        with pytest.raises(pymysql.err.OperationalError) as raised:
            cairn.connect(user="py_tester", password="wrong-password")
        assert error_code(raised.value) == 1045
        with pytest.raises(pymysql.err.OperationalError) as raised:
            cairn.connect(user="root", password="not-empty")
        assert error_code(raised.value) == 1045
        session = cairn.connect(user="py_tester", password="right-password")
        with session.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        session.close()
    finally:
        with root_connection.cursor() as cursor:
            cursor.execute("DROP USER 'py_tester'@'%'")


def test_bad_values_name_the_column_and_leave_no_partial_data(connection):
    with connection.cursor() as cursor:
        create_duplicate_table(cursor, "strict", "id INT NOT NULL, small TINYINT", "id")
        cursor.execute("INSERT INTO strict VALUES (1, 1)")

        # Overflow: MySQL's 1264 "Out of range value for column 'small'".
        with pytest.raises(pymysql.err.MySQLError) as raised:
            cursor.execute("INSERT INTO strict VALUES (2, 2), (3, 300)")
        assert error_code(raised.value) == 1264, raised.value
        assert "small" in str(raised.value)

        # Type error: MySQL's 1366 "Incorrect integer value ... for column 'id'".
        with pytest.raises(pymysql.err.MySQLError) as raised:
            cursor.execute("INSERT INTO strict VALUES (4, 4), ('not a number', 5)")
        assert error_code(raised.value) in (1366, 1292), raised.value
        assert "id" in str(raised.value)

        # Neither failed statement left a row behind.
        cursor.execute("SELECT id, small FROM strict ORDER BY id")
        assert cursor.fetchall() == ((1, 1),)


def test_session_statements_are_accepted(connection):
    with connection.cursor() as cursor:
        cursor.execute("SET NAMES utf8mb4")
        cursor.execute("SET time_zone = '+00:00'")
        cursor.execute("SET sql_mode = 'STRICT_TRANS_TABLES'")
        cursor.execute("SET autocommit = 1")
        cursor.execute("SET @@session.wait_timeout = 600")
        cursor.execute("SELECT @@time_zone, @@session.autocommit, @@max_allowed_packet")
        time_zone, autocommit, max_allowed_packet = cursor.fetchone()
        assert time_zone == "+00:00"
        assert int(autocommit) == 1
        assert int(max_allowed_packet) > 0
