"""GPU backend: the scheme's cell update as a numba.cuda kernel, one thread per cell.

Device functions are compiled from the same scalar Python functions as the CPU kernels
(:mod:`workflows.tsunami._scheme` for the first-order scheme, :mod:`workflows.tsunami._muscl`
for the second-order one), so both targets run the same float64 arithmetic; the GPU computes
each face twice (once per neighbouring cell) instead of once (and, at second order, each
cell's limited slopes three times, from the 9-cell cross around the cell, instead of keeping
them in scratch arrays), and evaluates ``sqrt`` and the divisions with the device's own
instructions, so results agree with the CPU to round-off, not bit for bit. Tolerance we test
and document: 1e-9 m on the surface and 1e-7 m^2/s on the momentum after hundreds of steps.

A second-order step is two launches of one stage kernel: the first stage writes the spare
state planes, the second reads them and writes the step's result over the state in place
(each cell reads only its own start value there), then ends the step as below.

Time stepping stays on the device, so the host launches steps without waiting for them:

- every per-cell array lives in one (11, ny, nx) device array and the per-row metric in one
  (5, ny) array. A numba launch costs ~9 us per argument on the host (measured on an H100
  machine: 195 us with 21 arguments, 46 us with 3), which on a 240 x 240 grid was ten
  times the kernel's own run time;
- the grid-wide maximum wave speed (for the CFL step) is reduced per block in shared memory
  and folded in with one atomic per block; the last block to finish (a counter, after a
  memory fence) turns it into the next step length, advances the clock and decides whether
  the run has reached its stopping point (end, snapshot, point sample or step budget);
- the host queues steps in batches (2, 4, ... 32) and reads the 72-byte clock once per
  batch. Steps queued after the stopping point do no arithmetic (first order: they copy the
  state to the other buffer unchanged), so the result does not depend on the batch size.

Works on real GPUs and under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
"""

from __future__ import annotations

import hashlib
import inspect

import numpy as np

__all__ = ["GpuBackend"]

import numba
from numba import cuda  # this module is imported only when the GPU backend is chosen

from . import _muscl, _scheme
from .solver import SCALAR_FUNCS, SCALAR_FUNCS_2, build_kernels

_DEVICE_FUNCS = (*SCALAR_FUNCS, "update_cell")
_DEVICE_FUNCS_2 = (*SCALAR_FUNCS_2, "cell_values", "cross_slopes", "cross_face", "stage_cell2")
# 32 x 8 threads: a warp reads 32 consecutive cells of a row (coalesced); 256 per block
# (the shared-memory reduction below assumes exactly this many, a power of two).
_BLOCK = (32, 8)
_THREADS = _BLOCK[0] * _BLOCK[1]
_NPARAMS = 8  # g, eps, dt, manning, closed, arrival threshold, limiter theta, order
# Planes of the per-cell array: the state twice (ping-pong), then the fixed fields.
_PLANES = ("h", "hu", "hv", "h2", "hu2", "hv2", "b", "sigma", "maxh", "arrival", "eta0")
_PLANE = {name: k for k, name in enumerate(_PLANES)}
_ROWS = ("inv_dx", "cn", "cs", "inv_dy", "tanr")
# The clock: what the last block of a step reads and writes.
T, DT, RATE, T_END, T_POI, CFL, N, NMAX, DONE = range(9)
_BATCH = 32  # steps queued per read of the clock

_DEV = build_kernels(_DEVICE_FUNCS, lambda name: cuda.jit(device=True), {})
_update_cell = _DEV["update_cell"]
_stage_cell2 = build_kernels(_DEVICE_FUNCS_2, lambda name: cuda.jit(device=True), {})["stage_cell2"]


def _step_kernel(f, rows, params, clock, rmax, counter, cur):
    i, j = cuda.grid(2)
    ny, nx = f.shape[1], f.shape[2]
    inside = i < nx and j < ny
    src = 3 * cur
    dst = 3 - src
    if clock[DONE] > 0.5:  # past the stopping point: keep the state, move it unchanged
        if inside:
            for k in range(3):
                f[dst + k, j, i] = f[src + k, j, i]
        return
    dt = clock[DT]
    p = cuda.local.array(_NPARAMS, numba.float64)
    for k in range(_NPARAMS):
        p[k] = params[k]
    p[2] = dt
    r = 0.0
    if inside:
        r = _update_cell(
            i, j, f[src], f[src + 1], f[src + 2], f[6], f[dst], f[dst + 1], f[dst + 2],
            rows[0], rows[1], rows[2], rows[3], rows[4], f[7], p, f[8], f[9], f[10],
            clock[T],
        )  # fmt: skip
    _reduce_and_finish(r, clock, rmax, counter)


def _stage2_kernel(f, rows, params, clock, rmax, counter, final):
    """One stage of the second-order scheme (``final``: the second, which ends the step).
    The state stays in planes 0-2; the first stage writes planes 3-5, the second reads them
    and writes planes 0-2 in place (each cell reads only its own old value there)."""
    i, j = cuda.grid(2)
    ny, nx = f.shape[1], f.shape[2]
    inside = i < nx and j < ny
    if clock[DONE] > 0.5:  # past the stopping point: the state stays where it is
        return
    p = cuda.local.array(_NPARAMS, numba.float64)
    for k in range(_NPARAMS):
        p[k] = params[k]
    p[2] = clock[DT]
    src = 3 if final else 0
    dst = 0 if final else 3
    r = 0.0
    if inside:
        r = _stage_cell2(
            i, j, f[src], f[src + 1], f[src + 2], f[6], f[0], f[1], f[2],
            f[dst], f[dst + 1], f[dst + 2], rows[0], rows[1], rows[2], rows[3], rows[4],
            f[7], p, f[8], f[9], f[10], clock[T], final,
        )  # fmt: skip
    if final:  # the same for the whole launch: every thread of a block takes this branch
        _reduce_and_finish(r, clock, rmax, counter)


@cuda.jit(device=True)
def _reduce_and_finish(r, clock, rmax, counter):
    """The grid-wide maximum of ``r``: per block in shared memory, then one atomic per block;
    the last block to finish ends the step (:func:`_finish_step`)."""
    best = cuda.shared.array(_THREADS, numba.float64)
    tid = cuda.threadIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    best[tid] = r
    cuda.syncthreads()
    s = _THREADS // 2
    while s > 0:
        if tid < s:
            best[tid] = max(best[tid], best[tid + s])
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        cuda.atomic.max(rmax, 0, best[0])
        cuda.threadfence()  # this block's maximum is visible before it is counted
        nblocks = cuda.gridDim.x * cuda.gridDim.y
        if cuda.atomic.add(counter, 0, 1) == nblocks - 1:
            _finish_step(clock, rmax, counter)


@cuda.jit(device=True)
def _finish_step(clock, rmax, counter):
    """Run by the last block of a step: the same stopping rules as ``_scheme.advance``."""
    r = cuda.atomic.max(rmax, 0, 0.0)  # an atomic read: every block's value, from L2
    rmax[0] = 0.0
    counter[0] = 0
    if r > 0.0:
        clock[RATE] = r
    t = clock[T] + clock[DT]
    n = clock[N] + 1.0
    clock[T] = t
    clock[N] = n
    if t >= clock[T_END] - 1e-9 or t >= clock[T_POI] - 1e-9 or n >= clock[NMAX]:
        clock[DONE] = 1.0
    else:
        clock[DT] = min(clock[CFL] / clock[RATE], clock[T_END] - t)


def _cached_kernel(fn):
    """``cuda.jit(cache=True)``: compiling the kernel costs ~2 s, paid by every process
    (each ensemble scenario runs in a fresh worker) unless cached on disk. numba keys the cache
    on this file only, not on the scheme functions compiled into the kernel, so their source
    digest goes into the kernel's name: editing ``_scheme.py`` or ``_muscl.py`` gives a new
    cache entry."""
    source = inspect.getsource(_scheme) + inspect.getsource(_muscl)
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    fn.__qualname__ = f"{fn.__qualname__}_{digest}"
    return cuda.jit(cache=True)(fn)


_step_kernel = _cached_kernel(_step_kernel)
_stage2_kernel = _cached_kernel(_stage2_kernel)


class GpuBackend:
    """Backend protocol of :mod:`workflows.tsunami.solver` on one CUDA device."""

    name = "gpu"

    def __init__(self, arrays: dict[str, np.ndarray], order: int = 1):
        self.order = order
        ny, nx = arrays["h"].shape
        planes = np.zeros((len(_PLANES), ny, nx))
        for name, k in _PLANE.items():
            if name in arrays:
                planes[k] = arrays[name]
        self.f = cuda.to_device(planes)
        self.rows = cuda.to_device(np.stack([np.broadcast_to(arrays[n], (ny,)) for n in _ROWS]))
        self.d_params = cuda.to_device(np.zeros(_NPARAMS))
        self.params_sent: np.ndarray | None = None
        self.clock = cuda.pinned_array(9, dtype=np.float64)
        self.d_clock = cuda.to_device(np.zeros(9))
        self.rmax = cuda.to_device(np.zeros(1))
        self.counter = cuda.to_device(np.zeros(1, dtype=np.int32))
        self.cur = 0  # which state buffer (0: planes 0-2, 1: planes 3-5) holds the state
        self.host = arrays
        self.grid = ((nx + _BLOCK[0] - 1) // _BLOCK[0], (ny + _BLOCK[1] - 1) // _BLOCK[1])
        self.launch = _step_kernel[self.grid, _BLOCK]
        self.launch2 = _stage2_kernel[self.grid, _BLOCK]

    def initial_rate(self, eps: float, g: float) -> float:
        from .reference import NumpyBackend

        return NumpyBackend(self.host).initial_rate(eps, g)

    def advance(
        self, params: np.ndarray, t: float, rate: float, cfl: float, t_end: float,
        t_poi: float, nmax: int,
    ) -> tuple[float, int, float]:  # fmt: skip
        """Steps until ``t_end`` / ``t_poi`` / ``nmax``, as ``_scheme.advance`` does on the CPU."""
        constant = np.array(params, dtype=float)
        constant[2] = 0.0
        if self.params_sent is None or not np.array_equal(constant, self.params_sent):
            self.d_params.copy_to_device(constant)
            self.params_sent = constant
        c = self.clock
        c[:] = 0.0
        c[T], c[RATE], c[T_END], c[T_POI], c[CFL] = t, rate, t_end, t_poi, cfl
        c[NMAX] = float(min(nmax, 2**52))
        c[DT] = min(cfl / rate, t_end - t)
        self.d_clock.copy_to_device(c)
        queued = 0
        batch = 1
        while True:
            # Batches double up to _BATCH: short runs (to the next snapshot) waste few
            # launches past their stopping point, long ones read the clock rarely.
            batch = int(min(2 * batch, _BATCH, max(1, nmax - queued)))
            for _ in range(batch):
                self._queue_step()
            queued += batch
            self.d_clock.copy_to_host(c)  # waits for the queued steps
            if c[DONE] > 0.5:
                return float(c[T]), int(c[N]), float(c[RATE])

    def _queue_step(self) -> None:
        args = (self.f, self.rows, self.d_params, self.d_clock, self.rmax, self.counter)
        if self.order == 2:  # two stages; the state stays in planes 0-2
            self.launch2(*args, False)
            self.launch2(*args, True)
        else:
            self.launch(*args, self.cur)
            self.cur = 1 - self.cur

    def get(self, name: str) -> np.ndarray:
        if name in ("h", "hu", "hv"):
            return self.f[3 * self.cur + _PLANE[name]].copy_to_host()
        return self.f[_PLANE[name]].copy_to_host()

    def set(self, name: str, value: np.ndarray) -> None:
        k = _PLANE[name] + (3 * self.cur if name in ("h", "hu", "hv") else 0)
        self.f[k].copy_to_device(np.ascontiguousarray(value, dtype=float))
