"""The plan pipeline (``steps``: solve -> validate -> account) and the files a plan leaves
(``files``: write, read back, check).

It sits above ``model``, ``solvers`` and ``forecasts`` and below the CLI and the analysis
tools; it hands a finished schedule to ``greenslot.slurm`` to render ``submit.sh``.
"""
