"""A `cairn allin1` process for tests: free loopback ports, its own data directory, a log file.

Tests that crash or restart the server (the crash test) make their own `CairnServer`; the
rest share the session server of conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pymysql

REPOSITORY = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 120
SHUTDOWN_TIMEOUT_SECONDS = 30


class CairnError(RuntimeError):
    """The server could not be started or stopped; the message carries its log tail."""


def cairn_binary() -> Path:
    """CAIRN_BIN, or target/debug/cairn under CARGO_TARGET_DIR (default: the repository's)."""
    if os.environ.get("CAIRN_BIN"):
        binary = Path(os.environ["CAIRN_BIN"])
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPOSITORY / "target"))
        binary = target / "debug" / "cairn"
    if not binary.is_file():
        raise CairnError(
            f"cairn binary {binary} does not exist: build it with `cargo build -p cairn` "
            "(e2e/run-all.sh does) or set CAIRN_BIN"
        )
    return binary


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            sockets.append(listener)
        return [listener.getsockname()[1] for listener in sockets]
    finally:
        for listener in sockets:
            listener.close()


class CairnServer:
    """One `cairn allin1`: start, stop (SIGTERM), kill (SIGKILL), restart on the same ports."""

    host = "127.0.0.1"

    def __init__(self, work_dir: Path, extra_arguments: tuple[str, ...] = ()):
        self.binary = cairn_binary()
        self.work_dir = Path(work_dir)
        self.data_dir = self.work_dir / "data"
        self.log_path = self.work_dir / "cairn.log"
        self.extra_arguments = extra_arguments
        self.query_port, self.http_port, self.backend_http_port, self.backend_port = free_ports(4)
        self.process: subprocess.Popen | None = None

    @property
    def mysql_address(self) -> str:
        return f"{self.host}:{self.query_port}"

    def start(self) -> "CairnServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        command = [
            str(self.binary), "allin1",
            "--data-dir", str(self.data_dir),
            "--query-port", str(self.query_port),
            "--http-port", str(self.http_port),
            "--be-http-port", str(self.backend_http_port),
            "--be-port", str(self.backend_port),
            *self.extra_arguments,
        ]
        log.write(f"\n=== {' '.join(command)}\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        try:
            self.wait_until_ready()
        except BaseException:
            # A server that never became ready must not outlive the test holding its ports.
            self.kill()
            raise
        return self

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise CairnError(
                    f"cairn exited with {self.process.returncode} before it was ready\n"
                    + self.log_tail()
                )
            if self.health_is_ok() and self.mysql_port_accepts():
                return
            if time.monotonic() > deadline:
                raise CairnError(
                    f"cairn was not ready within {STARTUP_TIMEOUT_SECONDS}s\n" + self.log_tail()
                )
            time.sleep(0.2)

    def health_is_ok(self) -> bool:
        url = f"http://{self.host}:{self.http_port}/api/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = json.loads(response.read().decode())
                return response.status == 200 and body.get("status") == "OK"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def mysql_port_accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.query_port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)

    def kill(self) -> None:
        """SIGKILL: a crash at whatever the server was doing."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)

    def restart(self, crash: bool = False) -> None:
        if crash:
            self.kill()
        else:
            self.stop()
        self.start()

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def connect(self, **options) -> pymysql.connections.Connection:
        settings = dict(
            host=self.host, port=self.query_port, user="root", password="",
            connect_timeout=10, read_timeout=120, write_timeout=120, autocommit=True,
        )
        settings.update(options)
        return pymysql.connect(**settings)

    def log_tail(self, line_count: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(lines[-line_count:])


def create_duplicate_table(cursor, name: str, columns: str, key: str, buckets: int = 1) -> None:
    """CREATE TABLE with StarRocks' DUPLICATE KEY model and one replica."""
    cursor.execute(
        f"CREATE TABLE {name} ({columns}) DUPLICATE KEY({key}) "
        f"DISTRIBUTED BY HASH({key.split(',')[0].strip()}) BUCKETS {buckets} "
        'PROPERTIES ("replication_num" = "1")'
    )
