"""Land-use figures over the study region: how much land is excluded, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.features import geometry_mask

from siting.inputs.raster import STATS_MAX_PIXELS

if TYPE_CHECKING:
    from siting.inputs import Layers


@dataclass(frozen=True)
class ExcludedShare:
    """Shares of the study region's area that no campus may use [fraction of region area].

    Attributes
    ----------
    polygons
        Covered by exclusion polygons (exact polygon areas in the layers' CRS).
    classes
        In an excluded land class (counted on the land-class raster; ``None`` without one).
    total
        Excluded by either (on the raster grid when there is one, else = ``polygons``).
    """

    polygons: float
    classes: float | None
    total: float


def excluded_share(layers: Layers) -> ExcludedShare | None:
    """The shares of excluded land in ``layers.region``.

    Parameters
    ----------
    layers
        :class:`siting.inputs.Layers`.

    Returns
    -------
    ExcludedShare or None
        ``None`` when there is no region polygon to measure against.
    """
    region = layers.region
    if region is None or region.is_empty or region.area <= 0:
        return None
    excl = layers.exclusions
    union = None
    poly_share = 0.0
    if excl is not None and len(excl):
        union = shapely.union_all(shapely.make_valid(excl.geometry.values))
        poly_share = float(shapely.intersection(union, region).area / region.area)
    lc = layers.land_class
    if lc is None:
        return ExcludedShare(polygons=poly_share, classes=None, total=poly_share)
    import geopandas as gpd

    with rasterio.open(lc.path) as ds:
        scale = max(1.0, float(np.sqrt(ds.width * ds.height / STATS_MAX_PIXELS)))
        shape = (max(1, int(ds.height / scale)), max(1, int(ds.width / scale)))
        data = ds.read(lc.band, masked=True, out_shape=shape, resampling=Resampling.nearest)
        transform = ds.transform @ ds.transform.scale(ds.width / shape[1], ds.height / shape[0])
        rcrs = ds.crs
    to_r = gpd.GeoSeries([region], crs=layers.crs).to_crs(rcrs)
    inside = ~geometry_mask(to_r.values, out_shape=shape, transform=transform)
    cls = np.isin(np.asarray(data.data), layers.exclude_classes) & ~np.ma.getmaskarray(data)
    poly = np.zeros(shape, dtype=bool)
    if union is not None and not union.is_empty:
        poly = ~geometry_mask(
            gpd.GeoSeries([union], crs=layers.crs).to_crs(rcrs).values,
            out_shape=shape,
            transform=transform,
        )
    if rcrs.is_geographic:  # cell area shrinks with cos(latitude)
        rows = np.arange(shape[0]) + 0.5
        lat = (transform @ (np.zeros_like(rows), rows))[1]
        w = np.broadcast_to(np.cos(np.radians(lat))[:, None], shape)
    else:
        w = np.ones(shape)
    area = float((w * inside).sum())
    if area <= 0:
        return ExcludedShare(polygons=poly_share, classes=None, total=poly_share)
    return ExcludedShare(
        polygons=poly_share,
        classes=float((w * (inside & cls)).sum() / area),
        total=float((w * (inside & (cls | poly))).sum() / area),
    )
