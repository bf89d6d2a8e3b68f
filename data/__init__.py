"""Runtime data files (shipped power curves), read with importlib.resources."""
