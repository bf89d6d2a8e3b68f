"""GPU power: measured power curves (``curves``) and the NVML profiler that records them
(``profiling``). Independent of planning: both read and write the contract's curve CSV.
"""
