"""The scenario: its pydantic schema (units and sources in every field) and loading it from
YAML with every problem named. Imports only :mod:`siting.core`.
"""
