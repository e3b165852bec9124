"""Shared ground every stage stands on: errors, file kinds, atomic output folders and
files (``io``), signals (``interrupt``), the run's clock, input hashes (``provenance``), the
Dask engine, and the plan folder's table format (``plan_files``).

Imports nothing from the rest of siting (see docs/design.md for the rule).
"""
