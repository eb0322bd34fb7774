"""PTF-style ensemble: scenarios sampled from one alert, run, and aggregated commutatively.

Scenario sampling (:func:`build_scenarios`), in the spirit of Probabilistic Tsunami
Forecasting (Selva et al. 2021, Nature Communications 12, 5677): the first scenario is the
best estimate (the alert as given); the others draw, with a seeded generator,

- magnitude ~ Normal(Mw, 0.15), truncated to +-0.3 (typical early-magnitude uncertainty);
- epicentre ~ Normal(alert, 10 km) in each horizontal direction;
- depth ~ Normal(alert depth, 5 km), kept deep enough for the fault to stay below the sea
  floor;
- mechanism: the alert's nodal plane (or the caller's default) with strike +-15 degrees,
  dip +-10 and rake +-15 (Normal, 1 sigma), half the draws on the auxiliary plane when one is
  known.

Fault size and slip come from :mod:`workflows.earthquake.scaling`. All scenarios carry equal
weight, so exceedance probabilities are weighted fractions of scenarios.

:class:`ForecastAccumulator` merges :class:`ScenarioResult` objects with sums, maxima, minima
and a multiset of per-point maxima: adding results in any order gives the same forecast,
which is what lets a first forecast be written as soon as one scenario finishes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..earthquake.alerts import Event, Mechanism
from ..earthquake.scaling import fault_size, min_centroid_depth_km
from .okada import EARTH_RADIUS_M, Fault

__all__ = [
    "DEFAULT_MECHANISM",
    "ForecastAccumulator",
    "Scenario",
    "ScenarioResult",
    "build_scenarios",
    "run_scenario",
]

# A thrust when the alert carries no mechanism (the worst case for uplift).
DEFAULT_MECHANISM = Mechanism(strike=0.0, dip=30.0, rake=90.0)


@dataclass(frozen=True)
class Scenario:
    index: int
    weight: float
    magnitude: float
    faults: tuple[Fault, ...]
    relation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "weight": self.weight,
            "magnitude": round(self.magnitude, 3),
            "relation": self.relation,
            "faults": [f.as_dict() for f in self.faults],
        }


def _auxiliary_plane(m: Mechanism) -> Mechanism:
    """The other nodal plane of a double couple (Aki & Richards 1980, box 4.4)."""
    s, d, r = (math.radians(v) for v in (m.strike, m.dip, m.rake))
    # Slip vector and normal of plane 1, in (north, east, down).
    normal = np.array([-math.sin(d) * math.sin(s), math.sin(d) * math.cos(s), -math.cos(d)])
    slip = np.array([
        math.cos(r) * math.cos(s) + math.cos(d) * math.sin(r) * math.sin(s),
        math.cos(r) * math.sin(s) - math.cos(d) * math.sin(r) * math.cos(s),
        -math.sin(d) * math.sin(r),
    ])  # fmt: skip
    n2, s2 = slip, normal  # plane 2's normal is plane 1's slip, and vice versa
    if n2[2] > 0:  # normal must point up
        n2, s2 = -n2, -s2
    dip2 = math.degrees(math.acos(-n2[2]))
    strike2 = math.degrees(math.atan2(-n2[0], n2[1])) % 360.0
    st2 = math.radians(strike2)
    d2 = math.radians(dip2)
    rake2 = math.degrees(math.atan2(-s2[2] / max(math.sin(d2), 1e-12),
                                    s2[0] * math.cos(st2) + s2[1] * math.sin(st2)))  # fmt: skip
    return Mechanism(strike2, dip2, rake2)


def _scenario(index: int, weight: float, mw: float, lon: float, lat: float, depth: float,
              mech: Mechanism) -> Scenario:  # fmt: skip
    dip = float(np.clip(mech.dip, 5.0, 90.0))
    size = fault_size(mw, rake=mech.rake)
    depth = max(depth, min_centroid_depth_km(size.width_km, dip))
    fault = Fault(lon, lat, depth, size.length_km, size.width_km, mech.strike % 360.0, dip,
                  mech.rake, size.slip_m)  # fmt: skip
    return Scenario(index, weight, mw, (fault,), size.relation)


def build_scenarios(
    event: Event, n: int, seed: int = 0, default_mechanism: Mechanism = DEFAULT_MECHANISM
) -> list[Scenario]:
    """``n`` equally weighted scenarios for ``event``; scenario 0 is the best estimate."""
    if n < 1:
        raise ValueError("the ensemble needs at least one scenario")
    rng = np.random.default_rng(seed)
    mech = event.mechanism or default_mechanism
    planes = [mech] + ([_auxiliary_plane(mech)] if event.mechanism else [])
    w = 1.0 / n
    out = [_scenario(0, w, event.magnitude, event.lon, event.lat, event.depth_km, mech)]
    km_deg = math.pi * EARTH_RADIUS_M / 180.0 / 1000.0
    for k in range(1, n):
        mw = event.magnitude + float(np.clip(rng.normal(0.0, 0.15), -0.3, 0.3))
        dn, de = rng.normal(0.0, 10.0, size=2)
        lat = event.lat + dn / km_deg
        lon = event.lon + de / (km_deg * math.cos(math.radians(event.lat)))
        depth = max(1.0, event.depth_km + rng.normal(0.0, 5.0))
        base = planes[k % len(planes)]
        m = Mechanism(
            base.strike + rng.normal(0.0, 15.0),
            float(np.clip(base.dip + rng.normal(0.0, 10.0), 10.0, 90.0)),
            base.rake + rng.normal(0.0, 15.0),
        )
        out.append(_scenario(k, w, mw, lon, lat, depth, m))
    return out


@dataclass
class ScenarioResult:
    """What one scenario contributes (small: per-point values and two float32 grids)."""

    index: int
    weight: float
    poi_max: np.ndarray
    poi_arrival: np.ndarray
    max_height: np.ndarray
    arrival_times: np.ndarray
    steps: int = 0
    wall_seconds: float = 0.0
    backend: str = "cpu"
    source: str = "internal"


def run_scenario(scenario: Scenario, bathymetry: Any, pois: tuple[np.ndarray, np.ndarray],
                 duration: float, backend: str = "auto", threads: int | None = 1,
                 config: Any = None) -> ScenarioResult:  # fmt: skip
    """Okada source + shallow-water run for one scenario on ``bathymetry`` (a
    :class:`~workflows.tsunami.grids.Bathymetry`); per-point maxima sampled every 10 s."""
    from .okada import seafloor_deformation
    from .solver import FILL_VALUE, simulate

    started = time.perf_counter()
    uz = seafloor_deformation(scenario.faults, bathymetry.lon, bathymetry.lat)
    res = simulate(
        bathymetry.z, bathymetry.lon, bathymetry.lat, duration, deformation=uz, config=config,
        pois=pois, poi_interval=10.0, backend=backend, threads=threads,
    )  # fmt: skip
    jj, ii = res.poi_index[:, 0], res.poi_index[:, 1]
    poi_max = np.array(res.poi_eta).max(axis=0) if res.poi_eta else np.zeros(len(jj))
    maxh = np.where(res.max_height <= FILL_VALUE, np.nan, res.max_height)
    return ScenarioResult(
        index=scenario.index,
        weight=scenario.weight,
        poi_max=np.maximum(poi_max, np.nan_to_num(maxh[jj, ii], nan=0.0)),
        poi_arrival=res.arrival_times[jj, ii].copy(),
        max_height=maxh.astype(np.float32),
        arrival_times=res.arrival_times.astype(np.float32),
        steps=res.steps,
        wall_seconds=time.perf_counter() - started,
        backend=res.backend,
    )


@dataclass
class ForecastAccumulator:
    """Order-independent merge of scenario results (see the module docstring)."""

    n_expected: int
    n_points: int
    thresholds: tuple[float, ...] = (0.2, 0.5, 1.0)
    done: list[int] = field(default_factory=list)
    weight: float = 0.0
    poi_values: list[np.ndarray] = field(default_factory=list)
    poi_weights: list[float] = field(default_factory=list)
    exceed: np.ndarray | None = None
    first_arrival: np.ndarray | None = None
    envelope: np.ndarray | None = None
    mean_max: np.ndarray | None = None
    grid_arrival: np.ndarray | None = None
    wall_seconds: float = 0.0
    backends: dict[str, int] = field(default_factory=dict)

    def add(self, r: ScenarioResult) -> None:
        if r.index in self.done:
            return  # a retried task must not count twice
        self.done.append(r.index)
        self.weight += r.weight
        self.poi_values.append(np.asarray(r.poi_max, float))
        self.poi_weights.append(r.weight)
        hits = np.array([[float(v > t) for t in self.thresholds] for v in r.poi_max])
        hits = hits.reshape(self.n_points, len(self.thresholds))
        arr = np.where(r.poi_arrival > 0, r.poi_arrival, np.inf)
        grid_arr = np.where(r.arrival_times > 0, r.arrival_times, np.inf).astype(np.float32)
        mh = np.nan_to_num(np.asarray(r.max_height, dtype=float), nan=0.0)
        if self.exceed is None:
            self.exceed = r.weight * hits
            self.first_arrival = arr
            self.envelope = mh.copy()
            self.mean_max = r.weight * mh
            self.grid_arrival = grid_arr
        else:
            self.exceed += r.weight * hits
            self.first_arrival = np.minimum(self.first_arrival, arr)
            self.envelope = np.maximum(self.envelope, mh)
            self.mean_max = self.mean_max + r.weight * mh
            self.grid_arrival = np.minimum(self.grid_arrival, grid_arr)
        self.wall_seconds += r.wall_seconds
        self.backends[r.backend] = self.backends.get(r.backend, 0) + 1

    @property
    def complete(self) -> bool:
        return len(self.done) >= self.n_expected

    def probabilities(self) -> np.ndarray:
        """P(max height > threshold) per point, shape (n_points, n_thresholds)."""
        assert self.exceed is not None
        return self.exceed / self.weight

    def percentile(self, q: float) -> np.ndarray:
        """Weighted percentile ``q`` (0-100) of the per-point maximum height."""
        values = np.array(self.poi_values)  # (n_done, n_points)
        weights = np.array(self.poi_weights)
        order = np.argsort(values, axis=0, kind="stable")
        sorted_v = np.take_along_axis(values, order, axis=0)
        cum = np.cumsum(weights[order], axis=0) / weights.sum()
        idx = (cum < q / 100.0 - 1e-12).sum(axis=0)
        idx = np.minimum(idx, len(weights) - 1)
        return sorted_v[idx, np.arange(values.shape[1])]

    def mean(self) -> np.ndarray:
        values = np.array(self.poi_values)
        w = np.array(self.poi_weights)[:, None]
        return (values * w).sum(axis=0) / w.sum()
