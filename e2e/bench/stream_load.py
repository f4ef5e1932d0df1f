"""A StarRocks Stream Load client, as `curl --location-trusted -T file` does it.

PUT http://<fe>:<http_port>/api/<db>/<table>/_stream_load with HTTP Basic auth, the load's
headers (label, format, column_separator, ...) and `Expect: 100-continue`. The FE answers the
headers with a 307 redirect to a BE before any body is sent; the request is repeated there,
with the same credentials, and the BE answers `100 Continue`, reads the body and replies with
the load's JSON result (`Status`, `NumberLoadedRows`, `Message`, ...).

Large files are sent as several loads, each a run of whole lines and its own label (its own
transaction), the way loaders feed StarRocks.
"""

from __future__ import annotations

import base64
import http.client
import json
import mmap
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CONTINUE_WAIT_SECONDS = 2.0
MAX_REDIRECTS = 3


class StreamLoadError(RuntimeError):
    """A load that did not end with Status "Success" and every row loaded."""


@dataclass
class Chunk:
    start: int
    end: int
    rows: int


def plan_chunks(data: mmap.mmap | bytes, chunk_bytes: int) -> list[Chunk]:
    """Splits the file into runs of whole lines of about chunk_bytes each."""
    chunks = []
    start, size = 0, len(data)
    while start < size:
        end = min(start + chunk_bytes, size)
        if end < size:
            newline = data.rfind(b"\n", start, end)
            if newline < 0:  # one line longer than a chunk: take it whole
                newline = data.find(b"\n", end)
                newline = size - 1 if newline < 0 else newline
            end = newline + 1
        chunks.append(Chunk(start, end, data[start:end].count(b"\n")))
        start = end
    if chunks and not data[size - 1:size] == b"\n":
        chunks[-1].rows += 1  # a last line without its newline
    return chunks


def _read_interim(sock: socket.socket) -> bytes:
    """Reads (consumes) one interim response such as `HTTP/1.1 100 Continue\\r\\n\\r\\n`."""
    buffered = b""
    while True:
        peeked = sock.recv(4096, socket.MSG_PEEK)
        if not peeked:
            raise StreamLoadError("connection closed during the 100-continue handshake")
        end = peeked.find(b"\r\n\r\n")
        if end >= 0:
            buffered = sock.recv(end + 4)
            return buffered
        time.sleep(0.01)


def put(url: str, body, headers: dict[str, str], user: str, password: str,
        timeout: float) -> tuple[int, dict, bytes, str]:
    """One PUT with `Expect: 100-continue`, following redirects with the credentials.

    Returns (status, response headers, response body, the URL that answered).
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                                timeout=timeout)
        try:
            connection.putrequest("PUT", path, skip_accept_encoding=True)
            connection.putheader("Authorization", f"Basic {token}")
            connection.putheader("Expect", "100-continue")
            connection.putheader("Content-Length", str(len(body)))
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            sock = connection.sock
            readable, _, _ = select.select([sock], [], [], CONTINUE_WAIT_SECONDS)
            if readable:
                head = b""
                for _ in range(500):  # the status line may arrive in pieces
                    head = sock.recv(16, socket.MSG_PEEK)
                    if len(head) >= 12 or not head:
                        break
                    time.sleep(0.01)
                if head[9:12] == b"100":
                    _read_interim(sock)
                    connection.send(body)
                # Otherwise a final answer (a redirect or an error) came before the body,
                # which is then never sent.
            else:
                # No interim answer in time: send the body anyway, as curl does.
                connection.send(body)
            response = connection.getresponse()
            data = response.read()
            status, answer_headers = response.status, dict(response.getheaders())
        finally:
            connection.close()
        if status in (301, 302, 303, 307, 308):
            location = answer_headers.get("Location") or answer_headers.get("location")
            if not location:
                raise StreamLoadError(f"{url} answered {status} without a Location")
            url = location if "://" in location else f"{parts.scheme}://{parts.netloc}{location}"
            continue
        return status, answer_headers, data, url
    raise StreamLoadError(f"more than {MAX_REDIRECTS} redirects from {url}")


def stream_load_bytes(host: str, http_port: int, database: str, table: str, body,
                      label: str, rows: int, separator: str = "|", user: str = "root",
                      password: str = "", timeout: float = 3600, what: str = "CSV") -> dict:
    """One Stream Load of BODY (ROWS whole CSV lines) under LABEL, one transaction.

    Returns the server's JSON result. Raises StreamLoadError, with that JSON, unless the load
    is a Success that loaded every row. WHAT names the data in error messages.
    """
    url = f"http://{host}:{http_port}/api/{database}/{table}/_stream_load"
    headers = {"label": label, "format": "csv", "column_separator": separator}
    status, _, answer, answered_by = put(url, body, headers, user, password, timeout)
    text = answer.decode(errors="replace")
    try:
        result = json.loads(text)
    except ValueError:
        hint = " (does this server implement Stream Load?)" if status in (404, 405) else ""
        raise StreamLoadError(
            f"Stream Load of {what} into {database}.{table} (label {label}) got HTTP "
            f"{status}{hint} from {answered_by} with a body that is not JSON:\n{text[:2000]}"
        ) from None
    if (status != 200 or result.get("Status") != "Success"
            or int(result.get("NumberLoadedRows", -1)) != rows):
        raise StreamLoadError(
            f"Stream Load of {what} into {database}.{table} (label {label}, {rows} rows) "
            f"failed: HTTP {status} from {answered_by}:\n" + json.dumps(result, indent=1))
    return result


def stream_load_file(host: str, http_port: int, database: str, table: str, path: Path,
                     label_prefix: str, chunk_bytes: int = 256 << 20, separator: str = "|",
                     user: str = "root", password: str = "", timeout: float = 3600,
                     expected_rows: int | None = None) -> dict:
    """Loads a CSV file into database.table in one or more Stream Loads.

    Raises StreamLoadError, with the server's JSON, when a load is not a full success.
    Returns {"loads": n, "rows": loaded rows, "seconds": wall time of the loads}.
    """
    with open(path, "rb") as handle:
        size = path.stat().st_size
        if size == 0:
            return {"loads": 0, "rows": 0, "seconds": 0.0}
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(data)
        try:
            chunks = plan_chunks(data, chunk_bytes)  # outside the timed part
            loaded, started = 0, time.monotonic()
            for number, chunk in enumerate(chunks):
                stream_load_bytes(host, http_port, database, table,
                                  view[chunk.start:chunk.end], f"{label_prefix}_{number}",
                                  chunk.rows, separator, user, password, timeout, path.name)
                loaded += chunk.rows
            seconds = time.monotonic() - started
        finally:
            try:
                view.release()
                data.close()
            except BufferError:  # a slice still held by an exception's traceback
                pass
    if expected_rows is not None and loaded != expected_rows:
        raise StreamLoadError(f"{database}.{table}: loaded {loaded} rows, expected {expected_rows}")
    return {"loads": len(chunks), "rows": loaded, "seconds": seconds}
