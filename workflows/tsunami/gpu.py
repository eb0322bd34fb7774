"""GPU backend: the scheme's cell update as a numba.cuda kernel, one thread per cell.

Device functions are compiled from the same scalar Python functions as the CPU kernels
(:mod:`workflows.tsunami._scheme`), so both run the same float64 arithmetic; the GPU
computes each face twice (once per neighbouring cell) instead of once, and evaluates
``x ** (4/3)`` and ``sqrt`` with the device's libdevice, so results agree with the CPU to
round-off, not bit for bit. Tolerance we test and document: 1e-9 m on the surface and
1e-7 m^2/s on the momentum after tens of steps on a small grid.

The time step needs the grid-wide maximum wave speed: each thread folds its cell's value
into a one-element device array with ``cuda.atomic.max``; that one number is copied back per
step. Works on real GPUs and under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GpuBackend"]

from numba import cuda  # this module is imported only when the GPU backend is chosen

from .solver import build_kernels

_DEVICE_FUNCS = (
    "velocities",
    "rcbrt",
    "face_flux",
    "flux_divergence",
    "cell_sources",
    "finish_cell",
    "update_cell",
)
_BLOCK = (32, 8)
_DEV = build_kernels(_DEVICE_FUNCS, lambda name: cuda.jit(device=True), {})
_update_cell = _DEV["update_cell"]


@cuda.jit
def _step_kernel(
    h, hu, hv, b, h2, hu2, hv2, inv_dx, cn, cs, inv_dy, tanr, sigma, params,
    maxh, arrival, eta0, t, rate,
):  # fmt: skip
    i, j = cuda.grid(2)
    ny, nx = h.shape
    if i < nx and j < ny:
        r = _update_cell(
            i, j, h, hu, hv, b, h2, hu2, hv2, inv_dx, cn, cs, inv_dy, tanr, sigma,
            params, maxh, arrival, eta0, t,
        )  # fmt: skip
        cuda.atomic.max(rate, 0, r)


class GpuBackend:
    """Backend protocol of :mod:`workflows.tsunami.solver` on one CUDA device."""

    name = "gpu"

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.kernel = _step_kernel
        self.d = {k: cuda.to_device(np.ascontiguousarray(v)) for k, v in arrays.items()}
        for k in ("h", "hu", "hv"):
            self.d[k + "2"] = cuda.device_array_like(self.d[k])
        self.d_params = cuda.to_device(np.zeros(6))
        self.d_rate = cuda.to_device(np.zeros(1))
        self.host = arrays
        ny, nx = arrays["h"].shape
        self.grid = ((nx + _BLOCK[0] - 1) // _BLOCK[0], (ny + _BLOCK[1] - 1) // _BLOCK[1])
        self.zero = np.zeros(1)

    def initial_rate(self, eps: float, g: float) -> float:
        from .reference import NumpyBackend

        return NumpyBackend(self.host).initial_rate(eps, g)

    def step(self, params: np.ndarray, t: float) -> float:
        d = self.d
        self.d_params.copy_to_device(params)
        self.d_rate.copy_to_device(self.zero)
        self.kernel[self.grid, _BLOCK](
            d["h"], d["hu"], d["hv"], d["b"], d["h2"], d["hu2"], d["hv2"], d["inv_dx"],
            d["cn"], d["cs"], d["inv_dy"], d["tanr"], d["sigma"], self.d_params, d["maxh"],
            d["arrival"], d["eta0"], t, self.d_rate,
        )  # fmt: skip
        for k in ("h", "hu", "hv"):
            d[k], d[k + "2"] = d[k + "2"], d[k]
        return float(self.d_rate.copy_to_host()[0])

    def get(self, name: str) -> np.ndarray:
        return self.d[name].copy_to_host()

    def set(self, name: str, value: np.ndarray) -> None:
        self.d[name] = cuda.to_device(np.ascontiguousarray(value, dtype=float))
