"""GPU backend: the scheme's cell update as a numba.cuda kernel, one thread per cell.

Device functions are compiled from the same scalar Python functions as the CPU kernels
(:mod:`workflows.tsunami._scheme`), so both run the same float64 arithmetic; the GPU
computes each face twice (once per neighbouring cell) instead of once, and evaluates
``sqrt`` and the divisions with the device's own instructions, so results agree with the
CPU to round-off, not bit for bit. Tolerance we test and document: 1e-9 m on the surface and
1e-7 m^2/s on the momentum after tens of steps on a small grid.

The time step needs the grid-wide maximum wave speed. Each block reduces its threads' values
in shared memory and folds the result into a device slot with one atomic (one atomic per
thread on a single address serialises the whole grid). Two slots alternate between steps:
the kernel of step n clears the slot step n + 1 will use, so no extra launch or copy is
needed to reset it. Per step the host sends the step length as a kernel argument and reads
back 16 bytes into pinned memory: one launch and one small copy.

Works on real GPUs and under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GpuBackend"]

import numba
from numba import cuda  # this module is imported only when the GPU backend is chosen

from .solver import build_kernels

_DEVICE_FUNCS = (
    "velocities",
    "rcbrt",
    "face_flux",
    "flux_divergence",
    "sponge_clip",
    "friction_rate",
    "cell_sources",
    "finish_cell",
    "update_cell",
)
# 32 x 8 threads: a warp reads 32 consecutive cells of a row (coalesced); 256 per block
# (the shared-memory reduction below assumes exactly this many, a power of two).
_BLOCK = (32, 8)
_THREADS = _BLOCK[0] * _BLOCK[1]
_NPARAMS = 6
_DEV = build_kernels(_DEVICE_FUNCS, lambda name: cuda.jit(device=True), {})
_update_cell = _DEV["update_cell"]


@cuda.jit
def _step_kernel(
    h, hu, hv, b, h2, hu2, hv2, inv_dx, cn, cs, inv_dy, tanr, sigma, params, dt,
    maxh, arrival, eta0, t, rate, slot,
):  # fmt: skip
    i, j = cuda.grid(2)
    ny, nx = h.shape
    # The constant parameters with this step's length (a kernel argument, so the host never
    # copies the parameter array between steps).
    p = cuda.local.array(_NPARAMS, numba.float64)
    for k in range(_NPARAMS):
        p[k] = params[k]
    p[2] = dt
    r = 0.0
    if i < nx and j < ny:
        r = _update_cell(
            i, j, h, hu, hv, b, h2, hu2, hv2, inv_dx, cn, cs, inv_dy, tanr, sigma,
            p, maxh, arrival, eta0, t,
        )  # fmt: skip
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
        cuda.atomic.max(rate, slot, best[0])
        if cuda.blockIdx.x == 0 and cuda.blockIdx.y == 0:
            rate[1 - slot] = 0.0  # the next step's slot; no block of this step touches it


class GpuBackend:
    """Backend protocol of :mod:`workflows.tsunami.solver` on one CUDA device."""

    name = "gpu"

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.kernel = _step_kernel
        self.d = {k: cuda.to_device(np.ascontiguousarray(v)) for k, v in arrays.items()}
        for k in ("h", "hu", "hv"):
            self.d[k + "2"] = cuda.device_array_like(self.d[k])
        self.params_sent: np.ndarray | None = None
        self.d_params = cuda.to_device(np.zeros(_NPARAMS))
        self.d_rate = cuda.to_device(np.zeros(2))
        self.h_rate = cuda.pinned_array(2, dtype=np.float64)
        self.slot = 0
        self.host = arrays
        ny, nx = arrays["h"].shape
        self.grid = ((nx + _BLOCK[0] - 1) // _BLOCK[0], (ny + _BLOCK[1] - 1) // _BLOCK[1])

    def initial_rate(self, eps: float, g: float) -> float:
        from .reference import NumpyBackend

        return NumpyBackend(self.host).initial_rate(eps, g)

    def step(self, params: np.ndarray, t: float) -> float:
        d = self.d
        # Only the step length (params[2]) changes from step to step; it goes as an argument.
        constant = params.copy()
        constant[2] = 0.0
        if self.params_sent is None or not np.array_equal(constant, self.params_sent):
            self.d_params.copy_to_device(constant)
            self.params_sent = constant
        slot = self.slot
        self.kernel[self.grid, _BLOCK](
            d["h"], d["hu"], d["hv"], d["b"], d["h2"], d["hu2"], d["hv2"], d["inv_dx"],
            d["cn"], d["cs"], d["inv_dy"], d["tanr"], d["sigma"], self.d_params,
            float(params[2]), d["maxh"], d["arrival"], d["eta0"], t, self.d_rate, slot,
        )  # fmt: skip
        for k in ("h", "hu", "hv"):
            d[k], d[k + "2"] = d[k + "2"], d[k]
        self.slot = 1 - slot
        self.d_rate.copy_to_host(self.h_rate)
        return float(self.h_rate[slot])

    def get(self, name: str) -> np.ndarray:
        return self.d[name].copy_to_host()

    def set(self, name: str, value: np.ndarray) -> None:
        self.d[name] = cuda.to_device(np.ascontiguousarray(value, dtype=float))
