"""Cluster membership over PyMySQL: ALTER SYSTEM ADD/DECOMMISSION/DROP BACKEND as the operator
issues them, what SHOW BACKENDS reports, the refusals that protect data, and that membership
survives a restart. Runs its own server, because it changes the cluster's backend list."""

from __future__ import annotations

import pymysql
import pytest

from cairn_server import CairnServer, create_duplicate_table


def backends(connection) -> dict[str, dict]:
    with connection.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute("SHOW BACKENDS")
        return {f"{row['IP']}:{row['HeartbeatPort']}": row for row in cursor.fetchall()}


def error_of(connection, statement: str) -> tuple[int, str]:
    with connection.cursor() as cursor:
        with pytest.raises(pymysql.MySQLError) as raised:
            cursor.execute(statement)
    return raised.value.args[0], raised.value.args[1]


@pytest.fixture
def server(tmp_path):
    server = CairnServer(tmp_path / "cairn").start()
    yield server
    server.stop()


def test_backends_are_added_decommissioned_and_dropped(server):
    connection = server.connect()
    [local] = backends(connection).values()
    assert local["Alive"] == "true" and local["SystemDecommissioned"] == "false"
    local_address = f"{local['IP']}:{local['HeartbeatPort']}"
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE d")
        create_duplicate_table(cursor, "d.t", "id INT NOT NULL", "id", buckets=3)
        cursor.execute("ALTER SYSTEM ADD BACKEND 'be-1.be.ns.svc:9050', \"be-2.be.ns.svc:9050\"")
    listed = backends(connection)
    assert set(listed) == {local_address, "be-1.be.ns.svc:9050", "be-2.be.ns.svc:9050"}
    remote = listed["be-2.be.ns.svc:9050"]
    # Added but never heartbeated: not alive, with the reason, and no replicas.
    assert (remote["Alive"], remote["TabletNum"], remote["SystemDecommissioned"]) == ("false", "0", "false")
    assert "not heartbeated" in remote["ErrMsg"]
    assert listed[local_address]["TabletNum"] == "3"

    # Tables still go where queries run: one alive backend, so three replicas are refused.
    code, message = error_of(connection, "CREATE TABLE d.r (id INT) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) "
                                         "BUCKETS 1 PROPERTIES ('replication_num' = '3')")
    assert "Current alive backend is [1]" in message, (code, message)

    # A statement with one bad address changes nothing.
    code, message = error_of(connection, "ALTER SYSTEM ADD BACKEND 'be-3.be.ns.svc:9050', 'be-1.be.ns.svc:9050'")
    assert code == 1347 and "Same backend already exists[be-1.be.ns.svc:9050]" in message
    assert "be-3.be.ns.svc:9050" not in backends(connection)
    code, message = error_of(connection, "ALTER SYSTEM ADD BACKEND 'be-3'")
    assert code == 1064 and "expected 'host:heartbeat_port'" in message
    code, message = error_of(connection, "ALTER SYSTEM DROP BACKEND 'nobody:9050'")
    assert code == 1347 and "backend does not exists[nobody:9050]" in message

    # The backend holding the replicas is never emptied or dropped: replicas can not move yet.
    code, message = error_of(connection, f"ALTER SYSTEM DECOMMISSION BACKEND '{local_address}'")
    assert code == 1235 and "runs in this FE's process" in message, message
    code, message = error_of(connection, f"ALTER SYSTEM DROP BACKEND '{local_address}'")
    assert code == 1235 and "can not be decommissioned or dropped" in message, message

    # The operator's scale-in: decommission, see no replicas, drop.
    with connection.cursor() as cursor:
        cursor.execute("ALTER SYSTEM DECOMMISSION BACKEND 'be-2.be.ns.svc:9050'")
        cursor.execute("ALTER SYSTEM DECOMMISSION BACKEND 'be-2.be.ns.svc:9050'")  # again: no error
    remote = backends(connection)["be-2.be.ns.svc:9050"]
    assert (remote["SystemDecommissioned"], remote["TabletNum"]) == ("true", "0")
    with connection.cursor() as cursor:
        cursor.execute("ALTER SYSTEM DROP BACKEND 'be-2.be.ns.svc:9050'")
    assert set(backends(connection)) == {local_address, "be-1.be.ns.svc:9050"}

    # Only users with the NODE privilege (root, cluster_admin) change membership.
    with connection.cursor() as cursor:
        cursor.execute("CREATE USER 'grafana'@'%' IDENTIFIED BY 'pw'")
        cursor.execute("GRANT SELECT ON *.* TO 'grafana'@'%'")
    reader = server.connect(user="grafana", password="pw")
    code, message = error_of(reader, "ALTER SYSTEM ADD BACKEND 'be-9.be.ns.svc:9050'")
    assert code == 1227 and "NODE" in message
    reader.close()
    connection.close()

    # Membership is journaled: it survives a crash.
    server.restart(crash=True)
    connection = server.connect()
    listed = backends(connection)
    assert set(listed) == {local_address, "be-1.be.ns.svc:9050"}
    assert listed[local_address]["Alive"] == "true"
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM d.t")
        assert cursor.fetchone() == (0,)
    connection.close()
