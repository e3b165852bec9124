"""Solving the model: the HiGHS adapter (``highs``), lazy line limits (``lazy``), the
candidate kernel (``kernel``), approximate network rows (``approx``) and the rounded first
plan (``rounding``).
"""
