"""Verification problems of the shallow-water solver, with their exact or reference answers.

The tests (``tests/workflows/tsunami/test_solver.py``) assert bounds on these errors; the
accuracy benchmark (``benchmarks/tsunami_accuracy.py``) prints them for both orders of the
scheme side by side, which is where the README's table comes from. Each function runs the
solver on the CPU and returns plain numbers.

- :func:`refinement_study`: a smooth problem (a small hump of water over a smooth bed, before
  any shock forms) on grids of 100 to 400 cells, each compared with a run on a grid four
  times finer than the finest; the observed order is ``log2(e_n / e_2n)``.
- :func:`stoker_dam_break`: Stoker's (1957) wet dam break, L1 error of the depth.
- :func:`long_wave_speed`: a long wave's crest speed against ``sqrt(g h)``, and the height
  left of it after 300 s (how much the scheme flattens a travelling peak).
- :func:`synolakis_runup`: Synolakis' (1987) solitary-wave runup on a plane beach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .solver import SolverConfig, simulate

__all__ = [
    "RefinementStudy",
    "long_wave_speed",
    "refinement_study",
    "stoker_dam_break",
    "synolakis_runup",
]

G = 9.81


@dataclass(frozen=True)
class RefinementStudy:
    """L1 errors of the free surface (``eta_errors``, m) and of the discharge
    (``hu_errors``, m^2/s) per grid size, and the observed orders between successive grids."""

    sizes: tuple[int, ...]
    eta_errors: tuple[float, ...]
    hu_errors: tuple[float, ...]

    @staticmethod
    def _orders(errors: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(math.log2(a / b) for a, b in zip(errors, errors[1:], strict=False))

    @property
    def eta_orders(self) -> tuple[float, ...]:
        return self._orders(self.eta_errors)

    @property
    def hu_orders(self) -> tuple[float, ...]:
        return self._orders(self.hu_errors)


def _smooth_run(n: int, order: int, length: float = 10_000.0, t_end: float = 100.0):
    """The smooth problem on ``n`` cells: a 0.5 m Gaussian hump (1 km wide) of water at rest
    over a bed undulating smoothly between 15 and 25 m depth, walls at both ends (not reached
    by t_end). Returns (cell centres, eta, hu)."""
    dx = length / n
    x = (np.arange(n) + 0.5) * dx
    bed = -20.0 + 5.0 * np.sin(2.0 * np.pi * x / length)
    eta0 = 0.5 * np.exp(-(((x - 0.5 * length) / 1000.0) ** 2))
    h0 = eta0 - bed
    cfg = SolverConfig(manning=0.0, boundary="wall", cfl=0.45, order=order)
    res = simulate(bed[None, :], x, [0.0], t_end, h0=h0[None, :], config=cfg, spherical=False)
    return x, res.h[0] + bed, res.hu[0]


def _restrict(values: np.ndarray, factor: int) -> np.ndarray:
    """Cell averages of a fine grid on the grid ``factor`` times coarser."""
    return values.reshape(-1, factor).mean(axis=1)


def refinement_study(order: int, sizes: tuple[int, ...] = (100, 200, 400)) -> RefinementStudy:
    """Grid-refinement study of the smooth problem, against a grid 4x finer than the finest."""
    fine = 4 * sizes[-1]
    _, eta_ref, hu_ref = _smooth_run(fine, order)
    eta_err, hu_err = [], []
    for n in sizes:
        _, eta, hu = _smooth_run(n, order)
        factor = fine // n
        eta_err.append(float(np.abs(eta - _restrict(eta_ref, factor)).mean()))
        hu_err.append(float(np.abs(hu - _restrict(hu_ref, factor)).mean()))
    return RefinementStudy(tuple(sizes), tuple(eta_err), tuple(hu_err))


def _stoker_exact(x: np.ndarray, t: float, hl: float, hr: float, x0: float) -> np.ndarray:
    """Stoker's wet dam break: rarefaction, constant middle state, bore."""
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


def stoker_dam_break(order: int) -> float:
    """Relative L1 error of the depth after 40 s of a 10 m / 1 m dam break on 1 m cells."""
    n = 2000
    x = (np.arange(n) + 0.5) * 1.0
    bed = np.full((1, n), -10.0)  # depths given explicitly
    h0 = np.where(x < 1000.0, 10.0, 1.0)[None, :]
    cfg = SolverConfig(manning=0.0, boundary="wall", cfl=0.45, order=order)
    res = simulate(bed, x, [0.0], 40.0, h0=h0, config=cfg, spherical=False)
    exact = _stoker_exact(x, res.time, 10.0, 1.0, 1000.0)
    return float(np.abs(res.h[0] - exact).sum() / np.abs(exact).sum())


def long_wave_speed(order: int) -> tuple[float, float, float]:
    """(measured crest speed, sqrt(g h), crest height after 300 s) of a 1 cm, 300 m wide
    long wave in 50 m of water on 10 m cells (its initial height is 0.01 m, split into two
    crests of 0.005 m going either way)."""
    n, depth, dx = 3000, 50.0, 10.0
    x = (np.arange(n) + 0.5) * dx
    bed = np.full((1, n), -depth)
    h0 = depth + 0.01 * np.exp(-(((x - 5000.0) / 300.0) ** 2))[None, :]
    cfg = SolverConfig(manning=0.0, boundary="wall", order=order)
    peaks, heights = [], []
    for t_end in (300.0, 600.0):
        res = simulate(bed, x, [0.0], t_end, h0=h0, config=cfg, spherical=False)
        eta = res.h[0] - depth
        # The right-going crest (the left-going one, reflected by the wall at x = 0, is as
        # high and trails it by 10 km).
        ahead = x > 5000.0 + 0.5 * math.sqrt(G * depth) * t_end
        k = int(np.argmax(np.where(ahead, eta, -np.inf)))
        a, c, d = eta[k - 1], eta[k], eta[k + 1]  # sub-cell peak: a parabola through three
        peaks.append(x[k] + 0.5 * dx * (a - d) / (a - 2 * c + d))
        heights.append(float(c))
    return (peaks[1] - peaks[0]) / 300.0, math.sqrt(G * depth), heights[0]


def synolakis_runup(order: int) -> tuple[float, float]:
    """(computed, analytic) runup (m) of Synolakis' canonical case: d = 1 m, H/d = 0.019,
    beach slope 1:19.85, R/d = 2.831 sqrt(cot beta) (H/d)^(5/4)."""
    d, height, cot = 1.0, 0.019, 19.85
    dx = 0.05
    x = np.arange(-5.0, 100.0, dx) + 0.5 * dx
    bed = np.where(x < d * cot, -x / cot, -d)
    gamma = math.sqrt(3.0 * height / (4.0 * d**3))
    x1 = d * cot + math.acosh(math.sqrt(20.0)) / gamma
    eta = height / np.cosh(gamma * (x - x1)) ** 2
    h0 = np.maximum(0.0, eta - bed) * (bed < 0)
    hu0 = -h0 * math.sqrt(G / d) * eta  # moving shoreward (towards -x)
    cfg = SolverConfig(manning=0.0, boundary="wall", dry_eps=1e-5, order=order)
    res = simulate(bed[None, :], x, [0.0], 25.0, h0=h0[None, :], hu0=hu0[None, :],
                   config=cfg, spherical=False)  # fmt: skip
    runup = float(res.max_height[0][bed > 0].max())
    return runup, 2.831 * math.sqrt(cot) * (height / d) ** 1.25 * d
