"""Okada (1985) surface deformation of rectangular faults in an elastic half-space.

Reference: Y. Okada, "Surface deformation due to shear and tensile faults in a half-space",
Bull. Seismol. Soc. Am. 75(4), 1135-1154, 1985 (equations 25-30 for the displacements,
equations 31-36 and the appendix for tilts and strains). At the free surface these are the
same values as Okada (1992) DC3D with z = 0, which Tsunami-HySEA uses.

Two layers:

- :func:`okada85` works in Okada's own frame: x along strike, y to the left of strike, z up,
  origin at the bottom-left corner of the fault projected to the surface, ``d`` the depth of
  that bottom edge. It returns the displacements and their horizontal derivatives, and is
  what the Okada 1985 Table 2 checks exercise.
- :class:`Fault` and :func:`seafloor_deformation` use the Tsunami-HySEA convention: the fault
  is placed by its *centroid* (lon, lat, depth in km), has length and width in km, strike /
  dip / rake in degrees and slip in metres; several faults are summed on a lon/lat grid.

Everything is vectorised NumPy (the source is evaluated once per scenario, so it is not the
hot loop). Poisson's ratio defaults to 0.25 (lambda = mu), as in HySEA.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["EARTH_RADIUS_M", "Fault", "OkadaResult", "okada85", "seafloor_deformation"]

EARTH_RADIUS_M = 6371009.0  # mean Earth radius (IUGG), used for the local projection

# Below this, a quantity is treated as exactly zero (Okada 1985, notes after eq. 30).
_EPS = 1e-12


@dataclass(frozen=True)
class OkadaResult:
    """Surface displacements (same unit as the slip) and their derivatives (dimensionless).

    Arrays broadcast like the ``x``/``y`` given to :func:`okada85`. Derivative names follow
    Okada's Table 2 columns: ``duxdx`` is d(ux)/dx, etc.
    """

    ux: np.ndarray
    uy: np.ndarray
    uz: np.ndarray
    duxdx: np.ndarray
    duxdy: np.ndarray
    duydx: np.ndarray
    duydy: np.ndarray
    duzdx: np.ndarray
    duzdy: np.ndarray

    def as_row(self) -> list[float]:
        """The nine Table 2 columns for a scalar point, in the paper's order."""
        return [
            float(v)
            for v in (
                self.ux,
                self.uy,
                self.uz,
                self.duxdx,
                self.duxdy,
                self.duydx,
                self.duydy,
                self.duzdx,
                self.duzdy,
            )
        ]


def _terms(xi, eta, q, sd, cd, mu_ratio):  # noqa: PLR0915 - one formula block, kept together
    """All Okada (1985) integrand terms at one corner (xi, eta); returns 27 arrays.

    Order: (strike ux, uy, uz, dux/dx, dux/dy, duy/dx, duy/dy, duz/dx, duz/dy), then the same
    for dip slip and for tensile opening, each *without* the -U/(2 pi) or U/(2 pi) factor.
    """
    ytil = eta * cd + q * sd
    dtil = eta * sd - q * cd
    r = np.sqrt(xi * xi + eta * eta + q * q)
    x = np.sqrt(xi * xi + q * q)
    r3 = r**3

    # Singular cases (Okada 1985, p. 1148): R + eta -> 0 when q = xi = 0 and eta < 0.
    rpe = r + eta
    rpe_zero = np.abs(rpe) < _EPS
    safe_rpe = np.where(rpe_zero, 1.0, rpe)
    inv_rpe = np.where(rpe_zero, 0.0, 1.0 / safe_rpe)
    ln_rpe = np.where(rpe_zero, -np.log(np.where(rpe_zero, r - eta, 1.0)), np.log(safe_rpe))
    rpx = r + xi
    rpx_zero = np.abs(rpx) < _EPS
    inv_rpx = np.where(rpx_zero, 0.0, 1.0 / np.where(rpx_zero, 1.0, rpx))
    q_zero = np.abs(q) < _EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(q_zero, 0.0, np.arctan(xi * eta / np.where(q_zero, 1.0, q * r)))
    rpd = r + dtil

    # A_eta and A_xi (Okada 1985, eq. 32 notation); zero where R + eta (R + xi) vanishes.
    a_eta = (2.0 * r + eta) * inv_rpe**2 / r3
    a_xi = (2.0 * r + xi) * inv_rpx**2 / r3

    if abs(cd) > _EPS:
        i4 = mu_ratio / cd * (np.log(rpd) - sd * ln_rpe)
        xi_zero = np.abs(xi) < _EPS
        with np.errstate(divide="ignore", invalid="ignore"):
            i5 = np.where(
                xi_zero,
                0.0,
                mu_ratio
                * 2.0
                / cd
                * np.arctan(
                    (eta * (x + q * cd) + x * (r + x) * sd)
                    / np.where(xi_zero, 1.0, xi * (r + x) * cd)
                ),
            )
        i3 = mu_ratio * (ytil / (cd * rpd) - ln_rpe) + sd / cd * i4
        i1 = mu_ratio * (-xi / (cd * rpd)) - sd / cd * i5
        k1 = mu_ratio * xi / cd * (1.0 / (r * rpd) - sd * inv_rpe / r)
        k3 = mu_ratio / cd * (q * inv_rpe / r - ytil / (r * rpd))
        j1 = mu_ratio / cd * (xi * xi / (r * rpd**2) - 1.0 / rpd) - sd / cd * k3
        j2 = mu_ratio / cd * (xi * ytil / (r * rpd**2)) - sd / cd * k1
    else:
        # Vertical fault limits (cos(dip) = 0), Okada 1985 eqs. after (29) and (34).
        i1 = -mu_ratio / 2.0 * xi * q / rpd**2
        i3 = mu_ratio / 2.0 * (eta / rpd + ytil * q / rpd**2 - ln_rpe)
        i4 = -mu_ratio * q / rpd
        i5 = -mu_ratio * xi * sd / rpd
        k1 = -mu_ratio * xi * q / (r * rpd**2)
        k3 = mu_ratio * sd / rpd * (xi * xi / (r * rpd) - 1.0)
        j1 = mu_ratio / 2.0 * q / rpd**2 * (2.0 * xi * xi / (r * rpd) - 1.0)
        j2 = mu_ratio / 2.0 * xi * sd / rpd**2 * (2.0 * q * q / (r * rpd) - 1.0)
    i2 = mu_ratio * (-ln_rpe) - i3
    j3 = mu_ratio * (-xi * inv_rpe / r) - j2
    j4 = mu_ratio * (-cd / r - q * sd * inv_rpe / r) - j1
    k2 = mu_ratio * (-sd / r + q * cd * inv_rpe / r) - k3

    # Displacements (eqs. 25-30), bracketed terms only.
    s_ux = xi * q * inv_rpe / r + theta + i1 * sd
    s_uy = ytil * q * inv_rpe / r + q * cd * inv_rpe + i2 * sd
    s_uz = dtil * q * inv_rpe / r + q * sd * inv_rpe + i4 * sd
    d_ux = q / r - i3 * sd * cd
    d_uy = ytil * q * inv_rpx / r + cd * theta - i1 * sd * cd
    d_uz = dtil * q * inv_rpx / r + sd * theta - i5 * sd * cd
    t_ux = q * q * inv_rpe / r - i3 * sd * sd
    t_uy = -dtil * q * inv_rpx / r - sd * (xi * q * inv_rpe / r - theta) - i1 * sd * sd
    t_uz = ytil * q * inv_rpx / r + cd * (xi * q * inv_rpe / r - theta) - i5 * sd * sd

    # Derivatives (strains and tilts), bracketed terms only.
    s_duxdx = xi * xi * q * a_eta - j1 * sd
    s_duxdy = xi**3 * dtil / (r3 * (eta * eta + q * q)) - (xi**3 * a_eta + j2) * sd
    s_duydx = xi * q / r3 * cd + (xi * q * q * a_eta - j2) * sd
    s_duydy = (
        ytil * q / r3 * cd
        + (q**3 * a_eta * sd - 2.0 * q * sd * inv_rpe / r - (xi * xi + eta * eta) / r3 * cd - j4)
        * sd
    )
    s_duzdx = -xi * q * q * a_eta * cd + (xi * q / r3 - k1) * sd
    s_duzdy = dtil * q / r3 * cd + (xi * xi * q * a_eta * cd - sd / r + ytil * q / r3 - k2) * sd

    d_duxdx = xi * q / r3 + j3 * sd * cd
    d_duxdy = ytil * q / r3 - sd / r + j1 * sd * cd
    d_duydx = ytil * q / r3 + q * cd * inv_rpe / r + j1 * sd * cd
    d_duydy = (
        ytil * ytil * q * a_xi
        - (2.0 * ytil * inv_rpx / r + xi * cd * inv_rpe / r) * sd
        + j2 * sd * cd
    )
    d_duzdx = dtil * q / r3 + q * sd * inv_rpe / r + k3 * sd * cd
    d_duzdy = (
        ytil * dtil * q * a_xi
        - (2.0 * dtil * inv_rpx / r + xi * sd * inv_rpe / r) * sd
        + k1 * sd * cd
    )

    t_duxdx = xi * q * q * a_eta + j3 * sd * sd
    t_duxdy = -dtil * q / r3 - xi * xi * q * a_eta * sd + j1 * sd * sd
    t_duydx = q * q / r3 * cd + q**3 * a_eta * sd + j1 * sd * sd
    t_duydy = (
        (ytil * cd - dtil * sd) * q * q * a_xi
        - q * 2.0 * sd * cd * inv_rpx / r
        - (xi * q * q * a_eta - j2) * sd * sd
    )
    t_duzdx = q * q / r3 * sd - q**3 * a_eta * cd + k3 * sd * sd
    t_duzdy = (
        (ytil * sd + dtil * cd) * q * q * a_xi
        + xi * q * q * a_eta * sd * cd
        - (2.0 * q * inv_rpx / r - k1) * sd * sd
    )
    return (
        (s_ux, s_uy, s_uz, s_duxdx, s_duxdy, s_duydx, s_duydy, s_duzdx, s_duzdy),
        (d_ux, d_uy, d_uz, d_duxdx, d_duxdy, d_duydx, d_duydy, d_duzdx, d_duzdy),
        (t_ux, t_uy, t_uz, t_duxdx, t_duxdy, t_duydx, t_duydy, t_duzdx, t_duzdy),
    )


def okada85(
    x,
    y,
    depth: float,
    dip_deg: float,
    length: float,
    width: float,
    strike_slip: float = 0.0,
    dip_slip: float = 0.0,
    tensile: float = 0.0,
    poisson: float = 0.25,
) -> OkadaResult:
    """Surface displacement of one rectangular fault, in Okada's (1985) frame.

    ``x``, ``y``: observation points (any broadcastable arrays, same length unit as
    ``depth``/``length``/``width``); x along strike, y to its left, origin above the fault's
    bottom-left corner; ``depth``: depth of the bottom edge (> 0); ``dip_deg`` in (-90, 90]
    (or -90); slips U1 (strike), U2 (dip), U3 (tensile) in any length unit, which is the
    unit of the displacements. Poisson's ratio ``poisson`` sets mu / (lambda + mu) = 1 - 2 nu.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    dip = math.radians(dip_deg)
    sd, cd = math.sin(dip), math.cos(dip)
    if abs(cd) < _EPS:
        cd = 0.0
        sd = math.copysign(1.0, sd)
    mu_ratio = 1.0 - 2.0 * poisson
    p = y * cd + depth * sd
    q = y * sd - depth * cd

    total = np.zeros((3, 9) + np.broadcast(x, y).shape)
    # Chinnery's notation: f(x, p) - f(x, p - W) - f(x - L, p) + f(x - L, p - W).
    for xi, eta, sign in ((x, p, 1.0), (x, p - width, -1.0), (x - length, p, -1.0)):
        total += sign * np.array(_terms(xi, eta, q, sd, cd, mu_ratio))
    total += np.array(_terms(x - length, p - width, q, sd, cd, mu_ratio))

    factor = 1.0 / (2.0 * math.pi)
    # Displacements carry -U/(2 pi) for shear and +U/(2 pi) for tensile; derivatives the reverse.
    disp = -factor * (strike_slip * total[0, :3] + dip_slip * total[1, :3]) + (
        factor * tensile * total[2, :3]
    )
    der = factor * (strike_slip * total[0, 3:] + dip_slip * total[1, 3:]) - (
        factor * tensile * total[2, 3:]
    )
    return OkadaResult(*disp, *der)


@dataclass(frozen=True)
class Fault:
    """A rectangular fault in the Tsunami-HySEA convention.

    lon, lat: centroid (degrees); depth_km: centroid depth (km, positive down);
    length_km, width_km: along strike / along dip (km); strike, dip, rake: degrees (Aki &
    Richards: the fault dips to the right of strike, rake 90 = thrust); slip_m: metres.
    """

    lon: float
    lat: float
    depth_km: float
    length_km: float
    width_km: float
    strike: float
    dip: float
    rake: float
    slip_m: float

    def __post_init__(self) -> None:
        if self.length_km <= 0 or self.width_km <= 0:
            raise ValueError("fault length and width must be positive (km)")
        if not 0.0 < self.dip <= 90.0:
            raise ValueError(f"fault dip must be in (0, 90] degrees, got {self.dip}")
        top = self.depth_km - 0.5 * self.width_km * math.sin(math.radians(self.dip))
        if top < -1e-9:
            raise ValueError(
                f"fault top edge would be {-top:.3f} km above the sea floor: "
                "increase depth_km or reduce width_km"
            )

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse ``LON,LAT,DEPTH_KM,LENGTH_KM,WIDTH_KM,STRIKE,DIP,RAKE,SLIP_M``."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 9:
            raise ValueError(
                f"fault {text!r}: expected 9 comma-separated numbers "
                "LON,LAT,DEPTH_KM,LENGTH_KM,WIDTH_KM,STRIKE,DIP,RAKE,SLIP_M"
            )
        try:
            values = [float(p) for p in parts]
        except ValueError as exc:
            raise ValueError(f"fault {text!r}: {exc}") from None
        return cls(*values)

    def as_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in self.__dataclass_fields__}


def _fault_displacement(fault: Fault, lon: np.ndarray, lat: np.ndarray, poisson: float):
    """(uE, uN, uZ) in metres of one fault at points lon/lat (broadcast arrays, degrees)."""
    lat0 = math.radians(fault.lat)
    # Local tangent-plane projection around the centroid, in km.
    east = EARTH_RADIUS_M / 1000.0 * math.cos(lat0) * np.radians(lon - fault.lon)
    north = EARTH_RADIUS_M / 1000.0 * np.radians(lat - fault.lat)
    st = math.radians(fault.strike)
    # Okada's frame: x along strike, y 90 degrees to its left.
    xs = east * math.sin(st) + north * math.cos(st)
    ys = -east * math.cos(st) + north * math.sin(st)
    dip = math.radians(fault.dip)
    # Centroid -> Okada origin (bottom-left corner).
    x = xs + 0.5 * fault.length_km
    y = ys + 0.5 * fault.width_km * math.cos(dip)
    d = fault.depth_km + 0.5 * fault.width_km * math.sin(dip)
    rake = math.radians(fault.rake)
    res = okada85(
        x,
        y,
        d,
        fault.dip,
        fault.length_km,
        fault.width_km,
        strike_slip=fault.slip_m * math.cos(rake),
        dip_slip=fault.slip_m * math.sin(rake),
        poisson=poisson,
    )
    ue = res.ux * math.sin(st) - res.uy * math.cos(st)
    un = res.ux * math.cos(st) + res.uy * math.sin(st)
    return ue, un, res.uz


def seafloor_deformation(
    faults: Iterable[Fault],
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    poisson: float = 0.25,
    components: bool = False,
):
    """Sum the surface displacement of ``faults`` on the lon/lat grid (1-D axes, degrees).

    Returns the vertical displacement ``uz`` (metres, shape (len(lat), len(lon))), or
    ``(ue, un, uz)`` when ``components`` is true.
    """
    lon2, lat2 = np.meshgrid(np.asarray(lon, float), np.asarray(lat, float))
    ue = np.zeros_like(lon2)
    un = np.zeros_like(lon2)
    uz = np.zeros_like(lon2)
    for fault in faults:
        e, n, z = _fault_displacement(fault, lon2, lat2, poisson)
        ue += e
        un += n
        uz += z
    return (ue, un, uz) if components else uz
