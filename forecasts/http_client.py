"""The one HTTP client every provider goes through: timeouts, retries, redaction.

Why one client: every provider needs the same care (explicit connect and read timeouts, retries
with backoff on 429 and 5xx that honour ``Retry-After``, one typed error, and never a key in a
log line or an error message), and getting it right once is easier than four times.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus, urlencode

import requests
import urllib3

from greenslot.forecasts.errors import ProviderError

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SNIPPET_CHARS = 160
_CHUNK_BYTES = 64 * 1024


class _TooLarge(Exception):
    """The answer grew past ``max_body_bytes``: a provider that does so will do so again."""


class _PastDeadline(Exception):
    """The request's total deadline passed while the body was still arriving."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for a provider and how often to try again.

    ``attempts`` counts every try (so 4 means up to 3 retries). The wait before retry ``k``
    (1-based) is ``backoff_s * 2**(k-1)`` unless the server sent ``Retry-After``, which wins.
    No single wait exceeds ``max_wait_s`` [s]: a server that asks for longer is treated as down.

    ``read_timeout_s`` bounds one wait for bytes, so alone it cannot stop a server that
    drip-feeds a byte at a time. ``deadline_s`` bounds the whole request, every attempt and
    backoff included: once it has passed no further byte is read and no retry is made (a read
    already waiting may end up to ``min(read_timeout_s, deadline_s)`` later). ``max_body_bytes``
    bounds what one answer may hold once decoded, so an endless body fails instead of filling
    memory; no real provider answer for a planning window comes near 32 MiB.
    """

    attempts: int = 4
    backoff_s: float = 1.0
    max_wait_s: float = 60.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    deadline_s: float = 90.0
    max_body_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One GET a provider wants made.

    ``params`` are public: they name the data asked for, appear in logs and errors and form the
    cache key. ``secret_params`` (ENTSO-E's ``securityToken``), ``headers`` (tokens) and
    ``auth`` (HTTP basic) are sent but never logged, cached or shown.
    """

    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    secret_params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None

    def display_url(self) -> str:
        """The URL as it is safe to show: public parameters, secrets as ``***``."""
        shown = dict(self.params) | {name: "***" for name in self.secret_params}
        return f"{self.url}?{urlencode(shown, safe='*')}" if shown else self.url

    def secrets(self) -> list[str]:
        """Every secret value this request carries, to scrub from any text we print."""
        values = list(self.secret_params.values()) + list(self.headers.values())
        if self.auth:
            values += list(self.auth)
        return [v for v in values if v]


@dataclass(frozen=True)
class Response:
    """What a provider answered: enough for parsing and for the cache."""

    status: int
    text: str
    content_type: str
    url: str  # display URL, secrets removed


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (plain and URL-encoded) replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    return text


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[:_SNIPPET_CHARS] + "..."


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _ScrubSecrets(logging.Filter):
    """Scrub our secrets from urllib3's own log lines.

    Why: urllib3 logs each request line, query string included, at DEBUG; with ENTSO-E's
    ``securityToken`` in the query that would put the key in any debug log.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            clean = scrub(text, list(self.secrets))
            if clean != text:
                record.msg, record.args = clean, ()
        return True


_SCRUB = _ScrubSecrets()
for _name in ("urllib3", "urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_SCRUB)


class HttpClient:
    """GET with timeouts and retries for one provider; raises :class:`ProviderError`.

    ``sleep`` is injected so tests can run the retry schedule without waiting, and ``session``
    so connections are reused across the requests of one fetch.
    """

    def __init__(
        self,
        provider: str,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        auth_hint: str | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.sleep = sleep
        self.auth_hint = auth_hint

    def _fail(self, request: Request, status: int | None, message: str) -> ProviderError:
        return ProviderError(self.provider, request.display_url(),
                             status, scrub(message, request.secrets()))

    def get(self, request: Request) -> Response:
        """Make the request, retrying transient failures; return a 2xx response."""
        policy, shown = self.policy, request.display_url()
        _SCRUB.secrets.update(request.secrets())
        params = dict(request.params) | dict(request.secret_params)
        deadline = time.monotonic() + policy.deadline_s
        for attempt in range(1, policy.attempts + 1):
            last = attempt == policy.attempts
            started = time.monotonic()
            left_s = deadline - started
            try:
                if left_s <= 0:
                    raise _PastDeadline
                answer, body = self._send(request, params, left_s, deadline)
            except _PastDeadline:
                raise self._fail(request, None,
                                 f"no complete answer within the deadline of "
                                 f"{policy.deadline_s:g} s (attempt {attempt})") from None
            except _TooLarge:
                raise self._fail(request, None,
                                 f"the answer is larger than "
                                 f"{policy.max_body_bytes / 2**20:g} MiB") from None
            except requests.Timeout as exc:
                kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
                limit = (policy.connect_timeout_s if kind == "connect"
                         else policy.read_timeout_s)
                reason = f"no answer within the {kind} timeout of {limit:g} s"
                wait = policy.backoff_s * 2 ** (attempt - 1)
            except requests.RequestException as exc:
                reason = f"cannot connect: {type(exc).__name__}"
                wait = policy.backoff_s * 2 ** (attempt - 1)
            else:
                took = time.monotonic() - started
                logger.info("%s: GET %s -> %d in %.2f s", self.provider, shown,
                            answer.status_code, took)
                status = answer.status_code
                if 200 <= status < 300:
                    return Response(status, body,
                                    answer.headers.get("Content-Type", ""), shown)
                if status not in RETRY_STATUSES:
                    raise self._fail(request, status, self._refusal(status, body))
                reason = f"HTTP {status}"
                asked = retry_after_s(answer.headers.get("Retry-After"))
                wait = asked if asked is not None else policy.backoff_s * 2 ** (attempt - 1)
                if asked is not None and asked > policy.max_wait_s:
                    raise self._fail(request, status,
                                     f"asked to retry after {asked:g} s, more than the "
                                     f"{policy.max_wait_s:g} s we wait")
                if last:
                    raise self._fail(request, status,
                                     f"still failing after {policy.attempts} attempts")
            if last:
                raise self._fail(request, None,
                                 f"{reason}; gave up after {policy.attempts} attempts")
            wait = min(wait, policy.max_wait_s)
            if time.monotonic() + wait >= deadline:
                raise self._fail(request, None,
                                 f"{reason}; no time left for a retry within the deadline of "
                                 f"{policy.deadline_s:g} s")
            logger.warning("%s: %s from %s; retry %d of %d in %.2f s", self.provider,
                           reason, shown, attempt, policy.attempts - 1, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _send(self, request: Request, params: dict[str, str], left_s: float,
              deadline: float) -> tuple[requests.Response, str]:
        """One GET whose body is read in pieces, checking the deadline and size after each.

        Why ``read1``: it returns whatever one socket read brings, so a drip-feeding server
        returns to us after every byte and the deadline is checked, where ``read(n)`` would
        wait for all ``n`` bytes.
        """
        policy = self.policy
        with self.session.get(
            request.url, params=params, headers=dict(request.headers), auth=request.auth,
            allow_redirects=False, stream=True,
            timeout=(min(policy.connect_timeout_s, left_s), min(policy.read_timeout_s, left_s)),
        ) as answer:
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > policy.max_body_bytes:
                raise _TooLarge
            pieces: list[bytes] = []
            size = 0
            try:
                while True:
                    if time.monotonic() > deadline:
                        raise _PastDeadline
                    piece = answer.raw.read1(_CHUNK_BYTES, decode_content=True)
                    if not piece:
                        break
                    size += len(piece)
                    if size > policy.max_body_bytes:
                        raise _TooLarge
                    pieces.append(piece)
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise requests.ReadTimeout(str(exc)) from None
            except (urllib3.exceptions.ProtocolError,
                    urllib3.exceptions.DecodeError) as exc:
                raise requests.ConnectionError(str(exc)) from None
            answer._content = b"".join(pieces)
            return answer, answer.text

    def _refusal(self, status: int, body: str) -> str:
        """One line for a 4xx the provider will not change its mind about."""
        if 300 <= status < 400:
            # Not followed: a custom key header (auth-token) would travel to the new host.
            return "redirected; point --base-url at the final host"
        if status in (401, 403):
            hint = f"; {self.auth_hint}" if self.auth_hint else ""
            return f"the provider refused the credentials{hint}"
        snippet = _one_line(body)
        return f"request refused: {snippet}" if snippet else "request refused"
