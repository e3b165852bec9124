"""Grid operators' questions, beside the planning pipeline: DC dispatch, hosting capacity per
bus (N-0 and N-1), checking a plan against a grid, and stress tests.
"""
