"""Shallow-water solver verification: well-balancing, conservation, analytic solutions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.support.sample_data import shared_file
from workflows.tsunami.grids import read_bathymetry
from workflows.tsunami.solver import SolverConfig, simulate

G = 9.81


def _lake_at_rest(bathy) -> None:  # type: ignore[no-untyped-def]
    assert bathy.shape == (240, 240) and bathy.z.min() < -2000 and bathy.z.max() > 1000
    res = simulate(bathy.z, bathy.lon, bathy.lat, 1e9, max_steps=1000)
    assert res.steps == 1000
    wet = res.h > 5e-3
    speed = np.hypot(res.hu[wet], res.hv[wet]) / res.h[wet]
    assert speed.max() < 1e-10
    assert np.nanmax(np.abs(res.eta)) < 1e-10


def test_lake_at_rest_on_steep_rough_bathymetry_stays_at_rest(sample_data):
    _lake_at_rest(read_bathymetry(sample_data["strait_nc"]))


@pytest.mark.shared_data
def test_lake_at_rest_on_real_messina_bathymetry_stays_at_rest():
    _lake_at_rest(read_bathymetry(shared_file("bathymetry/messina_gebco2022_15s.nc")))


def test_mass_is_conserved_in_a_closed_basin_with_wetting_and_drying():
    lon = np.linspace(10.0, 11.0, 60)
    lat = np.linspace(40.0, 40.8, 50)
    lo, la = np.meshgrid(lon, lat)
    r = np.hypot((lo - 10.5) / 0.5, (la - 40.4) / 0.4)
    z = -500.0 * (1.0 - r**2) + 30.0  # a bowl with dry rims and a dry corner region
    z += 400.0 * np.exp(-((lo - 10.3) ** 2 + (la - 40.3) ** 2) / 0.003)  # an island
    h0 = np.maximum(0.0, -z)
    h0 += np.where(h0 > 0, 2.0 * np.exp(-((lo - 10.6) ** 2 + (la - 40.5) ** 2) / 0.01), 0.0)
    cfg = SolverConfig(boundary="wall", manning=0.03)
    res = simulate(z, lon, lat, 1e9, h0=h0, config=cfg, max_steps=800)
    area = res.mesh.area
    m0 = float((h0 * area).sum())
    m1 = float((res.h * area).sum())
    assert abs(m1 - m0) / m0 < 1e-10
    assert res.h.min() >= 0.0
    assert (res.h[z > 200] == 0).all()  # the island top stays dry


def _stoker(x: np.ndarray, t: float, hl: float, hr: float, x0: float) -> np.ndarray:
    """Stoker's (1957) wet dam break: rarefaction, constant middle state, bore."""
    cl = math.sqrt(G * hl)

    def mismatch(hm: float) -> float:
        return 2.0 * (cl - math.sqrt(G * hm)) - (hm - hr) * math.sqrt(
            G * (hm + hr) / (2.0 * hm * hr)
        )

    lo, hi = hr, hl
    for _ in range(200):  # bisection: mismatch > 0 below the root
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mismatch(mid) > 0 else (lo, mid)
    hm = 0.5 * (lo + hi)
    cm = math.sqrt(G * hm)
    um = 2.0 * (cl - cm)
    shock = hm * um / (hm - hr)
    xi = (x - x0) / t
    h = np.where(xi < -cl, hl, (2.0 * cl - xi) ** 2 / (9.0 * G))
    h = np.where(xi >= um - cm, hm, h)
    return np.where(xi >= shock, hr, h)


def test_dam_break_matches_stoker_within_two_percent_l1():
    n = 2000
    x = (np.arange(n) + 0.5) * 1.0  # 2 km channel, 1 m cells
    z = np.full((1, n), -20.0)
    h0 = np.where(x < 1000.0, 10.0, 1.0)[None, :]
    b = z.copy()
    b[:] = -10.0  # flat bed at -10 m; depths given explicitly
    cfg = SolverConfig(manning=0.0, boundary="wall", cfl=0.45)
    res = simulate(b, x, [0.0], 40.0, h0=h0, config=cfg, spherical=False)
    exact = _stoker(x, res.time, 10.0, 1.0, 1000.0)
    l1 = np.abs(res.h[0] - exact).sum() / np.abs(exact).sum()
    assert res.time == pytest.approx(40.0)
    assert l1 < 0.02, f"L1 error {l1:.4f}"


def test_long_wave_travels_at_sqrt_gh():
    n, depth, dx = 3000, 50.0, 10.0
    x = (np.arange(n) + 0.5) * dx
    b = np.full((1, n), -depth)
    h0 = depth + 0.01 * np.exp(-(((x - 5000.0) / 300.0) ** 2))[None, :]
    cfg = SolverConfig(manning=0.0, boundary="wall")
    peaks = []
    for t_end in (300.0, 600.0):
        res = simulate(b, x, [0.0], t_end, h0=h0, config=cfg, spherical=False)
        eta = res.h[0] - depth
        # The right-going crest (the left-going one, reflected by the wall at x = 0, is as
        # high and trails it by 10 km).
        ahead = x > 5000.0 + 0.5 * math.sqrt(G * depth) * t_end
        k = int(np.argmax(np.where(ahead, eta, -np.inf)))
        # Sub-cell peak position from a parabola through three points.
        a, c, d = eta[k - 1], eta[k], eta[k + 1]
        peaks.append(x[k] + 0.5 * dx * (a - d) / (a - 2 * c + d))
    speed = (peaks[1] - peaks[0]) / 300.0
    assert speed == pytest.approx(math.sqrt(G * depth), rel=0.01)


def test_solitary_wave_runup_matches_synolakis_within_five_percent():
    # Synolakis (1987), J. Fluid Mech. 185: R/d = 2.831 sqrt(cot beta) (H/d)^(5/4),
    # canonical case d = 1 m, H/d = 0.019, beach slope 1:19.85.
    d, H, cot = 1.0, 0.019, 19.85
    dx = 0.05
    x = np.arange(-5.0, 100.0, dx) + 0.5 * dx
    bed = np.where(x < d * cot, -x / cot, -d)
    gamma = math.sqrt(3.0 * H / (4.0 * d**3))
    x1 = d * cot + math.acosh(math.sqrt(20.0)) / gamma
    eta = H / np.cosh(gamma * (x - x1)) ** 2
    h0 = np.maximum(0.0, eta - bed) * (bed < 0)
    hu0 = -h0 * math.sqrt(G / d) * eta  # moving shoreward (towards -x)
    cfg = SolverConfig(manning=0.0, boundary="wall", dry_eps=1e-5)
    res = simulate(bed[None, :], x, [0.0], 25.0, h0=h0[None, :], hu0=hu0[None, :],
                   config=cfg, spherical=False)  # fmt: skip
    land = bed > 0
    runup = float(res.max_height[0][land].max())
    expected = 2.831 * math.sqrt(cot) * (H / d) ** 1.25 * d
    assert runup == pytest.approx(expected, rel=0.05), f"runup {runup:.4f} vs {expected:.4f}"


def test_numba_kernels_match_the_numpy_reference(sample_data):
    bathy = read_bathymetry(sample_data["strait_nc"]).subsample(4)
    from workflows.tsunami.okada import Fault, seafloor_deformation

    uz = seafloor_deformation([Fault(15.6, 38.1, 10, 30, 15, 20, 40, 90, 2)], bathy.lon,
                              bathy.lat)  # fmt: skip
    a = simulate(bathy.z, bathy.lon, bathy.lat, 400.0, deformation=uz, backend="cpu")
    b = simulate(bathy.z, bathy.lon, bathy.lat, 400.0, deformation=uz, backend="numpy")
    assert a.steps == b.steps > 50
    # Same arithmetic, so only round-off differs (measured: 5e-13 m, 8e-11 m^2/s).
    np.testing.assert_allclose(a.h, b.h, rtol=0, atol=1e-11)
    np.testing.assert_allclose(a.hu, b.hu, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.hv, b.hv, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.max_height, b.max_height, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(a.arrival_times > 0, b.arrival_times > 0)


def test_run_split_at_snapshots_and_points_matches_one_uninterrupted_run(sample_data):
    # The compiled time loop returns to Python at snapshot and point-sample times; the
    # stepping (and so the result) must not depend on where it paused.
    bathy = read_bathymetry(sample_data["strait_nc"]).subsample(4)
    from workflows.tsunami.okada import Fault, seafloor_deformation

    uz = seafloor_deformation([Fault(15.6, 38.1, 10, 30, 15, 20, 40, 90, 2)], bathy.lon,
                              bathy.lat)  # fmt: skip
    common = dict(deformation=uz, threads=1)
    whole = simulate(bathy.z, bathy.lon, bathy.lat, 300.0, **common)
    split = simulate(bathy.z, bathy.lon, bathy.lat, 300.0, save_interval=100.0,
                     pois=([15.6], [38.1]), poi_interval=37.0, **common)  # fmt: skip
    assert split.snapshot_times == pytest.approx([0.0, 100.0, 200.0, 300.0])
    # A point is sampled at the first step end at or after each multiple of 37 s, plus at the end.
    sampled = split.poi_times[:-1]
    assert len(sampled) == 9 and split.poi_times[-1] == pytest.approx(300.0)
    assert all(0.0 <= t - 37.0 * k < 5.0 for k, t in enumerate(sampled))
    # Snapshots shorten one step each, so the step sequences differ slightly; the state must
    # agree to the scheme's first-order accuracy, far below the wave height.
    assert np.abs(split.h - whole.h).max() < 1e-2 * np.abs(uz).max()
    # Without snapshots, point sampling alone must not change a single step.
    points = simulate(bathy.z, bathy.lon, bathy.lat, 300.0, pois=([15.6], [38.1]),
                      poi_interval=37.0, **common)  # fmt: skip
    assert points.steps == whole.steps
    np.testing.assert_array_equal(points.h, whole.h)


def test_results_do_not_depend_on_the_thread_count(sample_data):
    # Each face flux has one formula wherever a band of rows starts, and the time step is a
    # maximum: the threaded run must reproduce the serial one bit for bit.
    bathy = read_bathymetry(sample_data["strait_nc"]).subsample(4)
    from workflows.tsunami.okada import Fault, seafloor_deformation

    uz = seafloor_deformation([Fault(15.6, 38.1, 10, 30, 15, 20, 40, 90, 2)], bathy.lon,
                              bathy.lat)  # fmt: skip
    one = simulate(bathy.z, bathy.lon, bathy.lat, 200.0, deformation=uz, threads=1)
    two = simulate(bathy.z, bathy.lon, bathy.lat, 200.0, deformation=uz, threads=2)
    assert one.steps == two.steps > 20
    for name in ("h", "hu", "hv", "max_height", "arrival_times"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)


def test_friction_cube_root_is_exact_to_round_off_over_its_whole_range():
    from workflows.tsunami._scheme import rcbrt
    from workflows.tsunami.solver import cpu_kernels

    compiled = cpu_kernels(parallel=False)["rcbrt"]
    depths = np.concatenate([2.0 ** np.linspace(-45.0, 50.999, 4001), [1e-12, 5e-3, 8.0, 11e3]])
    exact = np.cbrt(depths)
    for fn in (rcbrt, compiled):
        rel = np.array([abs(fn(float(x)) * c - 1.0) for x, c in zip(depths, exact, strict=True)])
        assert rel.max() < 4e-15


def test_dry_depth_threshold_outside_the_kernels_range_is_refused():
    with pytest.raises(ValueError, match="dry_eps"):
        SolverConfig(dry_eps=0.0)
    with pytest.raises(ValueError, match="dry_eps"):
        SolverConfig(dry_eps=1e-20)
