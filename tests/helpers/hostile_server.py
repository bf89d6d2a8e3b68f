"""A loopback HTTP server that misbehaves slowly: drip-fed, endless or bomb-compressed bodies.

Why apart from :mod:`provider_server`: that one answers a whole body at once; these answers
are streams that never end (or end far too late), which a client can only survive with a total
deadline and a size cap. Each stream stops when the client hangs up or the server closes.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def drip(pause_s: float = 0.05) -> Iterator[bytes]:
    """One byte of a JSON answer at a time, forever: each read returns quickly."""
    yield b'{"data": ['
    while True:
        time.sleep(pause_s)
        yield b" "


def endless(piece_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """As many bytes as the client will take, as fast as it takes them."""
    yield b'{"data": ['
    block = b" " * piece_bytes
    while True:
        yield block


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A small gzip body that decodes to ``decoded_bytes`` spaces."""
    return gzip.compress(b" " * decoded_bytes, compresslevel=9)


class HostileServer:
    """Serve one kind of answer on 127.0.0.1 until :meth:`close`; counts the requests.

    ``kind`` is ``drip``, ``endless``, ``huge_length`` (declares 10 GiB, sends little) or
    ``gzip_bomb`` (a gzip body that decodes to ``bomb_bytes``).
    """

    def __init__(self, kind: str, bomb_bytes: int = 8 * 1024 * 1024) -> None:
        self.kind = kind
        self.requests = 0
        self.stopped = threading.Event()
        bomb = gzip_bomb(bomb_bytes) if kind == "gzip_bomb" else b""
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if outer.kind == "gzip_bomb":
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(bomb)))
                    self.end_headers()
                    self._write([bomb])
                    return
                if outer.kind == "huge_length":
                    self.send_header("Content-Length", str(10 * 2**30))
                    self.end_headers()
                    self._write([b'{"data": []}'])
                    return
                self.send_header("Connection", "close")  # no length: the body ends at close
                self.end_headers()
                self._write(drip() if outer.kind == "drip" else endless())

            def _write(self, pieces) -> None:
                try:
                    for piece in pieces:
                        if outer.stopped.is_set():
                            return
                        self.wfile.write(piece)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what we want it to do
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()
