"""The finite-volume scheme, written once as scalar Python functions.

This module imports nothing heavy: :mod:`workflows.tsunami.solver` compiles these functions
for the CPU (``numba.njit``; :func:`faces_rows` then :func:`update_rows`, ``parallel=True``:
each face flux computed once) and for the GPU (:func:`update_cell`, one thread per cell
computing its four faces, ``numba.cuda.jit(device=True)``), rebinding the names they call
in a fresh globals table per target. Both targets run the same face and cell arithmetic
(:func:`face_flux`, :func:`finish_cell`).

Scheme (first order in space and time):

- conserved variables per unit area: ``h`` (water depth, m), ``hu`` (east), ``hv`` (north)
  (m^2/s); ``b`` is the bed elevation (m, positive up), so the free surface is ``h + b``;
- hydrostatic reconstruction at every face (Audusse et al., SIAM J. Sci. Comput. 25, 2004):
  ``b* = max(bL, bR)``, ``h*_L = max(0, hL + bL - b*)``; this keeps the lake at rest exactly
  and the depth non-negative under CFL <= 0.5;
- HLL flux (Harten, Lax & van Leer 1983) for mass and normal momentum; the tangential
  momentum is upwinded with the mass flux;
- spherical lon/lat metric: face lengths ``R dphi`` and ``R cos(phi_{j+-1/2}) dlambda``, the
  matching pressure source ``g h^2 / 2 * d(face length)`` (which keeps the lake at rest on the
  sphere), and the curvature terms ``+h u v tan(phi)/R`` and ``-h u^2 tan(phi)/R``;
- Manning friction, semi-implicit; a sponge layer relaxing the surface and momentum to rest
  near open boundaries; reflecting walls or zero-gradient open boundaries;
- the time step comes from the CFL condition on the new state (returned per cell).
"""

from __future__ import annotations

import math

import numpy as np

prange = range  # replaced by numba.prange in the CPU build

TINY = 1e-100  # momentum (m^2/s) below this is set to zero


def velocity(h, q, eps):
    """Velocity q / h, zero in cells drier than ``eps`` (desingularisation)."""
    if h > eps:
        return q / h
    return 0.0


def face_flux(hl, ul, vl, bl, hr, ur, vr, br, g):
    """Flux across one face with hydrostatic reconstruction.

    Returns (mass flux, normal momentum flux seen by the left cell, the same seen by the right
    cell, tangential momentum flux); normal = from left to right.
    """
    bstar = max(bl, br)
    hls = max(0.0, hl + bl - bstar)
    hrs = max(0.0, hr + br - bstar)
    fh = 0.0
    fn = 0.0
    if hls > 0.0 or hrs > 0.0:
        cl = math.sqrt(g * hls)
        cr = math.sqrt(g * hrs)
        sl = min(ul - cl, ur - cr)
        sr = max(ul + cl, ur + cr)
        fhl = hls * ul
        fhr = hrs * ur
        fnl = hls * ul * ul + 0.5 * g * hls * hls
        fnr = hrs * ur * ur + 0.5 * g * hrs * hrs
        if sl >= 0.0:
            fh = fhl
            fn = fnl
        elif sr <= 0.0:
            fh = fhr
            fn = fnr
        else:
            inv = 1.0 / (sr - sl)
            fh = (sr * fhl - sl * fhr + sl * sr * (hrs - hls)) * inv
            fn = (sr * fnl - sl * fnr + sl * sr * (hrs * ur - hls * ul)) * inv
    ft = fh * vl if fh >= 0.0 else fh * vr
    # Audusse's correction: each side sees the pressure of its own full depth.
    fn_left = fn + 0.5 * g * (hl - hls) * (hl + hls)
    fn_right = fn + 0.5 * g * (hr - hrs) * (hr + hrs)
    return fh, fn_left, fn_right, ft


def update_cell(  # noqa: PLR0913 - a kernel: every array is an argument
    i,
    j,
    h,
    hu,
    hv,
    b,
    h2,
    hu2,
    hv2,
    inv_dx,
    cn,
    cs,
    inv_dy,
    tanr,
    sigma,
    params,
    maxh,
    arrival,
    eta0,
    t,
):
    """Advance cell (j, i) by one step into (h2, hu2, hv2); track max height and arrival.

    ``params`` = (g, eps, dt, manning, closed, arrival_threshold). Returns the cell's inverse
    CFL time scale max((|u| + c) / dx, (|v| + c) / dy) of the new state (0 when dry).
    """
    g = params[0]
    eps = params[1]
    closed = params[4] > 0.5
    ny, nx = h.shape

    hc = h[j, i]
    bc = b[j, i]
    uc = velocity(hc, hu[j, i], eps)
    vc = velocity(hc, hv[j, i], eps)

    # West neighbour (ghost at the boundary: mirror for walls, copy for open boundaries).
    if i > 0:
        hw, bw = h[j, i - 1], b[j, i - 1]
        uw = velocity(hw, hu[j, i - 1], eps)
        vw = velocity(hw, hv[j, i - 1], eps)
    else:
        hw, bw, vw = hc, bc, vc
        uw = -uc if closed else uc
    if i < nx - 1:
        he, be = h[j, i + 1], b[j, i + 1]
        ue = velocity(he, hu[j, i + 1], eps)
        ve = velocity(he, hv[j, i + 1], eps)
    else:
        he, be, ve = hc, bc, vc
        ue = -uc if closed else uc
    if j > 0:
        hs, bs = h[j - 1, i], b[j - 1, i]
        us = velocity(hs, hu[j - 1, i], eps)
        vs = velocity(hs, hv[j - 1, i], eps)
    else:
        hs, bs, us = hc, bc, uc
        vs = -vc if closed else vc
    if j < ny - 1:
        hn, bn = h[j + 1, i], b[j + 1, i]
        un = velocity(hn, hu[j + 1, i], eps)
        vn = velocity(hn, hv[j + 1, i], eps)
    else:
        hn, bn, un = hc, bc, uc
        vn = -vc if closed else vc

    # x faces: normal velocity u, tangential v. This cell is right of W, left of E.
    fh_w, _l, fn_w, ft_w = face_flux(hw, uw, vw, bw, hc, uc, vc, bc, g)
    fh_e, fn_e, _r, ft_e = face_flux(hc, uc, vc, bc, he, ue, ve, be, g)
    # y faces: normal velocity v, tangential u.
    fh_s, _l2, fn_s, ft_s = face_flux(hs, vs, us, bs, hc, vc, uc, bc, g)
    fh_n, fn_n, _r2, ft_n = face_flux(hc, vc, uc, bc, hn, vn, un, bn, g)
    idx = inv_dx[j]
    dt = params[2]
    hnew, hunew, hvnew, rate = finish_cell(
        hc, hu[j, i], hv[j, i], bc, uc, vc,
        fh_w, fn_w, ft_w, fh_e, fn_e, ft_e, fh_s, fn_s, ft_s, fh_n, fn_n, ft_n,
        idx, cn[j], cs[j], inv_dy[j], tanr[j], sigma[j, i], g, eps, dt, params[3],
    )  # fmt: skip
    if rate > 0.0:
        eta = hnew + bc
        if eta > maxh[j, i]:
            maxh[j, i] = eta
        if arrival[j, i] < 0.0 and abs(eta - eta0[j, i]) > params[5]:
            arrival[j, i] = t + dt
    h2[j, i] = hnew
    hu2[j, i] = hunew
    hv2[j, i] = hvnew
    return rate


def finish_cell(  # noqa: PLR0913
    hc, huc, hvc, bc, uc, vc,
    fh_w, fn_w, ft_w, fh_e, fn_e, ft_e, fh_s, fn_s, ft_s, fh_n, fn_n, ft_n,
    idx, cnj, csj, inv_dyj, tanrj, sig, g, eps, dt, manning,
):  # fmt: skip
    """Flux divergence, sources, sponge and friction for one cell (scalars only).

    ``fn_w`` / ``fn_s`` are the normal momentum fluxes as seen by this cell (the right side of
    its west / south faces), ``fn_e`` / ``fn_n`` as seen from the left. Returns the new
    (h, hu, hv) and the cell's inverse CFL time scale (0 when dry).
    """
    hnew = hc - dt * (idx * (fh_e - fh_w) + (cnj * fh_n - csj * fh_s))
    hunew = huc - dt * (idx * (fn_e - fn_w) + (cnj * ft_n - csj * ft_s))
    hvnew = hvc - dt * (idx * (ft_e - ft_w) + (cnj * fn_n - csj * fn_s))
    # Sphere: pressure on the converging side walls, and curvature terms.
    hvnew += dt * (0.5 * g * hc * hc * (cnj - csj) - tanrj * hc * uc * uc)
    hunew += dt * tanrj * hc * uc * vc

    if hnew < 0.0:  # round-off only: the reconstruction keeps h >= 0 under the CFL bound
        hnew = 0.0
    if sig > 0.0 and hnew > eps and bc < 0.0:
        relax = 1.0 / (1.0 + dt * sig)
        hnew = max(0.0, (hnew + bc) * relax - bc)
        hunew *= relax
        hvnew *= relax
    rate = 0.0
    if hnew > eps:
        inv_h = 1.0 / hnew
        un2 = hunew * inv_h
        vn2 = hvnew * inv_h
        if manning > 0.0:
            speed = math.sqrt(un2 * un2 + vn2 * vn2)
            fric = 1.0 + dt * g * manning * manning * speed / hnew ** (4.0 / 3.0)
            inv_f = 1.0 / fric
            hunew *= inv_f
            hvnew *= inv_f
            un2 *= inv_f
            vn2 *= inv_f
        c = math.sqrt(g * hnew)
        rate = max((abs(un2) + c) * idx, (abs(vn2) + c) * inv_dyj)
        # Flush negligible momentum to zero: the first-order scheme spreads exponentially
        # small tails that would otherwise decay into subnormal numbers (100x slower).
        if abs(hunew) < TINY:
            hunew = 0.0
        if abs(hvnew) < TINY:
            hvnew = 0.0
    else:
        hunew = 0.0
        hvnew = 0.0
    return hnew, hunew, hvnew, rate


def velocities_rows(h, hu, hv, eps, u, v):
    """CPU pass 0: cell velocities once (each is used by four faces and the update)."""
    ny, nx = h.shape
    for j in prange(ny):
        for i in range(nx):
            u[j, i] = velocity(h[j, i], hu[j, i], eps)
            v[j, i] = velocity(h[j, i], hv[j, i], eps)


def faces_rows(h, u, v, b, params, fx, fy):
    """CPU pass 1: every face flux once. ``fx[k, j, i]``: face west of cell (j, i), i <= nx;
    ``fy[k, j, i]``: face south of cell (j, i), j <= ny; k = (mass, normal momentum seen from
    the left, the same seen from the right, tangential momentum)."""
    g = params[0]
    closed = params[4] > 0.5
    ny, nx = h.shape
    for jq in prange(ny + 1):
        j = np.int64(jq)  # the parallel loop index is unsigned: j - 1 must stay an integer
        # y faces between rows j - 1 and j (ghost rows mirror/copy at the boundaries).
        jl = j - 1 if j > 0 else 0
        jr = j if j < ny else ny - 1
        for i in range(nx):
            hl = h[jl, i]
            hr = h[jr, i]
            ul = u[jl, i]
            vl = v[jl, i]
            ur = u[jr, i]
            vr = v[jr, i]
            if j == 0 and closed:
                vl = -vr
            if j == ny and closed:
                vr = -vl
            a, bq, c, d = face_flux(hl, vl, ul, b[jl, i], hr, vr, ur, b[jr, i], g)
            fy[0, j, i] = a
            fy[1, j, i] = bq
            fy[2, j, i] = c
            fy[3, j, i] = d
        if j == ny:
            continue
        for i in range(nx + 1):
            il = i - 1 if i > 0 else 0
            ir = i if i < nx else nx - 1
            hl = h[j, il]
            hr = h[j, ir]
            ul = u[j, il]
            vl = v[j, il]
            ur = u[j, ir]
            vr = v[j, ir]
            if i == 0 and closed:
                ul = -ur
            if i == nx and closed:
                ur = -ul
            a, bq, c, d = face_flux(hl, ul, vl, b[j, il], hr, ur, vr, b[j, ir], g)
            fx[0, j, i] = a
            fx[1, j, i] = bq
            fx[2, j, i] = c
            fx[3, j, i] = d


def update_rows(
    h, hu, hv, u, v, b, h2, hu2, hv2, fx, fy,
    inv_dx, cn, cs, inv_dy, tanr, sigma, params, maxh, arrival, eta0, t, rowrate,
):  # fmt: skip
    """CPU pass 2: update every cell from the face fluxes of pass 1 (rows in parallel)."""
    g = params[0]
    eps = params[1]
    dt = params[2]
    manning = params[3]
    thr = params[5]
    ny, nx = h.shape
    for jq in prange(ny):
        j = np.int64(jq)
        best = 0.0
        for i in range(nx):
            hc = h[j, i]
            bc = b[j, i]
            hnew, hunew, hvnew, r = finish_cell(
                hc, hu[j, i], hv[j, i], bc,
                u[j, i], v[j, i],
                fx[0, j, i], fx[2, j, i], fx[3, j, i],
                fx[0, j, i + 1], fx[1, j, i + 1], fx[3, j, i + 1],
                fy[0, j, i], fy[2, j, i], fy[3, j, i],
                fy[0, j + 1, i], fy[1, j + 1, i], fy[3, j + 1, i],
                inv_dx[j], cn[j], cs[j], inv_dy[j], tanr[j], sigma[j, i], g, eps, dt, manning,
            )  # fmt: skip
            if r > 0.0:
                eta = hnew + bc
                if eta > maxh[j, i]:
                    maxh[j, i] = eta
                if arrival[j, i] < 0.0 and abs(eta - eta0[j, i]) > thr:
                    arrival[j, i] = t + dt
            h2[j, i] = hnew
            hu2[j, i] = hunew
            hv2[j, i] = hvnew
            best = max(best, r)
        rowrate[j] = best


def max_rate_rows(h, hu, hv, eps, g, inv_dx, inv_dy, rowrate):
    """Per-row inverse CFL time scale of a state (for the first time step)."""
    ny, nx = h.shape
    for jq in prange(ny):
        j = np.int64(jq)
        best = 0.0
        for i in range(nx):
            hc = h[j, i]
            if hc > eps:
                c = math.sqrt(g * hc)
                u = hu[j, i] / hc
                v = hv[j, i] / hc
                best = max(best, (abs(u) + c) * inv_dx[j], (abs(v) + c) * inv_dy[j])
        rowrate[j] = best
