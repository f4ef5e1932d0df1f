"""Stream Load as StarRocks users run it: curl with --location-trusted against the FE's 8030,
and a Python `requests` client. Each test checks the JSON response and then the rows through
MySQL, so nothing passes on the response alone."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import time
import uuid

import lz4.frame
import pytest
import requests
import zstandard

ROOT = ("root", "")


def load_url(cairn, database, table, port=None):
    return f"http://{cairn.host}:{port or cairn.http_port}/api/{database}/{table}/_stream_load"


def curl_load(cairn, database, table, data: bytes, *headers: str, user="root:", extra=()):
    """`curl --location-trusted -u root: -T - -H ...` with the body on stdin; returns (JSON, HTTP code)."""
    command = ["curl", "-sS", "--location-trusted", "-u", user, "-T", "-", "-w", "\n%{http_code}", *extra]
    for header in headers:
        command += ["-H", header]
    command.append(load_url(cairn, database, table))
    completed = subprocess.run(command, input=data, capture_output=True, timeout=120, check=True)
    body, _, code = completed.stdout.decode().rpartition("\n")
    return json.loads(body), int(code)


def requests_load(cairn, database, table, data, headers=None, auth=ROOT):
    """A `requests` client: the 307 is followed by hand with the same auth, as connectors do."""
    url = load_url(cairn, database, table)
    headers = {"Expect": "100-continue", **(headers or {})}
    first = requests.put(url, data=data, headers=headers, auth=auth, allow_redirects=False, timeout=60)
    if first.status_code != 307:
        return first
    return requests.put(first.headers["Location"], data=data, headers=headers, auth=auth, timeout=120)


def rows(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


@pytest.fixture
def scores(connection, database):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE scores (id INT NOT NULL, name VARCHAR(10), score BIGINT, day DATE) "
            "DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3"
        )
    return "scores"


def test_curl_csv_redirect_and_response_shape(cairn, connection, database, scores):
    label = f"csv_{uuid.uuid4().hex[:8]}"
    response, code = curl_load(
        cairn, database, scores, b"1,ann,90,2024-01-01\n2,bob,\\N,2024-01-02\n3,cid,70,2024-01-03\n",
        f"label: {label}", "column_separator: ,", "Expect: 100-continue",
    )
    assert code == 200
    assert response["Status"] == "Success", response
    assert response["Label"] == label
    assert response["Message"] == "OK"
    assert response["NumberTotalRows"] == 3
    assert response["NumberLoadedRows"] == 3
    assert response["NumberFilteredRows"] == 0
    assert response["NumberUnselectedRows"] == 0
    assert response["LoadBytes"] > 0
    assert response["TxnId"] > 0
    for key in ("LoadTimeMs", "BeginTxnTimeMs", "StreamLoadPlanTimeMs", "ReadDataTimeMs", "WriteDataTimeMs", "CommitAndPublishTimeMs"):
        assert isinstance(response[key], int), key
    assert rows(connection, "SELECT id, name, score, CAST(day AS CHAR) FROM scores ORDER BY id") == [
        (1, "ann", 90, "2024-01-01"), (2, "bob", None, "2024-01-02"), (3, "cid", 70, "2024-01-03"),
    ]


def test_fe_answers_307_to_the_backend(cairn, database, scores):
    response = requests.put(load_url(cairn, database, scores), data=b"1\ta\t1\t2024-01-01\n", auth=ROOT, allow_redirects=False, timeout=30)
    assert response.status_code == 307
    location = response.headers["Location"]
    assert location == f"http://127.0.0.1:{cairn.backend_http_port}/api/{database}/{scores}/_stream_load"


def test_repeated_label_never_writes_twice(cairn, connection, database, scores):
    label = f"retry_{uuid.uuid4().hex[:8]}"
    body = b"10\tx\t1\t2024-02-01\n11\ty\t2\t2024-02-01\n"
    first = requests_load(cairn, database, scores, body, {"label": label}).json()
    assert first["Status"] == "Success", first
    second = requests_load(cairn, database, scores, body, {"label": label}).json()
    assert second["Status"] == "Label Already Exists", second
    assert second["ExistingJobStatus"] == "FINISHED"
    assert rows(connection, "SELECT count(*) FROM scores") == [(2,)]


def test_json_with_jsonpaths_root_and_outer_array(cairn, connection, database, scores):
    document = {"data": [{"i": 1, "who": {"n": "ann"}, "s": 5, "d": "2024-03-01"}, {"i": 2, "who": {"n": "bob"}, "s": 6, "d": "2024-03-02"}]}
    response = requests_load(cairn, database, scores, json.dumps(document), {
        "format": "json",
        "jsonpaths": '["$.i", "$.who.n", "$.s", "$.d"]',
        "json_root": "$.data",
        "strip_outer_array": "true",
    }).json()
    assert response["Status"] == "Success", response
    assert response["NumberLoadedRows"] == 2
    assert rows(connection, "SELECT id, name, score FROM scores ORDER BY id") == [(1, "ann", 5), (2, "bob", 6)]


def test_json_lines_by_column_name(cairn, connection, database, scores):
    body = b'{"id": 7, "name": "g", "score": 1, "day": "2024-01-01"}\n{"id": 8, "score": 2, "day": "2024-01-02"}\n'
    response = requests_load(cairn, database, scores, body, {"format": "json"}).json()
    assert response["Status"] == "Success", response
    assert rows(connection, "SELECT id, name, score FROM scores ORDER BY id") == [(7, "g", 1), (8, None, 2)]


@pytest.mark.parametrize("compression", ["gzip-header", "content-encoding", "zstd", "lz4"])
def test_compressed_bodies(cairn, connection, database, scores, compression):
    text = "".join(f"{i}|n{i}|{i * 10}|2024-01-01\n" for i in range(1, 1001)).encode()
    headers = {"column_separator": "|"}
    if compression == "gzip-header":
        body, headers["compression"] = gzip.compress(text), "gzip"
    elif compression == "content-encoding":
        body, headers["Content-Encoding"] = gzip.compress(text), "gzip"
    elif compression == "zstd":
        body, headers["compression"] = zstandard.ZstdCompressor().compress(text), "zstd"
    else:
        body, headers["compression"] = lz4.frame.compress(text), "lz4_frame"
    response = requests_load(cairn, database, scores, body, headers).json()
    assert response["Status"] == "Success", response
    assert response["NumberLoadedRows"] == 1000
    assert rows(connection, "SELECT count(*), sum(score) FROM scores") == [(1000, 5005000)]


def test_columns_expressions_where_and_unselected(cairn, connection, database, scores):
    response = requests_load(cairn, database, scores, b"1,2,ann\n2,3,bob\n3,4,cid\n", {
        "column_separator": ",",
        "columns": "id, tmp, name, score = tmp * 100, day = '2024-05-05'",
        "where": "score > 200",
    }).json()
    assert response["Status"] == "Success", response
    assert response["NumberTotalRows"] == 3
    assert response["NumberLoadedRows"] == 2
    assert response["NumberUnselectedRows"] == 1
    assert rows(connection, "SELECT id, name, score, CAST(day AS CHAR) FROM scores ORDER BY id") == [
        (2, "bob", 300, "2024-05-05"), (3, "cid", 400, "2024-05-05"),
    ]


def test_filtered_rows_and_error_url(cairn, connection, database, scores):
    body = b"1,ok,1,2024-01-01\n2,bad,notanumber,2024-01-01\n3,toolongname!,3,2024-01-01\n4,ok\n\\N,nul,5,2024-01-01\n6,ok,6,2024-01-01\n"
    strict = {"column_separator": ",", "strict_mode": "true"}
    over = requests_load(cairn, database, scores, body, {**strict, "max_filter_ratio": "0.5"}).json()
    assert over["Status"] == "Fail", over
    assert "Too many filtered rows" in over["Message"]
    assert over["NumberFilteredRows"] == 4
    assert rows(connection, "SELECT count(*) FROM scores") == [(0,)]

    response = requests_load(cairn, database, scores, body, {**strict, "max_filter_ratio": "0.8"}).json()
    assert response["Status"] == "Success", response
    assert response["NumberTotalRows"] == 6
    assert response["NumberLoadedRows"] == 2
    assert response["NumberFilteredRows"] == 4
    error_log = requests.get(response["ErrorURL"], timeout=10)
    assert error_log.status_code == 200
    lines = error_log.text.strip().splitlines()
    assert len(lines) == 4, error_log.text
    assert "'notanumber' is not a valid BIGINT for column 'score'" in lines[0]
    assert "exceeds the length of column 'name'" in lines[1]
    assert "Expect 4, but got 2" in lines[2]
    assert "NULL value in non-nullable column 'id'" in lines[3]
    assert rows(connection, "SELECT id FROM scores ORDER BY id") == [(1,), (6,)]

    # Without strict mode a value that does not convert is loaded as NULL.
    lenient = requests_load(cairn, database, scores, b"9,x,nan?,2024-01-01\n", {"column_separator": ","}).json()
    assert lenient["Status"] == "Success", lenient
    assert rows(connection, "SELECT score FROM scores WHERE id = 9") == [(None,)]


def test_csv_options_skip_header_enclose_trim_and_hex_separator(cairn, connection, database, scores):
    body = b'id\x01name\x01score\x01day\n 1 \x01 "a\x01b" \x01 5 \x012024-01-01\n'
    response = requests_load(cairn, database, scores, body, {
        "column_separator": "\\x01", "skip_header": "1", "enclose": '"', "trim_space": "true",
    }).json()
    assert response["Status"] == "Success", response
    assert rows(connection, "SELECT id, name, score FROM scores") == [(1, "a\x01b", 5)]


def test_partitions_header_filters_other_partitions(cairn, connection, database):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE events (day DATE, v INT) DUPLICATE KEY(day) PARTITION BY RANGE(day) ("
            "PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN ('2024-03-01')) "
            "DISTRIBUTED BY HASH(day) BUCKETS 1"
        )
    body = b"2024-01-05,1\n2024-02-05,2\n2024-09-09,3\n"
    response = requests_load(cairn, database, "events", body, {"column_separator": ",", "partitions": "p2", "max_filter_ratio": "1"}).json()
    assert response["Status"] == "Success", response
    assert response["NumberLoadedRows"] == 1
    assert response["NumberFilteredRows"] == 2
    assert rows(connection, "SELECT v FROM events") == [(2,)]


def test_primary_key_table_upserts(cairn, connection, database):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE kv (k INT NOT NULL, v VARCHAR(20)) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    assert requests_load(cairn, database, "kv", b"1\ta\n2\tb\n").json()["Status"] == "Success"
    assert requests_load(cairn, database, "kv", b"2\tB\n3\tc\n").json()["Status"] == "Success"
    assert rows(connection, "SELECT k, v FROM kv ORDER BY k") == [(1, "a"), (2, "B"), (3, "c")]


def test_partial_update_keeps_the_columns_it_does_not_load(cairn, connection, database, scores):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE players (id INT NOT NULL, name VARCHAR(20), score INT DEFAULT '7', team VARCHAR(10)) "
            "PRIMARY KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2"
        )
    full = b"1\tann\t10\tred\n2\tbob\t20\tblue\n"
    assert requests_load(cairn, database, "players", full).json()["Status"] == "Success"
    # Scores of 2 and 3 change; 3 is a new key, so its other columns take their defaults.
    partial = requests_load(
        cairn, database, "players", b"2,25\n3,30\n",
        {"partial_update": "true", "columns": "id, score", "column_separator": ","},
    ).json()
    assert partial["Status"] == "Success", partial
    assert partial["NumberLoadedRows"] == 2, partial
    assert rows(connection, "SELECT id, name, score, team FROM players ORDER BY id") == [
        (1, "ann", 10, "red"), (2, "bob", 25, "blue"), (3, None, 30, None)
    ]
    # A name for 1 and 3 only; the scores stay, including 3's from the load before.
    partial = requests_load(
        cairn, database, "players", b'{"id": 1, "name": "anna"}\n{"id": 3, "name": "cat"}\n',
        {"partial_update": "true", "columns": "id, name", "format": "json"},
    ).json()
    assert partial["Status"] == "Success", partial
    assert rows(connection, "SELECT id, name, score, team FROM players ORDER BY id") == [
        (1, "anna", 10, "red"), (2, "bob", 25, "blue"), (3, "cat", 30, None)
    ]
    # Without every key column, or on a table without a primary key, the load says why.
    no_key = requests_load(cairn, database, "players", b"9\n", {"partial_update": "true", "columns": "score"}).json()
    assert no_key["Status"] == "Fail" and "key column 'id' is missing" in no_key["Message"], no_key
    duplicate_keys = requests_load(
        cairn, database, scores, b"1\n", {"partial_update": "true", "columns": "id"}
    ).json()
    assert duplicate_keys["Status"] == "Fail" and "needs a PRIMARY KEY table" in duplicate_keys["Message"], duplicate_keys
    assert rows(connection, "SELECT count(*) FROM players") == [(3,)]


def test_chunked_body(cairn, connection, database, scores):
    def chunks():
        for i in range(50):
            yield f"{i}\tc{i}\t{i}\t2024-01-01\n".encode()
    # requests sends a generator body with Transfer-Encoding: chunked; the 307 needs the body
    # twice, so go straight to the backend as connectors do after their first redirect.
    url = load_url(cairn, database, scores, port=cairn.backend_http_port)
    response = requests.put(url, data=chunks(), auth=ROOT, timeout=60).json()
    assert response["Status"] == "Success", response
    assert rows(connection, "SELECT count(*), sum(score) FROM scores") == [(50, 1225)]


def test_bad_requests_get_clear_answers(cairn, connection, database, scores):
    unknown = requests_load(cairn, database, "no_such_table", b"1\n")
    assert unknown.status_code == 200
    assert unknown.json()["Status"] == "Fail"
    assert "no_such_table" in unknown.json()["Message"]

    wrong_password = requests_load(cairn, database, scores, b"1\n", auth=("root", "nope"))
    assert wrong_password.status_code == 401
    assert wrong_password.json()["Status"] == "Fail"
    no_auth = requests.put(load_url(cairn, database, scores), data=b"1\n", allow_redirects=False, timeout=10)
    assert no_auth.status_code == 401

    for headers, fragment in [
        ({"max_filter_ratio": "abc"}, "max_filter_ratio"),
        ({"format": "parquet"}, "format"),
        ({"strict_mode": "perhaps"}, "strict_mode"),
        ({"column_separator": "\\xZZ"}, "column_separator"),
        ({"columns": "id, nope = 1"}, "nope"),
        ({"where": "no_such_function(id) > 1"}, "no_such_function"),
        ({"format": "json", "jsonpaths": "not json"}, "jsonpaths"),
        ({"compression": "gzip"}, "GZIP"),
    ]:
        response = requests_load(cairn, database, scores, b"1\ta\t1\t2024-01-01\n", headers).json()
        assert response["Status"] == "Fail", (headers, response)
        assert fragment in response["Message"], (headers, response)

    broken_json = requests_load(cairn, database, scores, b'{"id": 1', {"format": "json"}).json()
    assert broken_json["Status"] == "Fail"
    assert "not valid JSON" in broken_json["Message"]
    assert rows(connection, "SELECT count(*) FROM scores") == [(0,)]


def test_body_over_the_limit_and_client_that_stops(tmp_path):
    from cairn_server import CairnServer

    server = CairnServer(tmp_path, ("--streaming-load-max-mb", "1")).start()
    try:
        connection = server.connect()
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE d")
            cursor.execute("CREATE TABLE d.t (id INT, s VARCHAR(100)) DISTRIBUTED BY HASH(id) BUCKETS 1")
        big = b"".join(b"%d\t%s\n" % (i, b"x" * 90) for i in range(20000))
        response = requests_load(server, "d", "t", big, {"label": "too_big"}).json()
        assert response["Status"] == "Fail", response
        assert "exceeds the limit" in response["Message"]

        # A client that announces a body and disconnects halfway: the load aborts, its label
        # can be used again, and the server keeps serving.
        with socket.create_connection((server.host, server.backend_http_port), timeout=10) as client:
            client.sendall(
                b"PUT /api/d/t/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cm9vdDo=\r\n"
                b"label: halfway\r\nContent-Length: 100000\r\n\r\n1\tpartial\n"
            )
        retry = requests_load(server, "d", "t", b"1\tfull\n", {"label": "halfway"}).json()
        for _ in range(50):
            if retry["Status"] != "Label Already Exists":
                break
            time.sleep(0.1)
            retry = requests_load(server, "d", "t", b"1\tfull\n", {"label": "halfway"}).json()
        assert retry["Status"] == "Success", retry
        assert rows(connection, "SELECT s FROM d.t") == [("full",)]
        connection.close()
    finally:
        server.stop()


def test_show_load_and_information_schema_loads(cairn, connection, database, scores):
    label = f"shown_{uuid.uuid4().hex[:8]}"
    response = requests_load(cairn, database, scores, b"1\ta\t1\t2024-01-01\n", {"label": label}).json()
    assert response["Status"] == "Success", response
    shown = rows(connection, f"SHOW LOAD WHERE label = '{label}'")
    assert len(shown) == 1
    assert shown[0][1] == label and shown[0][2] == "FINISHED" and shown[0][4] == "STREAM_LOAD"
    listed = rows(connection, f"SELECT label, state, scan_rows, sink_rows FROM information_schema.loads WHERE label = '{label}'")
    assert listed == [(label, "FINISHED", 1, 1)]
