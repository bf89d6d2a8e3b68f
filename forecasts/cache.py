"""On-disk cache of provider responses, keyed by request.

Why cache raw responses rather than parsed tables: a re-run (or a fix in a parser) reads the
same bytes the provider sent, and an outage the next night can still be bridged by the last
answer. Keys hash the provider, URL and public parameters only; secrets are never written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from greenslot.atomic import write_text
from greenslot.forecasts.http_client import Request, Response

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$GREENSLOT_CACHE_DIR``, else ``${XDG_CACHE_HOME:-~/.cache}/greenslot/forecasts``."""
    if os.environ.get("GREENSLOT_CACHE_DIR"):
        return Path(os.environ["GREENSLOT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "greenslot" / "forecasts"


@dataclass(frozen=True)
class CachedResponse:
    """A response as stored, with when it was fetched (tz-aware UTC)."""

    response: Response
    fetched_at: datetime


class ResponseCache:
    """One JSON file per request under ``directory/<provider>/``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(provider: str, request: Request) -> str:
        """Stable hash of what was asked: provider, URL and public parameters."""
        ident = json.dumps({"provider": provider, "url": request.url,
                            "params": sorted(request.params.items())}, sort_keys=True)
        return hashlib.sha256(ident.encode()).hexdigest()[:32]

    def path(self, provider: str, request: Request) -> Path:
        return self.directory / provider / f"{self.key(provider, request)}.json"

    def load(self, provider: str, request: Request) -> CachedResponse | None:
        """The stored response, or ``None`` if absent or unreadable (logged, never fatal)."""
        path = self.path(provider, request)
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            response = Response(int(entry["status"]), entry["text"], entry["content_type"],
                                entry["url"])
            fetched_at = datetime.fromisoformat(entry["fetched_at"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: ignoring unreadable cache entry %s (%s)", provider, path,
                           type(exc).__name__)
            return None
        return CachedResponse(response, fetched_at)

    def store(self, provider: str, request: Request, response: Response,
              fetched_at: datetime) -> None:
        """Write the entry atomically; the display URL already has secrets removed."""
        entry = {"provider": provider, "url": response.url, "params": dict(request.params),
                 "fetched_at": fetched_at.isoformat(), "status": response.status,
                 "content_type": response.content_type, "text": response.text}
        write_text(self.path(provider, request), json.dumps(entry), make_parents=True)
