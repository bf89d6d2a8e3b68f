"""Scenario builders, Hypothesis strategies, fakes and fixtures' machinery for the tests."""
