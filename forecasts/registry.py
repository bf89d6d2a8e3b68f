"""Provider names as the CLI and scenarios use them."""

from __future__ import annotations

from greenslot.forecasts.electricitymaps import ElectricityMaps
from greenslot.forecasts.entsoe import Entsoe
from greenslot.forecasts.errors import QueryError
from greenslot.forecasts.gb_carbon import GbCarbonIntensity
from greenslot.forecasts.provider_base import Provider
from greenslot.forecasts.watttime import WattTime

PROVIDERS: dict[str, Provider] = {
    p.name: p for p in (GbCarbonIntensity(), ElectricityMaps(), WattTime(), Entsoe())
}


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise QueryError(name, f"unknown provider; known: {', '.join(sorted(PROVIDERS))}") \
            from None
