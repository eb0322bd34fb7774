"""Nonlinear shallow-water solver: numba CPU kernels, numba.cuda GPU kernels, one driver.

The scheme itself lives in :mod:`workflows.tsunami._scheme` (see its docstring); this module
builds the per-target kernels, the lon/lat (or Cartesian) metric, the sponge layer, and the
time loop with snapshots, maxima, arrival times and point time series.

Entry point: :func:`simulate`. It is a plain function (no task runtime needed); the
command line and the ensemble tasks call it directly.

Backends: ``"cpu"`` (numba, ``parallel=True``, ``cache=True`` so later runs skip the
compile; the time loop itself is compiled and returns to Python only at snapshot and
point-sample times), ``"gpu"`` (numba.cuda; also runs under the CUDA simulator,
``NUMBA_ENABLE_CUDASIM=1``), ``"numpy"`` (the plain vectorised reference of the same scheme,
:mod:`workflows.tsunami.reference`, slow, for tests and the benchmark baseline) and
``"auto"`` (GPU when numba.cuda sees a device, else CPU). CPU and GPU run the same float64
arithmetic; results agree to round-off (documented tolerance: 1e-9 m on the surface after
hundreds of steps, see ``tests/workflows/tsunami/test_solver_gpu.py``).
"""

from __future__ import annotations

import logging
import math
import os
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _muscl, _scheme

__all__ = [
    "EARTH_RADIUS_M",
    "Mesh",
    "SimulationResult",
    "SolverConfig",
    "cpu_kernels",
    "gpu_available",
    "simulate",
]

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6371009.0
FILL_VALUE = -9999.0

# The scalar scheme functions both targets compile, in dependency order (each is compiled
# after the functions it calls); then each target's own kernels.
SCALAR_FUNCS = (
    "velocities",
    "rcbrt",
    "face_flux",
    "flux_divergence",
    "sponge_clip",
    "friction_rate",
    "cell_sources",
    "finish_cell",
)
_CPU_KERNELS = (
    *SCALAR_FUNCS,
    "velocities_row",
    "yfaces_row",
    "xfaces_row",
    "update_row",
    "row_max",
    "step_rows",
    "advance",
    "max_rate_rows",
)
# The second-order build (``_muscl``): the shared scalar functions, then its own.
SCALAR_FUNCS_2 = (*SCALAR_FUNCS, "half_slope", "face_state", "cell_rhs2", "combine_rate")
_CPU_KERNELS_2 = (
    *SCALAR_FUNCS_2,
    "row_max",
    "prep_rows",
    "row_span",
    "xslopes_row",
    "yslopes_row",
    "yfaces_row2",
    "xfaces_row2",
    "update_row2",
    "stage_rows",
    "advance2",
    "max_rate_rows",
)


@dataclass(frozen=True)
class SolverConfig:
    """Numerical settings (defaults: Tsunami-HySEA's typical ones).

    cfl: Courant number (<= 0.5 keeps the depth non-negative); dry_eps: depth (m) below which
    a cell is dry (1e-12 to 1); manning: Manning coefficient (s m^-1/3, 0 disables
    friction); g: gravity (m/s^2); boundary: ``"open"`` (zero-gradient + sponge) or
    ``"wall"`` (reflecting); sponge_cells: width of the sponge layer at open boundaries;
    arrival_threshold: |eta - eta_initial| (m) that marks the wave's arrival; order: 2
    (MUSCL reconstruction, hydrostatic reconstruction, two-stage Runge-Kutta: see
    :mod:`workflows.tsunami._muscl`) or 1 (the first-order scheme of
    :mod:`workflows.tsunami._scheme`, kept for comparison); limiter_theta: the generalised
    minmod limiter's parameter for order 2, from 1 (minmod, the most dissipative) to 2 (MC,
    the least); 1.3 is the value Kurganov & Petrova (2007) recommend for shallow water.
    """

    cfl: float = 0.5
    dry_eps: float = 5e-3
    manning: float = 0.03
    g: float = 9.81
    boundary: str = "open"
    sponge_cells: int = 4
    arrival_threshold: float = 0.01
    order: int = 2
    limiter_theta: float = 1.3

    def __post_init__(self) -> None:
        if self.order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {self.order}")
        if not 1.0 <= self.limiter_theta <= 2.0:
            raise ValueError(f"limiter_theta must be in [1, 2], got {self.limiter_theta}")
        if not 0.0 < self.cfl <= 1.0:
            raise ValueError(f"cfl must be in (0, 1], got {self.cfl}")
        if self.boundary not in ("open", "wall"):
            raise ValueError(f"boundary must be 'open' or 'wall', got {self.boundary!r}")
        # The friction kernel's cube root (``_scheme.rcbrt``) is exact from 2**-45 m up.
        if not 1e-12 <= self.dry_eps <= 1.0:
            raise ValueError(f"dry_eps must be in [1e-12, 1] m, got {self.dry_eps}")


@dataclass(frozen=True)
class Mesh:
    """Cell-centred grid and the per-row metric the kernels use.

    ``x``/``y``: cell centres (degrees lon/lat when ``spherical``, metres otherwise);
    ``area``: cell areas (m^2, shape (ny, 1) broadcastable).
    """

    x: np.ndarray
    y: np.ndarray
    spherical: bool
    inv_dx: np.ndarray
    cn: np.ndarray
    cs: np.ndarray
    inv_dy: np.ndarray
    tanr: np.ndarray
    area: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.y), len(self.x))

    @classmethod
    def build(cls, x: Sequence[float], y: Sequence[float], spherical: bool = True) -> Mesh:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.ndim != 1 or y.ndim != 1 or len(x) < 1 or len(y) < 1:
            raise ValueError("grid axes must be non-empty 1-D arrays")
        dx = float(x[1] - x[0]) if len(x) > 1 else 1.0
        dy = float(y[1] - y[0]) if len(y) > 1 else 1.0
        if dx <= 0 or dy <= 0:
            raise ValueError("grid axes must be strictly increasing")
        ny = len(y)
        if spherical:
            r = EARTH_RADIUS_M
            phi = np.radians(y)
            dphi = math.radians(dy)
            dlam = math.radians(dx)
            cos_c = np.cos(phi)
            cos_n = np.cos(phi + 0.5 * dphi)
            cos_s = np.cos(phi - 0.5 * dphi)
            inv_dx = 1.0 / (r * cos_c * dlam)
            cn = cos_n / (cos_c * r * dphi)
            cs = cos_s / (cos_c * r * dphi)
            inv_dy = np.full(ny, 1.0 / (r * dphi))
            tanr = np.tan(phi) / r
            area = (r * r * dlam * (np.sin(phi + 0.5 * dphi) - np.sin(phi - 0.5 * dphi)))[:, None]
        else:
            inv_dx = np.full(ny, 1.0 / dx)
            cn = np.full(ny, 1.0 / dy)
            cs = np.full(ny, 1.0 / dy)
            inv_dy = np.full(ny, 1.0 / dy)
            tanr = np.zeros(ny)
            area = np.full((ny, 1), dx * dy)
        return cls(x, y, spherical, inv_dx, cn, cs, inv_dy, tanr, area)


@dataclass
class SimulationResult:
    """Everything a run produces (NumPy arrays, shape (ny, nx) unless stated).

    ``bathymetry``: bed elevation after the deformation (m, positive up); ``deformation``:
    vertical sea-floor displacement applied (m); ``max_height``: maximum free surface (m,
    FILL_VALUE where never wet); ``arrival_times``: seconds, -1 where the wave never arrived;
    ``snapshot_times`` / ``snapshots``: free surface eta (m, NaN where dry), with the
    velocities ``snapshots_u`` / ``snapshots_v`` (m/s, east / north, 0 where dry);
    ``poi_*``: point time series (``poi_eta`` shape (n_times, n_points)).
    """

    mesh: Mesh
    bathymetry: np.ndarray
    deformation: np.ndarray
    h: np.ndarray
    hu: np.ndarray
    hv: np.ndarray
    max_height: np.ndarray
    arrival_times: np.ndarray
    snapshot_times: list[float] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    snapshots_u: list[np.ndarray] = field(default_factory=list)
    snapshots_v: list[np.ndarray] = field(default_factory=list)
    poi_lon: np.ndarray | None = None
    poi_lat: np.ndarray | None = None
    poi_index: np.ndarray | None = None
    poi_times: list[float] = field(default_factory=list)
    poi_eta: list[np.ndarray] = field(default_factory=list)
    time: float = 0.0
    steps: int = 0
    wall_seconds: float = 0.0
    backend: str = "cpu"

    @property
    def eta(self) -> np.ndarray:
        """Current free surface (m), NaN in dry cells."""
        return np.where(self.h > 0.0, self.h + self.bathymetry, np.nan)

    @property
    def cell_updates_per_second(self) -> float:
        cells = self.h.size * self.steps
        return cells / self.wall_seconds if self.wall_seconds > 0 else float("nan")


def build_kernels(
    names: Sequence[str], jit_for: Callable[[str], Callable[[Any], Any]], extra: dict[str, Any]
) -> dict:
    """Compile the scheme's functions ``names`` (callees first; from ``_scheme`` or
    ``_muscl``) for one target, wiring their calls to each other through a private globals
    table."""
    env = dict(vars(_scheme))
    env.update(vars(_muscl))
    env.update(extra)
    suffix = extra.get("_suffix", "")
    built: dict[str, Any] = {}
    for name in names:
        src = getattr(_muscl, name, None) or getattr(_scheme, name)
        fn = types.FunctionType(src.__code__, env, name, src.__defaults__, src.__closure__)
        fn.__module__ = _scheme.__name__
        # A distinct qualname per variant keeps numba's on-disk caches apart.
        fn.__qualname__ = src.__qualname__ + suffix
        compiled = jit_for(name)(fn)
        env[name] = compiled
        built[name] = compiled
    return built


_CPU: dict[tuple[bool, int], dict] = {}

# Below this many cells one thread wins: a parallel region costs a thread wake-up per step,
# and on a busy machine a descheduled worker stalls every step by a scheduler time slice.
PARALLEL_MIN_CELLS = 40_000


def _cores_are_free() -> bool:
    """True when the machine has a core to spare beyond the one this run uses (1-minute
    load average <= cores - 1). Measured on 2 shared cores: with other work running, the
    threaded step (a global time-step reduction, so a barrier, every step) waits a
    scheduler tick for a preempted worker and runs 2-5x slower than one thread."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return True
    return load <= (os.cpu_count() or 1) - 1


def cpu_kernels(parallel: bool = True, order: int = 1) -> dict:
    """The numba CPU build of the first- or second-order scheme, multi-threaded (``prange``)
    or serial; compiled lazily and cached on disk by numba (``cache=True``), so only the
    first run on a machine pays the compile."""
    if (parallel, order) not in _CPU:
        import numba

        def jit_for(name: str):
            par = parallel and name.endswith("_rows")
            # Of fastmath only FMA contraction (a * b + c in one rounding, as GPUs do by
            # default): no reassociation, which would break the exact cancellations that
            # keep the lake at rest (well-balancing). Selects instead of branches in the
            # scheme let LLVM vectorise the row loops without it.
            # Scalar functions are inlined in numba's IR: as separate LLVM functions they
            # stay opaque calls (returning tuples through memory) that block vectorisation.
            rowwise = "_row" in name or name.startswith("advance")
            inline = "never" if rowwise else "always"
            flags = {"contract", "nnan"} if name == "row_max" else {"contract"}
            return numba.njit(
                cache=True,
                parallel=par,
                error_model="numpy",
                boundscheck=False,
                inline=inline,
                fastmath=flags,
            )

        extra = {"prange": numba.prange if parallel else range}
        extra["_suffix"] = ("" if parallel else "_serial") + ("" if order == 1 else "_o2")
        names = _CPU_KERNELS if order == 1 else _CPU_KERNELS_2
        _CPU[(parallel, order)] = build_kernels(names, jit_for, extra)
    return _CPU[(parallel, order)]


def gpu_available() -> bool:
    """True when numba.cuda can see a GPU (or the CUDA simulator is on)."""
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # numba.cuda import fails without a CUDA toolkit
        return False


def _sponge(shape: tuple[int, int], config: SolverConfig, inv_dt: float) -> np.ndarray:
    """Relaxation rate (1/s) per cell: 0 inside, ramping up towards open boundaries."""
    ny, nx = shape
    sigma = np.zeros(shape)
    n = config.sponge_cells
    if config.boundary != "open" or n <= 0:
        return sigma
    jj, ii = np.mgrid[0:ny, 0:nx]
    dist = np.minimum.reduce([ii, nx - 1 - ii, jj, ny - 1 - jj]) if nx > 1 and ny > 1 else None
    if dist is None:  # 1-D grid: only the ends along the long axis
        dist = np.minimum(ii, nx - 1 - ii) if nx > 1 else np.minimum(jj, ny - 1 - jj)
    inside = dist < n
    # Quadratic ramp up to 0.5 / dt at the edge: relaxes ~1/3 of a disturbance per step there.
    sigma[inside] = 0.5 * inv_dt * ((n - dist[inside]) / n) ** 2
    return sigma


def _poi_cells(mesh: Mesh, h: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index (j, i) of the nearest wet cell to each point (within 3 cells), else nearest."""
    ny, nx = h.shape
    out = np.zeros((len(lon), 2), dtype=np.int64)
    for k, (px, py) in enumerate(zip(lon, lat, strict=True)):
        i0 = int(np.clip(np.searchsorted(mesh.x, px), 0, nx - 1))
        j0 = int(np.clip(np.searchsorted(mesh.y, py), 0, ny - 1))
        best, best_d = (j0, i0), math.inf
        for j in range(max(0, j0 - 3), min(ny, j0 + 4)):
            for i in range(max(0, i0 - 3), min(nx, i0 + 4)):
                d = (mesh.x[i] - px) ** 2 + (mesh.y[j] - py) ** 2
                if h[j, i] > 0.0 and d < best_d:
                    best, best_d = (j, i), d
        out[k] = best
    return out


class _CpuBackend:
    name = "cpu"

    def __init__(self, arrays: dict[str, np.ndarray], threads: int | None = None, order: int = 1):
        cells = arrays["h"].size
        self.order = order
        # Results are bit-identical whatever the thread count (each face has one formula and
        # the time step is a maximum), so this choice only affects speed.
        parallel = threads != 1 and (
            threads is not None or (cells >= PARALLEL_MIN_CELLS and _cores_are_free())
        )
        nbands = 1
        if parallel:
            import numba

            if threads:
                numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            nbands = numba.get_num_threads()
        self.k = cpu_kernels(parallel, order)
        self.a = arrays
        for x in ("h", "hu", "hv"):
            self.a[x + "2"] = np.empty_like(arrays["h"])
        ny, nx = arrays["h"].shape
        # One band of rows per thread, each with its own row buffers (velocities of two
        # rows, x faces, south and north faces, cell rates: 17 rows of nx + 1), allocated once.
        nbands = max(1, min(nbands, ny))
        # Second order: 12 more rows, the x slopes of a row and the y slopes of two.
        self.work = np.zeros((nbands, 17 if order == 1 else 29, nx + 1))
        self.chunkrate = np.zeros(nbands)
        self.rowrate = np.zeros(ny)
        # Second order: u, v and eta per cell (the slopes live in the row buffers).
        self.scratch = np.zeros((3, ny, nx)) if order == 2 else None
        self.spans = np.zeros((3, ny, 2), dtype=np.int64)

    def initial_rate(self, eps: float, g: float) -> float:
        a = self.a
        self.k["max_rate_rows"](
            a["h"], a["hu"], a["hv"], eps, g, a["inv_dx"], a["inv_dy"], self.rowrate
        )
        return float(self.rowrate.max())

    def advance(
        self, params: np.ndarray, t: float, rate: float, cfl: float, t_end: float,
        t_poi: float, nmax: int,
    ) -> tuple[float, int, float]:  # fmt: skip
        """Steps in one compiled call; see ``_scheme.advance``."""
        a = self.a
        if self.order == 2:  # the state stays in (h, hu, hv); (h2, ...) hold the first stage
            return self.k["advance2"](
                a["h"], a["hu"], a["hv"], a["b"], a["h2"], a["hu2"], a["hv2"],
                a["inv_dx"], a["cn"], a["cs"], a["inv_dy"], a["tanr"], a["sigma"], params,
                a["maxh"], a["arrival"], a["eta0"], self.work, self.chunkrate,
                t, rate, cfl, t_end, t_poi, nmax, self.scratch, self.spans,
            )  # fmt: skip
        t, n, rate = self.k["advance"](
            a["h"], a["hu"], a["hv"], a["b"], a["h2"], a["hu2"], a["hv2"],
            a["inv_dx"], a["cn"], a["cs"], a["inv_dy"], a["tanr"], a["sigma"], params,
            a["maxh"], a["arrival"], a["eta0"], self.work, self.chunkrate,
            t, rate, cfl, t_end, t_poi, nmax,
        )  # fmt: skip
        if n % 2:  # the state ended in the second buffers
            for x in ("h", "hu", "hv"):
                a[x], a[x + "2"] = a[x + "2"], a[x]
        return t, n, rate

    def get(self, name: str) -> np.ndarray:
        return self.a[name]

    def set(self, name: str, value: np.ndarray) -> None:
        self.a[name] = np.ascontiguousarray(value, dtype=float)


def _advance_stepwise(
    engine: Any, params: np.ndarray, t: float, rate: float, cfl: float, t_end: float,
    t_poi: float, nmax: int,
) -> tuple[float, int, float]:  # fmt: skip
    """``advance`` for backends that only offer ``step`` (NumPy, GPU): the same stopping rules
    as ``_scheme.advance``, one Python-level call per step."""
    n = 0
    while True:
        params[2] = min(cfl / rate, t_end - t)
        new_rate = engine.step(params, t)
        t += params[2]
        n += 1
        if new_rate > 0.0:
            rate = new_rate
        if t >= t_end - 1e-9 or t >= t_poi - 1e-9 or n >= nmax:
            return t, n, rate


def _make_backend(
    name: str, arrays: dict[str, np.ndarray], threads: int | None = None, order: int = 1
):
    if name == "cpu":
        return _CpuBackend(arrays, threads, order)
    if name == "gpu":
        from .gpu import GpuBackend

        return GpuBackend(arrays, order)
    if name == "numpy":
        from .reference import NumpyBackend

        return NumpyBackend(arrays)
    raise ValueError(f"unknown backend {name!r} (cpu, gpu, numpy, auto)")


def simulate(
    bathymetry: np.ndarray,
    x: Sequence[float],
    y: Sequence[float],
    duration: float,
    *,
    deformation: np.ndarray | None = None,
    config: SolverConfig | None = None,
    spherical: bool = True,
    h0: np.ndarray | None = None,
    hu0: np.ndarray | None = None,
    hv0: np.ndarray | None = None,
    save_interval: float | None = None,
    pois: tuple[Sequence[float], Sequence[float]] | None = None,
    poi_interval: float | None = None,
    backend: str = "cpu",
    threads: int | None = None,
    max_steps: int | None = None,
    progress: Callable[[float, int], None] | None = None,
) -> SimulationResult:
    """Run the shallow-water model for ``duration`` seconds (or ``max_steps`` steps).

    ``bathymetry``: bed elevation (m, positive up), shape (len(y), len(x)); ``x``/``y``:
    cell-centre lon/lat (degrees) or metres when ``spherical`` is false. ``deformation``:
    vertical sea-floor displacement (m) added to bed and sea surface at t = 0 (the water
    column keeps its depth, as in Tsunami-HySEA). ``h0``/``hu0``/``hv0``: optional initial
    state instead of the sea at rest at level 0. ``save_interval``: seconds between eta
    snapshots (None: only the final one). ``pois``: (lon, lat) arrays of points for time
    series, sampled every ``poi_interval`` seconds (default: every ``save_interval`` or 60 s).
    ``progress(t, steps)`` is called at each snapshot. ``threads``: CPU threads (1 = the
    serial kernels, as ensemble workers use; None = all numba threads on grids of at least
    PARALLEL_MIN_CELLS cells when the machine has idle cores, else one thread). The result
    does not depend on the thread count.
    """
    config = config or SolverConfig()
    mesh = Mesh.build(x, y, spherical)
    b0 = np.ascontiguousarray(bathymetry, dtype=float)
    if b0.shape != mesh.shape:
        raise ValueError(f"bathymetry shape {b0.shape} does not match the grid {mesh.shape}")
    uz = np.zeros_like(b0) if deformation is None else np.asarray(deformation, dtype=float)
    if uz.shape != b0.shape:
        raise ValueError(f"deformation shape {uz.shape} does not match the grid {b0.shape}")
    h = np.maximum(0.0, -b0) if h0 is None else np.array(h0, dtype=float)
    b = b0 + uz
    hu = np.zeros_like(h) if hu0 is None else np.array(hu0, dtype=float)
    hv = np.zeros_like(h) if hv0 is None else np.array(hv0, dtype=float)
    eps = config.dry_eps
    wet = h > eps
    eta0 = np.where(wet, h + b, 0.0)
    arrays: dict[str, np.ndarray] = {
        "h": h,
        "hu": hu,
        "hv": hv,
        "b": b,
        "inv_dx": mesh.inv_dx.copy(),
        "cn": mesh.cn.copy(),
        "cs": mesh.cs.copy(),
        "inv_dy": mesh.inv_dy.copy(),
        "tanr": mesh.tanr.copy(),
        "maxh": np.where(wet, h + b, FILL_VALUE),
        "arrival": np.full_like(h, -1.0),
        "eta0": eta0,
        "sigma": np.zeros_like(h),
    }
    if backend == "auto":
        backend = "gpu" if gpu_available() else "cpu"
    engine = _make_backend(backend, arrays, threads, config.order)
    rate = engine.initial_rate(eps, config.g)
    if rate <= 0.0:
        raise ValueError("the domain has no wet cell: nothing to simulate")
    engine.set("sigma", _sponge(mesh.shape, config, rate / config.cfl))

    result = SimulationResult(mesh, b, uz, h, hu, hv, arrays["maxh"], arrays["arrival"])
    result.backend = backend
    if pois is not None:
        plon = np.asarray(pois[0], float)
        plat = np.asarray(pois[1], float)
        result.poi_lon, result.poi_lat = plon, plat
        result.poi_index = _poi_cells(mesh, h, plon, plat)
    poi_dt = poi_interval or save_interval or 60.0

    params = np.array(
        [config.g, eps, 0.0, config.manning, 1.0 if config.boundary == "wall" else 0.0,
         config.arrival_threshold, config.limiter_theta, float(config.order)]
    )  # fmt: skip
    t = 0.0
    steps = 0
    next_save = save_interval if save_interval else math.inf
    next_poi = 0.0

    def sample_pois() -> None:
        if result.poi_index is None:
            return
        hh = engine.get("h")
        bb = b
        jj, ii = result.poi_index[:, 0], result.poi_index[:, 1]
        depth = hh[jj, ii]
        result.poi_times.append(t)
        result.poi_eta.append(np.where(depth > eps, depth + bb[jj, ii], 0.0))

    def snapshot(hh: np.ndarray, hu_: np.ndarray, hv_: np.ndarray) -> None:
        wet_ = hh > eps
        safe = np.where(wet_, hh, 1.0)
        result.snapshot_times.append(t)
        result.snapshots.append(np.where(wet_, hh + b, np.nan))
        result.snapshots_u.append(np.where(wet_, hu_ / safe, 0.0))
        result.snapshots_v.append(np.where(wet_, hv_ / safe, 0.0))

    if save_interval:
        snapshot(h, hu, hv)
    started = time.perf_counter()
    limit = max_steps if max_steps is not None else math.inf
    advance = getattr(engine, "advance", None) or (lambda *args: _advance_stepwise(engine, *args))
    while t < duration - 1e-9 and steps < limit:
        if t >= next_poi - 1e-9:
            sample_pois()
            next_poi += poi_dt
        nmax = limit - steps if limit != math.inf else 2**62
        t, n, rate = advance(params, t, rate, config.cfl, min(duration, next_save),
                             next_poi if result.poi_index is not None else math.inf,
                             int(nmax))  # fmt: skip
        steps += n
        if t >= next_save - 1e-9:
            snapshot(engine.get("h"), engine.get("hu"), engine.get("hv"))
            next_save += save_interval  # type: ignore[operator]
            if progress is not None:
                progress(t, steps)
    sample_pois()
    result.wall_seconds = time.perf_counter() - started
    result.time = t
    result.steps = steps
    result.h = engine.get("h")
    result.hu = engine.get("hu")
    result.hv = engine.get("hv")
    result.max_height = engine.get("maxh")
    result.arrival_times = engine.get("arrival")
    if not save_interval:
        snapshot(result.h, result.hu, result.hv)
    log.debug("simulated %.1f s in %d steps, %.2f s wall (%s)", t, steps,
              result.wall_seconds, backend)  # fmt: skip
    return result
