"""A solved model as a plan: the tables and geometries extracted from it, the verification
from the written tables alone, writing the plan folder (``plan``), growth zones
(``zones``), and the compute outputs per site and year and nationally (``compute_out``).
"""
