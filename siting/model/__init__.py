"""The siting MILP (Pyomo): one module per constraint family; :mod:`.build` lists them."""

from siting.model.build import build_model
from siting.model.data import ModelData, model_data

__all__ = ["ModelData", "build_model", "model_data"]
