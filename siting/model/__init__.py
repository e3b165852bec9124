"""The siting MILP (Pyomo): one module per constraint family; :mod:`.build` lists them.

The names below load on first use (PEP 562), so importing a Pyomo-free module of this
package (:mod:`siting.model.data`, which :mod:`siting.results.verify` reads) does not
import Pyomo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siting.model.build import build_model
    from siting.model.data import ModelData, model_data

__all__ = ["ModelData", "build_model", "model_data"]


def __getattr__(name: str) -> Any:
    if name == "build_model":
        from siting.model.build import build_model

        return build_model
    if name in ("ModelData", "model_data"):
        from siting.model import data

        return getattr(data, name)
    raise AttributeError(f"module 'siting.model' has no attribute {name!r}")
