"""Choosing the one projected CRS every layer is brought into."""

from __future__ import annotations

import math

from pyproj import CRS
from pyproj.exceptions import CRSError

from siting.core.errors import ProblemReport


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS holding a point (EPSG:326zz north, 327zz south).

    Parameters
    ----------
    lon, lat
        Longitude and latitude [degrees].
    """
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def choose_crs(
    declared: str | None,
    extent_lonlat: tuple[float, float, float, float] | None,
    report: ProblemReport,
    *,
    file: str | None = None,
) -> CRS | None:
    """The layers' common CRS: the scenario's, or the UTM zone of the region's centre.

    Parameters
    ----------
    declared
        The scenario's ``crs`` (EPSG code, ``EPSG:xxxx`` or WKT), or ``None``.
    extent_lonlat
        (west, south, east, north) of the region [degrees], for the automatic choice.
    report
        Problems and the note saying which CRS was chosen go here.
    file
        The scenario file, to name in problems.

    Returns
    -------
    pyproj.CRS or None
        ``None`` when no CRS could be settled (a problem says why).
    """
    if declared:
        try:
            crs = CRS.from_user_input(declared)
        except CRSError as e:
            report.add(
                f"not a CRS pyproj knows ({e}); expected e.g. 'EPSG:32614'", file=file, field="crs"
            )
            return None
        if not crs.is_projected:
            report.add(
                f"{crs.to_string()} is not a projected CRS; expected one in metres (e.g. a UTM "
                "zone), since distances and areas are computed in it",
                file=file,
                field="crs",
            )
            return None
        report.note(f"CRS: {_name(crs)} (from the scenario)")
        return crs
    if extent_lonlat is None or not all(math.isfinite(v) for v in extent_lonlat):
        return None  # no extent (the layers' problems say why)
    west, south, east, north = extent_lonlat
    lon, lat = (west + east) / 2.0, (south + north) / 2.0
    crs = utm_crs(lon, lat)
    width_deg = east - west
    report.note(
        f"CRS: {_name(crs)}, chosen automatically as the UTM zone of the region's centre "
        f"({lon:.2f}, {lat:.2f}); set `crs:` in the scenario to choose another"
        + (
            f" (the region spans {width_deg:.1f} degrees of longitude; a national projection may "
            "suit it better)"
            if width_deg > 12
            else ""
        )
    )
    return crs


def _name(crs: CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code else crs.name
