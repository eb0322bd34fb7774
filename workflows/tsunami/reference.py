"""Plain NumPy implementation of the same scheme as :mod:`workflows.tsunami._scheme`.

Whole-array operations, no numba: the baseline the benchmark compares against, and an
independent cross-check of the compiled kernels in the tests (same arithmetic, so the two
agree to round-off). Not meant for production runs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NumpyBackend", "face_flux", "step", "step2"]


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
    g, eps, dt, manning, closed, thr = (float(v) for v in params[:6])
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


# -- second order (MUSCL + hydrostatic reconstruction + SSP-RK2), see ``_muscl`` --------


def half_slopes(q: np.ndarray, ok: np.ndarray, theta: float, axis: int) -> np.ndarray:
    """Half of the limited slope of ``q`` along ``axis`` (generalised minmod with ``theta``),
    zero where ``ok`` is false and in the first and last cells along the axis."""
    d = np.diff(q, axis=axis)
    zero = np.zeros_like(np.take(q, [0], axis=axis))
    dl = np.concatenate([zero, d], axis=axis)  # q_i - q_{i-1}
    dr = np.concatenate([d, zero], axis=axis)  # q_{i+1} - q_i
    m = np.minimum(theta * np.minimum(np.abs(dl), np.abs(dr)), 0.5 * np.abs(dl + dr))
    s = np.where(dl > 0.0, m, -m)
    return np.where(ok & (dl * dr > 0.0), 0.5 * s, 0.0)


def _stencil_ok(wet: np.ndarray, axis: int) -> np.ndarray:
    """True where the cell and both neighbours along ``axis`` are wet, inside the grid."""
    n = wet.shape[axis]
    ok = wet.copy()
    if n < 3:
        return np.zeros_like(wet)
    lo = [slice(None)] * 2
    hi = [slice(None)] * 2
    mid = [slice(None)] * 2
    lo[axis], mid[axis], hi[axis] = slice(0, -2), slice(1, -1), slice(2, None)
    inner = wet[tuple(lo)] & wet[tuple(mid)] & wet[tuple(hi)]
    ok[...] = False
    ok[tuple(mid)] = inner
    return ok


def rhs2(a: dict[str, np.ndarray], h, hu, hv, params: np.ndarray):
    """Flux divergence and sources (second order in space) of the state (h, hu, hv)."""
    g, eps = float(params[0]), float(params[1])
    closed, theta = float(params[4]), float(params[6])
    b = a["b"]
    u, v = _vel(h, hu, eps), _vel(h, hv, eps)
    eta = h + b
    wet = h > eps
    ok_x, ok_y = _stencil_ok(wet, 1), _stencil_ok(wet, 0)
    sx = {k: half_slopes(q, ok_x, theta, 1) for k, q in (("h", h), ("e", eta), ("u", u), ("v", v))}
    sy = {k: half_slopes(q, ok_y, theta, 0) for k, q in (("h", h), ("e", eta), ("u", u), ("v", v))}
    # Face states of every cell: east / west, north / south.
    he, hw = h + sx["h"], h - sx["h"]
    be, bw = (eta + sx["e"]) - he, (eta - sx["e"]) - hw
    ue, uw, ve, vw = u + sx["u"], u - sx["u"], v + sx["v"], v - sx["v"]
    hn, hs = h + sy["h"], h - sy["h"]
    bn, bs = (eta + sy["e"]) - hn, (eta - sy["e"]) - hs
    un, us, vn, vs = u + sy["u"], u - sy["u"], v + sy["v"], v - sy["v"]
    sgn = -1.0 if closed > 0.5 else 1.0
    # x faces k = 0..nx: left = east state of cell k-1 (ghost: the mirrored west state of 0).
    hl = np.concatenate([hw[:, :1], he], axis=1)
    bl = np.concatenate([bw[:, :1], be], axis=1)
    ul = np.concatenate([sgn * uw[:, :1], ue], axis=1)
    vl = np.concatenate([vw[:, :1], ve], axis=1)
    hr = np.concatenate([hw, he[:, -1:]], axis=1)
    br = np.concatenate([bw, be[:, -1:]], axis=1)
    ur = np.concatenate([uw, sgn * ue[:, -1:]], axis=1)
    vr = np.concatenate([vw, ve[:, -1:]], axis=1)
    fhx, fnlx, fnrx, ftx = face_flux(hl, ul, vl, bl, hr, ur, vr, br, g)
    # y faces k = 0..ny (normal velocity v, tangential u).
    hl = np.concatenate([hs[:1], hn], axis=0)
    bl = np.concatenate([bs[:1], bn], axis=0)
    vl = np.concatenate([sgn * vs[:1], vn], axis=0)
    ul = np.concatenate([us[:1], un], axis=0)
    hr = np.concatenate([hs, hn[-1:]], axis=0)
    br = np.concatenate([bs, bn[-1:]], axis=0)
    vr = np.concatenate([vs, sgn * vn[-1:]], axis=0)
    ur = np.concatenate([us, un[-1:]], axis=0)
    fhy, fnly, fnry, fty = face_flux(hl, vl, ul, bl, hr, vr, ur, br, g)
    idx = a["inv_dx"][:, None]
    cn = a["cn"][:, None]
    cs = a["cs"][:, None]
    tanr = a["tanr"][:, None]
    dh = -(idx * (fhx[:, 1:] - fhx[:, :-1]) + (cn * fhy[1:] - cs * fhy[:-1]))
    dhu = -(idx * (fnlx[:, 1:] - fnrx[:, :-1]) + (cn * fty[1:] - cs * fty[:-1]))
    dhv = -(idx * (ftx[:, 1:] - ftx[:, :-1]) + (cn * fnly[1:] - cs * fnry[:-1]))
    dhu = dhu - idx * (0.5 * g) * (hw + he) * (be - bw) + tanr * h * u * v
    dhv = (dhv - (0.5 * (cn + cs)) * (0.5 * g) * (hs + hn) * (bn - bs)
           + (0.25 * g) * (hn * hn + hs * hs) * (cn - cs) - tanr * h * u * u)  # fmt: skip
    return dh, dhu, dhv


def _stage_sources(a, hnew, hunew, hvnew, params, dt):
    """Positivity clip, sponge and Manning friction of one stage (as the first-order step)."""
    g, eps, manning = float(params[0]), float(params[1]), float(params[3])
    b, sig = a["b"], a["sigma"]
    hnew = np.maximum(hnew, 0.0)
    sponge = (sig > 0.0) & (hnew > eps) & (b < 0.0)
    relax = 1.0 / (1.0 + dt * sig)
    hnew = np.where(sponge, np.maximum(0.0, (hnew + b) * relax - b), hnew)
    hunew = np.where(sponge, hunew * relax, hunew)
    hvnew = np.where(sponge, hvnew * relax, hvnew)
    wet = hnew > eps
    hsafe = np.where(wet, hnew, eps)
    inv_h = 1.0 / hsafe
    if manning > 0.0:
        speed = np.sqrt((hunew * inv_h) ** 2 + (hvnew * inv_h) ** 2)
        inv_f = 1.0 / (1.0 + dt * g * manning * manning * speed * (inv_h / np.cbrt(hsafe)))
        hunew, hvnew = hunew * inv_f, hvnew * inv_f
    hunew = np.where(wet & (np.abs(hunew) >= 1e-100), hunew, 0.0)
    hvnew = np.where(wet & (np.abs(hvnew) >= 1e-100), hvnew, 0.0)
    return hnew, hunew, hvnew


def step2(a: dict[str, np.ndarray], params: np.ndarray, t: float) -> float:
    """One second-order step (SSP-RK2: Heun) on the arrays of ``a``; returns the max inverse
    time scale of the new state."""
    g, eps, dt, thr = float(params[0]), float(params[1]), float(params[2]), float(params[5])
    h0, hu0, hv0 = a["h"], a["hu"], a["hv"]
    d = rhs2(a, h0, hu0, hv0, params)
    h1, hu1, hv1 = _stage_sources(a, h0 + dt * d[0], hu0 + dt * d[1], hv0 + dt * d[2], params, dt)
    d = rhs2(a, h1, hu1, hv1, params)
    h2, hu2, hv2 = _stage_sources(a, h1 + dt * d[0], hu1 + dt * d[1], hv1 + dt * d[2], params, dt)
    h = 0.5 * h0 + 0.5 * h2
    hu = 0.5 * hu0 + 0.5 * hu2
    hv = 0.5 * hv0 + 0.5 * hv2
    wet = h > eps
    hsafe = np.where(wet, h, 1.0)
    c = np.sqrt(g * hsafe)
    rate = np.where(
        wet,
        np.maximum(
            (np.abs(hu / hsafe) + c) * a["inv_dx"][:, None],
            (np.abs(hv / hsafe) + c) * a["inv_dy"][:, None],
        ),
        0.0,
    )
    b = a["b"]
    eta = h + b
    np.copyto(a["maxh"], np.where(wet & (eta > a["maxh"]), eta, a["maxh"]))
    arrived = wet & (a["arrival"] < 0.0) & (np.abs(eta - a["eta0"]) > thr)
    a["arrival"][arrived] = t + dt
    a["h"] = h
    a["hu"] = np.where(wet & (np.abs(hu) >= 1e-100), hu, 0.0)
    a["hv"] = np.where(wet & (np.abs(hv) >= 1e-100), hv, 0.0)
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
        if params[7] >= 2.0:
            return step2(self.a, params, t)
        return step(self.a, params, t)

    def get(self, name: str) -> np.ndarray:
        return self.a[name]

    def set(self, name: str, value: np.ndarray) -> None:
        self.a[name] = np.asarray(value, dtype=float)
