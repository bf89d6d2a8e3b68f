"""Tools that run or read plans for analysts: the HTML ``report``, ``whatif`` overrides and
plan comparison, the Dask ``sweep``, ``evaluate`` on actual signals and the nightly
re-planning replay ``simulate``. They sit above the pipeline and below the CLI.
"""
