"""Scenario files: Python user journeys on the load engine (public API: perflab.scenario)."""
