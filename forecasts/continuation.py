"""A provider's forecast continued to the end of the plan by our own forecaster, blended.

Providers forecast a few hours (SGIP's MOER reaches 3 h) while a nightly plan looks 48 h
ahead. Holding the last provider value, or the day-before value, past its end makes a 48 h
plan on the provider equal to a persistence plan everywhere but the first hours. Our
forecaster (:mod:`greenslot.forecasts.forecaster`) knows the daily and weekly shape; the
provider knows the present better. So past the provider's last value the forecast is ours,
shifted by the gap between the two at the seam, a shift that fades linearly to zero over
``blend_hours``: no jump where one ends, and the profile's shape and level beyond.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from greenslot.forecasts.forecaster import forecast_array

DEFAULT_BLEND_HOURS = 6.0


def blend_continuation(provider: np.ndarray, ours: np.ndarray, slot: timedelta,
                       blend_hours: float = DEFAULT_BLEND_HOURS) -> np.ndarray:
    """``provider`` where it has values, ``ours`` elsewhere, blended after its last value.

    Both arrays have one value per slot; ``provider`` is NaN where it gives none. Slots
    before the provider's last value that it leaves empty take ``ours`` as it is.
    """
    provider = np.asarray(provider, dtype=float)
    out = np.array(ours, dtype=float)
    known = np.flatnonzero(~np.isnan(provider))
    if not len(known):
        return out
    out[known] = provider[known]
    last = known[-1]
    offset = provider[last] - ours[last]
    slot_h = slot.total_seconds() / 3600.0
    lead_h = (np.arange(len(out)) - last) * slot_h
    after = np.arange(len(out)) > last
    weight = (np.clip(1.0 - lead_h / blend_hours, 0.0, 1.0) if blend_hours > 0
              else np.zeros(len(out)))
    out[after] = ours[after] + weight[after] * offset
    return out


def continue_forecast(provider: np.ndarray, history: np.ndarray, slot: timedelta,
                      method: str = "profile",
                      blend_hours: float = DEFAULT_BLEND_HOURS) -> np.ndarray:
    """``provider`` (NaN where empty) continued by ``method`` forecast from ``history``."""
    ours = forecast_array(np.asarray(history, dtype=float), len(provider), method, slot)
    return blend_continuation(provider, ours, slot, blend_hours)


def _step(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """The most common interval between rows; None with fewer than two rows."""
    if len(index) < 2:
        return None
    return pd.Series(index[1:] - index[:-1]).mode().iloc[0]


def continue_table(table: pd.DataFrame, history: pd.DataFrame, end: pd.Timestamp,
                   method: str = "profile", blend_hours: float = DEFAULT_BLEND_HOURS
                   ) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """A provider's answer (rows by UTC interval start) continued to ``end`` from ``history``.

    Rows are added after the provider's last row, at its interval, up to ``end``: each column
    forecast by ``method`` from ``history`` (the site's past values; see
    :func:`greenslot.forecasts.fallback.from_history`) and blended from the provider's last
    value (:func:`blend_continuation`). The provider's rows are kept as they are, gaps
    included: only the time after its last row is ours. Returns the table and the first
    continued interval start (None when the provider already reaches ``end``).
    """
    # here, not at the top: the fallback brings the HTTP stack, which simulate never needs
    from greenslot.forecasts.fallback import from_history

    if table.empty:
        return table, None
    index = pd.DatetimeIndex(table.index).tz_convert("UTC")
    table = table.set_axis(index).sort_index()
    history_index = pd.DatetimeIndex(history.index).tz_convert("UTC")
    step = _step(index.sort_values()) or _step(history_index)
    if step is None:
        return table, None
    last = index.max()
    if last + step >= end:
        return table, None
    target = pd.date_range(index.min(), end, freq=step, inclusive="left")
    ours = from_history(history.set_axis(history_index), target[0], end, method)
    ours_step = _step(pd.DatetimeIndex(ours.index)) or step
    if ours_step >= step:  # ours is coarser: each of its values holds over its interval
        ours = ours.reindex(ours.index.union(target)).ffill().reindex(target)
    else:  # ours is finer: the mean over each of the provider's intervals
        ours = ours.resample(step, origin=target[0]).mean().reindex(target)
    after = target > last
    continued = {}
    for column in table.columns:
        provider = table[column].reindex(target).to_numpy(dtype=float)
        mine = ours[column].to_numpy(dtype=float) if column in ours else np.full(
            len(target), np.nan)
        continued[column] = blend_continuation(provider, mine, step.to_pytimedelta(),
                                               blend_hours)[after]
    extra = pd.DataFrame(continued, index=target[after])
    return pd.concat([table, extra]).rename_axis("time"), target[after][0]


__all__ = ["DEFAULT_BLEND_HOURS", "blend_continuation", "continue_forecast", "continue_table"]
