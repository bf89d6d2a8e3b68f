"""A real HTTP server on loopback that plays a provider, for the forecast tests.

Each test installs a ``handler(seen) -> Reply`` and the server records every request it got
(path, query, headers), so tests can assert on retries, parameters and credentials.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"


class ProviderServer:
    """Serve ``handler`` on 127.0.0.1 at a free port until :meth:`close`."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.handler: Callable[[Seen], Reply] = lambda seen: Reply(404, "no handler")
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                seen = Seen(parts.path, query, {k.lower(): v for k, v in self.headers.items()})
                outer.seen.append(seen)
                reply = outer.handler(seen)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (read timeout tests)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # serve_forever checks for shutdown() every poll_interval; its default of 0.5 s made
        # closing the server cost half a second in every forecast test.
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
