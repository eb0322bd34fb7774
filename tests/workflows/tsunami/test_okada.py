"""Okada (1985) source: the paper's Table 2 check list, and the geographic wrapper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workflows.tsunami.okada import EARTH_RADIUS_M, Fault, okada85, seafloor_deformation

# Okada (1985), BSSA 75(4), Table 2 ("Check list for numerical calculations", p. 1149):
# columns ux, uy, uz, dux/dx, dux/dy, duy/dx, duy/dy, duz/dx, duz/dy for unit slip,
# L = 3, W = 2, lambda = mu. Case 2: x=2, y=3, d=4, dip 70; case 3: x=0, y=0, d=4, dip 90;
# case 4: x=0, y=0, d=4, dip -90.
TABLE2 = {
    (2, "strike"): [-8.689e-3, -4.298e-3, -2.747e-3, -1.220e-3, 2.470e-4, -8.191e-3, -5.814e-4,
                    -5.175e-3, 2.945e-4],
    (2, "dip"): [-4.682e-3, -3.527e-2, -3.564e-2, -8.867e-3, -1.519e-4, 4.057e-3, -1.035e-2,
                 4.088e-3, 2.626e-3],
    (2, "tensile"): [-2.660e-4, 1.056e-2, 3.214e-3, -5.655e-4, 1.993e-3, -1.066e-3, 1.230e-2,
                     -3.730e-4, 1.040e-2],
    (3, "strike"): [0, 5.253e-3, 0, 0, -1.864e-2, -2.325e-3, 0, 0, 2.289e-2],
    (3, "dip"): [0, 0, 0, 0, 2.748e-2, 0, 0, 0, -7.166e-2],
    (3, "tensile"): [1.223e-2, 0, -1.606e-2, -4.182e-3, 0, 0, -2.325e-3, -9.146e-3, 0],
    (4, "strike"): [0, -1.303e-3, 0, 0, 2.726e-3, 7.345e-4, 0, 0, -4.422e-3],
    (4, "dip"): [0, 0, 0, 0, 5.157e-3, 0, 0, 0, -1.901e-2],
    (4, "tensile"): [3.507e-3, 0, -7.740e-3, -1.770e-3, 0, 0, -7.345e-4, -1.843e-3, 0],
}  # fmt: skip
GEOMETRY = {2: (2.0, 3.0, 4.0, 70.0), 3: (0.0, 0.0, 4.0, 90.0), 4: (0.0, 0.0, 4.0, -90.0)}
MODE = {"strike": "strike_slip", "dip": "dip_slip", "tensile": "tensile"}


def _round4(value: float) -> float:
    if abs(value) < 1e-12:
        return 0.0
    return float(f"{value:.3e}")


@pytest.mark.parametrize("case,mode", sorted(TABLE2))
def test_okada85_matches_table2_to_four_significant_digits(case, mode):
    x, y, d, dip = GEOMETRY[case]
    row = okada85(x, y, d, dip, 3.0, 2.0, **{MODE[mode]: 1.0}).as_row()
    assert [_round4(v) for v in row] == pytest.approx(TABLE2[(case, mode)], abs=1e-15)


@pytest.mark.parametrize("mode", sorted(MODE))
def test_analytic_derivatives_agree_with_finite_differences(mode):
    x, y, d, dip, h = 1.3, -0.7, 5.0, 35.0, 1e-5
    kw = {MODE[mode]: 1.0}
    res = okada85(x, y, d, dip, 4.0, 3.0, **kw)
    px, mx = okada85(x + h, y, d, dip, 4.0, 3.0, **kw), okada85(x - h, y, d, dip, 4.0, 3.0, **kw)
    py, my = okada85(x, y + h, d, dip, 4.0, 3.0, **kw), okada85(x, y - h, d, dip, 4.0, 3.0, **kw)
    for comp in ("ux", "uy", "uz"):
        ddx = (getattr(px, comp) - getattr(mx, comp)) / (2 * h)
        ddy = (getattr(py, comp) - getattr(my, comp)) / (2 * h)
        assert getattr(res, f"d{comp}dx") == pytest.approx(ddx, rel=1e-6, abs=1e-10)
        assert getattr(res, f"d{comp}dy") == pytest.approx(ddy, rel=1e-6, abs=1e-10)


def test_geographic_fault_uses_centroid_reference():
    fault = Fault(lon=15.5, lat=38.0, depth_km=10.0, length_km=40.0, width_km=20.0,
                  strike=30.0, dip=40.0, rake=90.0, slip_m=2.0)  # fmt: skip
    lon = np.array([15.55])
    lat = np.array([37.95])
    uz = seafloor_deformation([fault], lon, lat)[0, 0]
    # Same point in Okada's frame, computed by hand.
    km = EARTH_RADIUS_M / 1000.0
    east = km * math.cos(math.radians(38.0)) * math.radians(0.05)
    north = km * math.radians(-0.05)
    st = math.radians(30.0)
    xs = east * math.sin(st) + north * math.cos(st)
    ys = -east * math.cos(st) + north * math.sin(st)
    dip = math.radians(40.0)
    ref = okada85(xs + 20.0, ys + 10.0 * math.cos(dip), 10.0 + 10.0 * math.sin(dip), 40.0,
                  40.0, 20.0, dip_slip=2.0).uz  # fmt: skip
    assert uz == pytest.approx(float(ref), rel=1e-12)


def test_thrust_uplifts_hanging_wall_and_faults_superpose():
    fault = Fault(15.5, 38.0, 15.0, 50.0, 25.0, 0.0, 30.0, 90.0, 1.0)
    lon = np.linspace(15.0, 16.0, 41)
    lat = np.linspace(37.7, 38.3, 25)
    uz = seafloor_deformation([fault], lon, lat)
    # Strike north, dips east: a thrust lifts the up-dip part of the hanging wall and the
    # sea floor subsides further down dip, i.e. east of the uplift.
    j = 12
    assert uz.max() > 0.2 and uz.min() < 0.0
    assert lon[int(np.argmax(uz[j]))] < lon[int(np.argmin(uz[j]))]
    both = seafloor_deformation([fault, fault], lon, lat)
    np.testing.assert_allclose(both, 2 * uz, rtol=1e-12)


def test_fault_parse_and_validation():
    f = Fault.parse("15.5,38.0,10,40,20,30,40,90,2")
    assert f.length_km == 40.0 and f.slip_m == 2.0
    with pytest.raises(ValueError, match="9 comma-separated"):
        Fault.parse("1,2,3")
    with pytest.raises(ValueError, match="above the sea floor"):
        Fault(15.0, 38.0, 1.0, 10.0, 20.0, 0.0, 90.0, 90.0, 1.0)
