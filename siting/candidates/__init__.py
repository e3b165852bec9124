"""Candidate campus sites (generated cells or a ``sites`` layer) and their cooling options."""
