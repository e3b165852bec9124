"""A solved model as a plan: the tables and geometries extracted from it, the verification
from the written tables alone, writing the plan folder (``plan``), and growth zones
(``zones``).
"""
