"""Grid signals: provider adapters (HTTP, with a cache), forecast files and resampling onto
slots, and our own forecaster with its backtest.

Library code logs to module loggers under ``greenslot.forecasts``; only the CLI configures
logging.
"""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
