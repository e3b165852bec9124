"""Many runs at once, beside the planning pipeline: scenario sweeps on Dask, robustness over a
sweep, and trade-off fronts (``pareto``).
"""
