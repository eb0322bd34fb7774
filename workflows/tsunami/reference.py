"""Plain NumPy implementation of the same scheme as :mod:`workflows.tsunami._scheme`.

Whole-array operations, no numba: the baseline the benchmark compares against, and an
independent cross-check of the compiled kernels in the tests (same arithmetic, so the two
agree to round-off). Not meant for production runs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NumpyBackend", "face_flux", "step"]


def _vel(h: np.ndarray, q: np.ndarray, eps: float) -> np.ndarray:
    # q * (1 / h), as the compiled kernels do (one reciprocal for both velocities).
    return np.where(h > eps, q * (1.0 / np.where(h > eps, h, 1.0)), 0.0)


def face_flux(hl, ul, vl, bl, hr, ur, vr, br, g):
    """Vectorised twin of ``_scheme.face_flux``."""
    bstar = np.maximum(bl, br)
    hls = np.maximum(0.0, hl + bl - bstar)
    hrs = np.maximum(0.0, hr + br - bstar)
    cl = np.sqrt(g * hls)
    cr = np.sqrt(g * hrs)
    sl = np.minimum(ul - cl, ur - cr)
    sr = np.maximum(ul + cl, ur + cr)
    fhl, fhr = hls * ul, hrs * ur
    fnl = hls * ul * ul + 0.5 * g * hls * hls
    fnr = hrs * ur * ur + 0.5 * g * hrs * hrs
    denom = np.where(sr - sl > 0.0, sr - sl, 1.0)
    fh = (sr * fhl - sl * fhr + sl * sr * (hrs - hls)) / denom
    fn = (sr * fnl - sl * fnr + sl * sr * (hrs * ur - hls * ul)) / denom
    fh = np.where(sl >= 0.0, fhl, np.where(sr <= 0.0, fhr, fh))
    fn = np.where(sl >= 0.0, fnl, np.where(sr <= 0.0, fnr, fn))
    dry = (hls <= 0.0) & (hrs <= 0.0)
    fh = np.where(dry, 0.0, fh)
    fn = np.where(dry, 0.0, fn)
    ft = np.where(fh >= 0.0, fh * vl, fh * vr)
    return fh, fn + 0.5 * g * (hl - hls) * (hl + hls), fn + 0.5 * g * (hr - hrs) * (hr + hrs), ft


def _pad(a: np.ndarray) -> np.ndarray:
    return np.pad(a, 1, mode="edge")


def step(a: dict[str, np.ndarray], params: np.ndarray, t: float) -> float:
    """One time step on the arrays of ``a`` (in place); returns the max inverse time scale."""
    g, eps, dt, manning, closed, thr = (float(v) for v in params)
    h, b = a["h"], a["b"]
    u = _vel(h, a["hu"], eps)
    v = _vel(h, a["hv"], eps)
    hp, bp, up, vp = _pad(h), _pad(b), _pad(u), _pad(v)
    if closed > 0.5:  # reflect the normal velocity in the ghost cells
        up[:, 0], up[:, -1] = -up[:, 0], -up[:, -1]
        vp[0, :], vp[-1, :] = -vp[0, :], -vp[-1, :]
    # x faces between padded columns k and k+1, for k = 0..nx (interior rows only).
    L, R = (slice(1, -1), slice(0, -1)), (slice(1, -1), slice(1, None))
    fhx, fnlx, fnrx, ftx = face_flux(hp[L], up[L], vp[L], bp[L], hp[R], up[R], vp[R], bp[R], g)
    S, N = (slice(0, -1), slice(1, -1)), (slice(1, None), slice(1, -1))
    fhy, fnly, fnry, fty = face_flux(hp[S], vp[S], up[S], bp[S], hp[N], vp[N], up[N], bp[N], g)
    idx = a["inv_dx"][:, None]
    cn = a["cn"][:, None]
    cs = a["cs"][:, None]
    tanr = a["tanr"][:, None]
    hnew = h - dt * (idx * (fhx[:, 1:] - fhx[:, :-1]) + (cn * fhy[1:] - cs * fhy[:-1]))
    hunew = a["hu"] - dt * (idx * (fnlx[:, 1:] - fnrx[:, :-1]) + (cn * fty[1:] - cs * fty[:-1]))
    hvnew = a["hv"] - dt * (idx * (ftx[:, 1:] - ftx[:, :-1]) + (cn * fnly[1:] - cs * fnry[:-1]))
    hvnew = hvnew + dt * (0.5 * g * h * h * (cn - cs) - tanr * h * u * u)
    hunew = hunew + dt * tanr * h * u * v
    hnew = np.maximum(hnew, 0.0)
    sig = a["sigma"]
    sponge = (sig > 0.0) & (hnew > eps) & (b < 0.0)
    relax = 1.0 / (1.0 + dt * sig)
    hnew = np.where(sponge, np.maximum(0.0, (hnew + b) * relax - b), hnew)
    hunew = np.where(sponge, hunew * relax, hunew)
    hvnew = np.where(sponge, hvnew * relax, hvnew)
    wet = hnew > eps
    hsafe = np.where(wet, hnew, 1.0)
    inv_h = 1.0 / hsafe
    un2, vn2 = hunew * inv_h, hvnew * inv_h
    if manning > 0.0:
        speed = np.sqrt(un2 * un2 + vn2 * vn2)
        # 1 / h^(4/3) written as (1 / h) h^(-1/3), as in the compiled kernels.
        inv_f = 1.0 / (1.0 + dt * g * manning * manning * speed * (inv_h / np.cbrt(hsafe)))
        hunew, hvnew, un2, vn2 = hunew * inv_f, hvnew * inv_f, un2 * inv_f, vn2 * inv_f
    c = np.sqrt(g * hsafe)
    rate = np.where(
        wet, np.maximum((np.abs(un2) + c) * idx, (np.abs(vn2) + c) * a["inv_dy"][:, None]), 0.0
    )
    eta = hnew + b
    np.copyto(a["maxh"], np.where(wet & (eta > a["maxh"]), eta, a["maxh"]))
    arrived = wet & (a["arrival"] < 0.0) & (np.abs(eta - a["eta0"]) > thr)
    a["arrival"][arrived] = t + dt
    a["h"] = hnew
    a["hu"] = np.where(wet & (np.abs(hunew) >= 1e-100), hunew, 0.0)
    a["hv"] = np.where(wet & (np.abs(hvnew) >= 1e-100), hvnew, 0.0)
    return float(rate.max())


class NumpyBackend:
    """Backend protocol of :mod:`workflows.tsunami.solver` over :func:`step`."""

    name = "numpy"

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.a = arrays

    def initial_rate(self, eps: float, g: float) -> float:
        h = self.a["h"]
        wet = h > eps
        hs = np.where(wet, h, 1.0)
        c = np.sqrt(g * hs)
        ru = (np.abs(self.a["hu"] / hs) + c) * self.a["inv_dx"][:, None]
        rv = (np.abs(self.a["hv"] / hs) + c) * self.a["inv_dy"][:, None]
        return float(np.where(wet, np.maximum(ru, rv), 0.0).max())

    def step(self, params: np.ndarray, t: float) -> float:
        return step(self.a, params, t)

    def get(self, name: str) -> np.ndarray:
        return self.a[name]

    def set(self, name: str, value: np.ndarray) -> None:
        self.a[name] = np.asarray(value, dtype=float)
