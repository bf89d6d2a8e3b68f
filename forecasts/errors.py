"""Typed errors of the provider layer.

Why a type of its own: a nightly run must tell "the provider is down or refused us" (retry
later, fall back to the cache or our own forecaster) from "the user's input is wrong" (exit 2),
without parsing messages. The CLI maps :class:`ProviderError` to exit code 4.
"""

from __future__ import annotations

from greenslot.model.errors import GreenslotError


class ProviderError(GreenslotError):
    """A provider request failed for good (after retries), or its answer cannot be read.

    Parameters
    ----------
    provider
        The provider's name as the CLI knows it (``uk-carbon-intensity``...).
    url
        The request URL with every secret removed; safe to print and log.
    status
        The HTTP status, or ``None`` when no response came (timeout, refused connection) or
        the failure is in the body (malformed JSON/XML).
    message
        What went wrong, in one line, free of secrets.
    """

    def __init__(self, provider: str, url: str, status: int | None, message: str) -> None:
        self.provider = provider
        self.url = url
        self.status = status
        self.message = message
        where = f"HTTP {status}" if status is not None else "no HTTP status"
        super().__init__(f"{provider}: {message} ({where}, {url})")


class CacheMissError(ProviderError):
    """``--offline`` asked for a request that the cache does not hold."""

    def __init__(self, provider: str, url: str, cache_dir: str) -> None:
        super().__init__(
            provider, url, None,
            f"not in the cache at {cache_dir}; run once without --offline to fetch it",
        )


class CredentialsError(GreenslotError):
    """A provider needs an API key or login that no environment variable gives. Exit 2."""

    def __init__(self, provider: str, variables: tuple[str, ...]) -> None:
        self.provider = provider
        self.variables = variables
        names = " and ".join(variables)
        super().__init__(f"{provider}: set {names} in the environment (keys are read only "
                         f"from there, never from arguments or files)")


class QueryError(GreenslotError):
    """The user's request cannot be put to the provider (unknown region, bad window). Exit 2."""

    def __init__(self, provider: str, message: str) -> None:
        self.provider = provider
        super().__init__(f"{provider}: {message}")
