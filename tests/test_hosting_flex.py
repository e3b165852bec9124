"""Firm and flexible hosting capacity per bus over the snapshots
(:func:`siting.grid_ops.hosting.snapshot_hosting`), against a hand calculation on
test_model's radial 3-bus grid: bus 1 (generator, reference) feeds bus 2 by line a
(120 MW) and bus 3 by line b (1,000 MW), bus 3 has 50 MW of base load.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_model import tiny_grid

from siting.grid_ops.hosting import flexible_hosting_mw, snapshot_hosting

# the default snapshots: (name, load factor, stress hours); the peak stands for 87.6 h
SNAPS = [("peak", 1.0, 87.6), ("high", 0.85, 2190.0), ("mid", 0.70, 4380.0), ("low", 0.55, 2190.0)]


def test_firm_and_flexible_hosting_match_a_hand_calculation():
    t = snapshot_hosting(tiny_grid(120.0), SNAPS, budget_hours=100.0).set_index("bus_id")
    # bus 3: line b carries its base load 50 x load factor, so a new load fits 1,000 - 50 lf:
    # 950 (peak), 957.5 (high), 965 (mid), 972.5 (low). Firm: 950 MW. Flexible within 100 h:
    # curtailed in the peak alone (87.6 h; adding the high snapshot's 2,190 h would not fit),
    # so up to the high snapshot's 957.5 MW.
    assert t.loc["3", ["hosting_peak_mw", "hosting_high_mw", "hosting_mid_mw"]].tolist() == (
        pytest.approx([950.0, 957.5, 965.0])
    )
    assert t.at["3", "hosting_firm_mw"] == pytest.approx(950.0)
    assert t.at["3", "hosting_flexible_mw"] == pytest.approx(957.5)
    # bus 2: line a carries nothing but the new load: 120 MW in every snapshot, firm and
    # flexible alike
    assert t.at["2", "hosting_firm_mw"] == pytest.approx(120.0)
    assert t.at["2", "hosting_flexible_mw"] == pytest.approx(120.0)


def test_the_budget_and_the_depth_bound_the_flexible_capacity():
    f = np.array([[950.0], [957.5], [965.0], [972.5]])
    w = np.array([87.6, 2190.0, 4380.0, 2190.0])
    # no hours: firm only
    assert flexible_hosting_mw(f, w, 0.0)[0] == pytest.approx(950.0)
    # 2,300 h: the peak and the high snapshot (2,277.6 h) curtailed, up to mid's 965 MW
    assert flexible_hosting_mw(f, w, 2300.0)[0] == pytest.approx(965.0)
    # a 0.5 % depth: P - 950 <= 0.005 P, so P <= 950 / 0.995 = 954.77 MW
    assert flexible_hosting_mw(f, w, 100.0, depth=0.005)[0] == pytest.approx(950 / 0.995)
    # every snapshot within the budget and full depth: no grid bound at all
    assert np.isinf(flexible_hosting_mw(f, w, 9000.0)[0])
