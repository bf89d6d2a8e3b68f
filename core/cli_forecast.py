"""``greenslot forecast fetch|backtest``: provider forecasts to contract CSVs, and how good our
own forecaster is.

Kept apart from ``cli.py`` so the forecast verbs are one import, one ``add_parser`` call and one
handler there. Exit codes: 0 done; 2 bad usage or input (unknown region, missing API key,
unreadable series); 4 a provider failed (after retries) and no cached answer could stand in,
or ``--offline`` found nothing in the cache. Every failure is one line on stderr and nothing is
written.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd

from greenslot.forecasts.errors import CredentialsError, ProviderError, QueryError
from greenslot.forecasts.fetch import FetchOptions, fetch, write_forecast_csv
from greenslot.forecasts.http_client import RetryPolicy
from greenslot.forecasts.registry import PROVIDERS

EXIT_OK, EXIT_USAGE, EXIT_PROVIDER = 0, 2, 4


def _time(text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if stamp is pd.NaT or stamp.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"time {text!r} needs a UTC offset, like 2020-03-02T18:00:00+00:00")
    return stamp.tz_convert("UTC")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _count(text: str) -> int:
    value = _non_negative(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}")
    return int(value)


def _base_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"must start with http:// or https://, got {text!r}")
    return text


def add_parser(verbs) -> None:
    """Register ``forecast`` and its sub-verbs on the top-level sub-parsers."""
    p = verbs.add_parser("forecast", help="fetch provider forecasts; backtest our forecaster")
    sub = p.add_subparsers(dest="forecast_verb", required=True)

    f = sub.add_parser("fetch", help="write a provider's series as a contract forecast CSV")
    f.add_argument("provider", choices=sorted(PROVIDERS))
    f.add_argument("--start", required=True, type=_time, help="window start, with offset")
    f.add_argument("--end", required=True, type=_time, help="window end (exclusive)")
    f.add_argument("--out", required=True, type=Path, help="CSV to write")
    f.add_argument("--region", help="region, zone, postcode or EIC code (see README)")
    f.add_argument("--base-url", type=_base_url,
                   help="ask this host instead of the provider's (proxy, mirror, test server)")
    f.add_argument("--offline", action="store_true", help="use only the cache")
    f.add_argument("--cache-dir", type=Path,
                   help="default $GREENSLOT_CACHE_DIR or ~/.cache/greenslot/forecasts")
    f.add_argument("--max-age", type=_non_negative, default=30.0, metavar="MINUTES",
                   help="reuse a cached answer this young without asking (default 30)")
    f.add_argument("--retries", type=_count, default=3, help="retries on 429/5xx/timeouts")
    f.add_argument("--timeout", type=_positive, default=30.0, metavar="SECONDS",
                   help="read timeout per request (connect timeout 5 s)")


def _cmd_fetch(args) -> int:
    if args.end <= args.start:
        print(f"greenslot: error: --end {args.end.isoformat()} is not after --start "
              f"{args.start.isoformat()}", file=sys.stderr)
        return EXIT_USAGE
    options = FetchOptions(
        base_url=args.base_url, offline=args.offline,
        max_age=timedelta(minutes=args.max_age), cache_dir=args.cache_dir,
        policy=RetryPolicy(attempts=args.retries + 1, read_timeout_s=args.timeout),
    )
    result = fetch(args.provider, args.start, args.end, args.region, options)
    write_forecast_csv(result.table, args.out)
    table = result.table
    print(f"wrote {args.out}: {len(table)} rows of {', '.join(table.columns)} from "
          f"{table.index[0].isoformat()} to {table.index[-1].isoformat()} "
          f"(source: {result.source})")
    return EXIT_OK


def run(args) -> int:
    """Handler for ``greenslot forecast ...``; maps provider errors to exit 4, usage to 2."""
    try:
        handlers = {"fetch": _cmd_fetch}
        return handlers[args.forecast_verb](args)
    except (CredentialsError, QueryError) as exc:
        print(f"greenslot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ProviderError as exc:
        print(f"greenslot: provider error, nothing written: {exc}", file=sys.stderr)
        return EXIT_PROVIDER
