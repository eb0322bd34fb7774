"""From magnitude to a rectangular fault: moment, length, width, slip.

Published relations used (log10, Mw, lengths in km):

- Seismic moment: ``M0 = 10 ** (1.5 Mw + 9.1)`` N m (Hanks & Kanamori 1979, J. Geophys. Res.
  84, 2348-2350, with the IASPEI 2013 constant 9.1).
- Rupture length and width, Wells & Coppersmith (1994), Bull. Seismol. Soc. Am. 84(4),
  974-1002, Table 2A (subsurface rupture length RLD and down-dip width RW):

  ============  ===================  ===================
  slip type     log10 L              log10 W
  ============  ===================  ===================
  strike-slip   -2.57 + 0.62 Mw      -0.76 + 0.27 Mw
  reverse       -2.42 + 0.58 Mw      -1.61 + 0.41 Mw
  normal        -1.88 + 0.50 Mw      -1.14 + 0.35 Mw
  all           -2.44 + 0.59 Mw      -1.01 + 0.32 Mw
  ============  ===================  ===================

- Subduction interface events (``interface=True``): Strasser, Arango & Bommer (2010),
  Seismol. Res. Lett. 81(6), 941-950: ``log10 L = -2.477 + 0.585 Mw``,
  ``log10 W = -0.882 + 0.351 Mw``.
- Average slip from the moment: ``D = M0 / (mu L W)``, rigidity ``mu = 3.0e10`` Pa (a
  common crustal value; Tsunami-HySEA's PTF uses 30-33 GPa).

The slip type follows the rake (Wells & Coppersmith's convention): within 45 degrees of 0 or
180 strike-slip, rake > 0 reverse, rake < 0 normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "RIGIDITY_PA",
    "FaultSize",
    "fault_size",
    "min_centroid_depth_km",
    "moment",
    "slip_type",
]

RIGIDITY_PA = 3.0e10

_WC94 = {
    "strike-slip": ((-2.57, 0.62), (-0.76, 0.27)),
    "reverse": ((-2.42, 0.58), (-1.61, 0.41)),
    "normal": ((-1.88, 0.50), (-1.14, 0.35)),
    "all": ((-2.44, 0.59), (-1.01, 0.32)),
}
_STRASSER10 = ((-2.477, 0.585), (-0.882, 0.351))


@dataclass(frozen=True)
class FaultSize:
    """Length and width (km), average slip (m), moment (N m), and the relation used."""

    length_km: float
    width_km: float
    slip_m: float
    moment_nm: float
    relation: str


def moment(mw: float) -> float:
    """Seismic moment (N m) of moment magnitude ``mw`` (Hanks & Kanamori 1979)."""
    return 10.0 ** (1.5 * mw + 9.1)


def slip_type(rake: float | None) -> str:
    """Wells & Coppersmith slip type of a rake (degrees); ``all`` when unknown."""
    if rake is None:
        return "all"
    r = (rake + 180.0) % 360.0 - 180.0
    if abs(r) <= 45.0 or abs(r) >= 135.0:
        return "strike-slip"
    return "reverse" if r > 0 else "normal"


def fault_size(
    mw: float, rake: float | None = None, interface: bool = False, rigidity: float = RIGIDITY_PA
) -> FaultSize:
    """Rupture dimensions and average slip for magnitude ``mw``."""
    if not 4.0 <= mw <= 9.7:
        raise ValueError(f"magnitude {mw} outside the range of the scaling laws (4.0-9.7)")
    if interface:
        (a_l, b_l), (a_w, b_w) = _STRASSER10
        relation = "Strasser et al. (2010) interface"
    else:
        kind = slip_type(rake)
        (a_l, b_l), (a_w, b_w) = _WC94[kind]
        relation = f"Wells & Coppersmith (1994) {kind}"
    length = 10.0 ** (a_l + b_l * mw)
    width = 10.0 ** (a_w + b_w * mw)
    m0 = moment(mw)
    slip = m0 / (rigidity * length * 1e3 * width * 1e3)
    return FaultSize(length, width, slip, m0, relation)


def min_centroid_depth_km(width_km: float, dip: float, margin_km: float = 1.0) -> float:
    """Shallowest centroid depth that keeps the fault's top edge ``margin_km`` below the sea
    floor (Okada's half-space has its surface at depth 0)."""
    return 0.5 * width_km * math.sin(math.radians(dip)) + margin_km
