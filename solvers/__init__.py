"""Ways to solve a scenario, behind one interface: see :mod:`greenslot.solvers.registry`."""
