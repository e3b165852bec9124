"""The run's clock: one wall-clock deadline shared by every stage, and what the solve is doing.

``solver.time_limit_s`` (``--time-limit``) bounds the whole run up to the plan: loading
the layers, the grid's own dispatch, building the model and every solve round (the lazy
loop's LP and MIP rounds, the candidate kernel's rounds, the elastic re-solve that explains
an infeasible scenario). Verifying and writing the plan come after it. Each solve is given
the time that is left (:meth:`Clock.solver_time_s`); a round that would start after the
deadline does not start.

The clock also carries what a progress line shows (:meth:`Clock.line`): the stage, the
round, the incumbent and the bound of the running solve (set from HiGHS's callbacks, in
HiGHS's own thread: plain attribute stores, read whole or stale by one update, never
torn), the gap, the time spent and the time left. :class:`Ticker` prints it at a fixed
interval from a thread of its own, so a line comes while HiGHS or Python is busy.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: The least time a solve is handed when some time is left [s] (HiGHS needs a positive
#: limit; a round this short ends at its first check).
MIN_SOLVE_S = 0.01


@dataclass
class Clock:
    """A wall-clock deadline and the state of the running solve.

    Attributes
    ----------
    limit_s
        The time limit of the whole run [s]; ``None`` or ``inf``: none.
    started
        When the run started (``time.monotonic()``) [s].
    stage
        The pipeline stage running now (``solve``, ``grid baseline`` ...).
    round
        The round inside the stage (``LP round 2``, ``MIP round 1``, ``kernel: LP``).
    incumbent_usd, bound_usd
        The running solve's best plan and best bound, in the objective's unit times
        :attr:`unit_usd` [USD]; ``None`` when not known (an LP, before the first plan).
    unit_usd
        The objective's unit [USD] (models scale their objective; see ``_objective_unit``).
    """

    limit_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    stage: str = ""
    round: str = ""
    incumbent_usd: float | None = None
    bound_usd: float | None = None
    unit_usd: float = 1.0

    def elapsed_s(self) -> float:
        """Time since the run started [s]."""
        return time.monotonic() - self.started

    def left_s(self) -> float:
        """Time left before the deadline [s] (``inf`` without a limit; may be negative)."""
        if self.limit_s is None or not math.isfinite(self.limit_s):
            return math.inf
        return self.limit_s - self.elapsed_s()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.left_s() <= 0.0

    def solver_time_s(self, cap_s: float | None = None) -> float:
        """The time limit to hand the next solve [s]: what is left, at most ``cap_s``.

        Zero when the deadline has passed (the caller then does not start the solve).
        """
        left = self.left_s()
        if left <= 0.0:
            return 0.0
        t = left if cap_s is None else min(left, cap_s)
        return max(t, MIN_SOLVE_S)

    def at(self, stage: str) -> None:
        """A new stage starts: forget the last solve's figures."""
        self.stage, self.round = stage, ""
        self.incumbent_usd = self.bound_usd = None

    def at_round(self, name: str) -> None:
        """A new round of the running stage starts (the last round's figures stay until
        the solver reports new ones)."""
        self.round = name

    def solver_update(self, incumbent: float | None, bound: float | None) -> None:
        """The running solve's figures, in the objective's unit (from HiGHS's thread)."""
        u = self.unit_usd
        if incumbent is not None and math.isfinite(incumbent) and abs(incumbent) < 1e30:
            self.incumbent_usd = incumbent * u
        if bound is not None and math.isfinite(bound) and abs(bound) < 1e30:
            self.bound_usd = bound * u

    def gap(self) -> float | None:
        """Relative gap of the running solve [fraction], or None."""
        inc, bd = self.incumbent_usd, self.bound_usd
        if inc is None or bd is None:
            return None
        return abs(inc - bd) / max(abs(inc), 1.0)

    def line(self) -> str:
        """One progress line: stage and round, time spent and left, then the running
        solve's best plan, bound and gap (the figures last: a narrow terminal cuts them)."""
        head = self.stage or "starting"
        if self.round:
            head += f": {self.round}"
        clock = f"{self.elapsed_s():,.0f} s elapsed"
        left = self.left_s()
        if math.isfinite(left):
            clock += f", {max(left, 0.0):,.0f} s left"
        parts = [head, clock]
        inc, bd, gap = self.incumbent_usd, self.bound_usd, self.gap()
        if inc is not None:
            parts.append(f"best plan {usd(inc)}")
        elif self.stage == "solve":
            parts.append("no plan yet")
        if bd is not None:
            parts.append(f"bound {usd(bd)}")
        if gap is not None:
            parts.append(f"gap {gap:.2%}")
        return " | ".join(parts)


def usd(v: float) -> str:
    """Money for a progress line (``30.99 bn USD``, ``412.5 M USD``)."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:,.3f} bn USD"
    if a >= 1e6:
        return f"{v / 1e6:,.2f} M USD"
    return f"{v:,.0f} USD"


class Ticker:
    """Calls ``emit(clock.line())`` every ``every_s`` seconds from a daemon thread.

    A context manager: the thread starts on entry and stops on exit.
    """

    def __init__(self, clock: Clock, emit: Callable[[str], None], every_s: float = 10.0):
        self.clock, self.emit, self.every_s = clock, emit, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="siting-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.emit(self.clock.line())
            except Exception:  # noqa: BLE001  (a progress line must never cost the run)
                pass

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
