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
from typing import TYPE_CHECKING

from greenslot.cli.args import bounded_float, positive_float
from greenslot.cli.jsonout import add_json_option, emit

if TYPE_CHECKING:
    import pandas as pd

    from greenslot.forecasts.scenario_source import ProviderForecasts

# Names the parser offers, copied so --help need not import pandas and requests (the handlers
# import them); tests/test_startup.py keeps each equal to the list it copies.
PROVIDER_NAMES = ("electricitymaps", "entsoe", "uk-carbon-intensity", "watttime")
"""Sorted keys of :data:`greenslot.forecasts.registry.PROVIDERS`."""
SIGNAL_NAMES = ("carbon_g_per_kwh", "price_per_mwh", "renewable_kw")
""":data:`greenslot.forecasts.files.KNOWN_SIGNALS`."""
METHOD_NAMES = ("persistence", "seasonal_daily", "seasonal_weekly", "profile", "profile_flat")
""":data:`greenslot.forecasts.forecaster.METHODS`."""

EXIT_OK, EXIT_USAGE, EXIT_PROVIDER = 0, 2, 4
MAX_DEADLINE_S = 3600.0
"""An hour: a provider request allowed longer would hold a nightly plan past its slot."""


def _time(text: str) -> pd.Timestamp:
    import pandas as pd

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


def _count(text: str) -> int:
    value = _non_negative(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}")
    return int(value)


def _duration(text: str) -> timedelta:
    import pandas as pd

    try:
        value = pd.Timedelta(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (like 15min, 6h, 28D)") \
            from None
    if value <= pd.Timedelta(0):
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value.to_pytimedelta()


def _base_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"must start with http:// or https://, got {text!r}")
    return text


def add_parser(verbs) -> None:
    """Register ``forecast`` and its sub-verbs on the top-level sub-parsers."""
    p = verbs.add_parser("forecast", help="fetch provider forecasts; backtest our forecaster")
    sub = p.add_subparsers(dest="forecast_verb", required=True)

    f = sub.add_parser("fetch", help="write a provider's series as a contract forecast CSV")
    f.add_argument("provider", choices=PROVIDER_NAMES, help="whose forecast to fetch")
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
    f.add_argument("--timeout", type=positive_float, default=30.0, metavar="SECONDS",
                   help="read timeout per request (connect timeout 5 s)")
    f.add_argument("--deadline", type=bounded_float(MAX_DEADLINE_S, " s"), default=90.0,
                   metavar="SECONDS",
                   help="most time one provider request may take, retries included "
                        "(default 90)")
    add_json_option(f, "the file written, its rows, columns, span and source")

    b = sub.add_parser("backtest", help="MAE and MAPE by lead time of our forecasting methods")
    b.add_argument("series", type=Path, help="CSV: time, one value column, optional f1..fK")
    b.add_argument("--column", help="the value column, when the file has several")
    b.add_argument("--slot", type=_duration, help="resample to this interval first")
    b.add_argument("--horizon", type=_duration, default=timedelta(hours=48),
                   help="how far ahead each forecast is scored (default 48h)")
    b.add_argument("--every", type=_duration, default=timedelta(hours=6),
                   help="time between forecast origins (default 6h)")
    b.add_argument("--warmup", type=_duration, default=timedelta(days=28),
                   help="history before the first origin (default 28D)")
    b.add_argument("--forecast-prefix", default="f",
                   help="prefix of the provider forecast columns (default f: f1, f2...)")
    add_json_option(b, "MAE and MAPE by method and lead bucket")

    p = sub.add_parser("predict", help="forecast the next 48 h from history with our methods")
    p.add_argument("history", type=Path, help="CSV: time and one value column")
    p.add_argument("--out", required=True, type=Path, help="contract forecast CSV to write")
    p.add_argument("--column", help="the value column, when the file has several")
    p.add_argument("--as", dest="as_column", choices=SIGNAL_NAMES,
                   help="contract column to write (default: the value column's own name)")
    p.add_argument("--method", choices=METHOD_NAMES, default="profile",
                   help="forecasting method (default profile: blended daily and weekly)")
    p.add_argument("--slot", type=_duration, help="interval of the forecast (default: the "
                                                   "history's)")
    p.add_argument("--horizon", type=_duration, default=timedelta(hours=48),
                   help="how far ahead to forecast (default 48h)")
    add_json_option(p, "the file written, its rows, column and span")


def add_plan_options(p: argparse.ArgumentParser, validate: bool = False) -> None:
    """Options of ``plan`` (and ``validate``) for sites whose forecast names a provider.

    ``validate`` reads only the cache: it must re-check the plan against the numbers the plan
    used, not against what the provider says now.
    """
    g = p.add_argument_group("provider forecasts (sites with forecast: {provider: ...})")
    g.add_argument("--cache-dir", type=Path,
                   help="default $GREENSLOT_CACHE_DIR or ~/.cache/greenslot/forecasts")
    if validate:
        return
    g.add_argument("--offline", action="store_true",
                   help="use only the cache (then the site's history) for provider forecasts")
    g.add_argument("--max-age", type=_non_negative, default=30.0, metavar="MINUTES",
                   help="reuse a cached answer this young without asking (default 30)")
    g.add_argument("--forecast-retries", type=_count, default=3, metavar="N",
                   help="retries per provider request on 429/5xx/timeouts (default 3)")
    g.add_argument("--forecast-deadline", type=bounded_float(MAX_DEADLINE_S, " s"),
                   default=90.0, metavar="SECONDS",
                   help="most time one provider request may take, retries included; a slower "
                        "provider is treated as down (default 90)")


def plan_source(args, offline: bool | None = None) -> ProviderForecasts:
    """The forecast source ``plan``/``validate`` resolve provider entries with."""
    from greenslot.forecasts.http_client import RetryPolicy
    from greenslot.forecasts.scenario_source import ProviderForecasts

    return ProviderForecasts(
        offline=getattr(args, "offline", False) if offline is None else offline,
        cache_dir=args.cache_dir,
        max_age=timedelta(minutes=getattr(args, "max_age", 30.0)),
        policy=RetryPolicy(attempts=getattr(args, "forecast_retries", 3) + 1,
                           deadline_s=getattr(args, "forecast_deadline", 90.0)),
    )


def _cmd_fetch(args) -> int:
    from greenslot.forecasts.fetch import FetchOptions, fetch, write_forecast_csv
    from greenslot.forecasts.http_client import RetryPolicy

    if args.end <= args.start:
        print(f"greenslot: error: --end {args.end.isoformat()} is not after --start "
              f"{args.start.isoformat()}", file=sys.stderr)
        return EXIT_USAGE
    options = FetchOptions(
        base_url=args.base_url, offline=args.offline,
        max_age=timedelta(minutes=args.max_age), cache_dir=args.cache_dir,
        policy=RetryPolicy(attempts=args.retries + 1, read_timeout_s=args.timeout,
                           deadline_s=args.deadline),
    )
    result = fetch(args.provider, args.start, args.end, args.region, options)
    write_forecast_csv(result.table, args.out)
    table = result.table
    if args.json:
        emit({"out": args.out, "rows": len(table), "columns": list(table.columns),
              "start": table.index[0], "end": table.index[-1], "source": result.source})
        return EXIT_OK
    print(f"wrote {args.out}: {len(table)} rows of {', '.join(table.columns)} from "
          f"{table.index[0].isoformat()} to {table.index[-1].isoformat()} "
          f"(source: {result.source})")
    return EXIT_OK


def _cmd_backtest(args) -> int:
    from greenslot.forecasts.backtest import BacktestError, backtest, human_duration
    from greenslot.forecasts.series_file import read_history
    from greenslot.model.errors import Location, ScenarioError

    history = read_history(args.series, str(args.series), args.column, args.forecast_prefix)
    try:
        result = backtest(history.values, history.provider or None, horizon=args.horizon,
                          every=args.every, warmup=args.warmup, step=args.slot)
    except BacktestError as exc:  # one line: file, the option to change, the check
        raise ScenarioError(exc.check, Location(str(args.series), None, exc.field),
                            exc.message) from None
    except ValueError as exc:
        print(f"greenslot: error: {args.series}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        emit({"series": args.series, "name": history.name, "origins": result.origins,
              "every_s": args.every.total_seconds(), "step_s": result.step.total_seconds(),
              "mae": result.mae.to_dict(orient="index"),
              "mape_percent": result.mape.to_dict(orient="index")})
        return EXIT_OK
    print(f"{args.series}: {history.name}, {result.origins} origins every "
          f"{human_duration(args.every)}, interval {human_duration(result.step)}; cells are MAE "
          f"({history.name}'s unit) and MAPE")
    print(result.markdown())
    return EXIT_OK


def _cmd_predict(args) -> int:
    from greenslot.forecasts.fetch import write_forecast_csv
    from greenslot.forecasts.files import KNOWN_SIGNALS
    from greenslot.forecasts.forecaster import forecast
    from greenslot.forecasts.series_file import read_history

    history = read_history(args.history, str(args.history), args.column)
    column = args.as_column or history.name
    if column not in KNOWN_SIGNALS:
        print(f"greenslot: error: {args.history}: column {column!r} is not a contract signal; "
              f"name one with --as ({', '.join(KNOWN_SIGNALS)})", file=sys.stderr)
        return EXIT_USAGE
    try:
        predicted = forecast(history.values, args.horizon, args.method, args.slot)
    except ValueError as exc:
        print(f"greenslot: error: {args.history}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    write_forecast_csv(predicted.to_frame(column), args.out)
    if args.json:
        emit({"out": args.out, "rows": len(predicted), "column": column,
              "start": predicted.index[0], "end": predicted.index[-1], "method": args.method})
        return EXIT_OK
    print(f"wrote {args.out}: {len(predicted)} rows of {column} from "
          f"{predicted.index[0].isoformat()} ({args.method})")
    return EXIT_OK


def run(args) -> int:
    """Handler for ``greenslot forecast ...``; ``cli.main`` maps provider errors to exit 4
    and credential or query errors to 2, as for ``plan``."""
    handlers = {"fetch": _cmd_fetch, "backtest": _cmd_backtest, "predict": _cmd_predict}
    return handlers[args.forecast_verb](args)
