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


__all__ = ["DEFAULT_BLEND_HOURS", "blend_continuation", "continue_forecast"]
