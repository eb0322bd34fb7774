"""The finite-volume scheme, written once as scalar Python functions.

This module imports nothing heavy: :mod:`workflows.tsunami.solver` compiles these functions
for the CPU (``numba.njit``: :func:`advance` runs many steps in one call; each step,
:func:`step_rows` (``parallel=True``) gives every thread a band of rows and sweeps it once,
each face flux computed once into row buffers and each row updated right away) and for the
GPU (:func:`update_cell`, one thread per cell computing its four faces,
``numba.cuda.jit(device=True)``), rebinding the names they call in a fresh globals table
per target. Both targets run the same face and cell arithmetic (:func:`face_flux`,
:func:`flux_divergence`, :func:`cell_sources`).

Performance notes (CPU): the row loops must vectorise (AVX2: 4 cells at a time), so the
scalar functions use selects instead of branches (every case computed, one picked), are
inlined (``inline="always"``), and call no libm function but ``sqrt`` (:func:`rcbrt`
replaces ``pow``). Of fastmath only FMA contraction (``a * b + c`` rounded once, as GPUs
do by default; ~8 % faster): no reassociation, as the lake at rest relies on exact
cancellations. What is left is bound by arithmetic latency (long chains of dependent
operations: the friction cube root gets a loop of its own, see :func:`update_row`), not by
memory: the arrays of a 240 x 240 grid stay in cache.

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


def velocities(h, hu, hv, eps):
    """Velocities (hu / h, hv / h), zero in cells drier than ``eps`` (desingularisation)."""
    # One reciprocal for both, and selects (not a branch) so loops over cells vectorise.
    inv = 1.0 / max(h, eps)
    wet = h > eps
    return (hu * inv if wet else 0.0), (hv * inv if wet else 0.0)


def rcbrt(x):
    """``x ** (-1/3)`` for 2**-45 <= x < 2**51, to a few ulps, with multiplies and selects only.

    Manning friction needs ``h ** (4/3)`` in every wet cell of every step; the libm ``pow``
    call used before cost ~40 ns (more than the rest of the cell update) and, being an
    opaque call, kept the update loop from vectorising. ``1 / h ** (4/3)`` is ``(1 / h) *
    rcbrt(h)``. The argument is a water depth in metres, at least ``dry_eps`` (kept at or
    above 1e-12 m, over 2**-45, by :class:`~workflows.tsunami.solver.SolverConfig`) and far
    below 2**51 m. Method: scale x by 2**45 into [1, 8**32), then by powers of 8 into [1, 8)
    (exact: a five-stage binary search on the octave, with selects), a quintic first guess
    (0.44 % off), then three Newton steps ``y (4 - m y^3) / 3`` (the error goes 4e-3, 4e-5,
    3e-9, then below round-off; no division). It is still a long chain of dependent
    operations, which is why :func:`update_row` gives it a loop of its own.
    """
    m = x * 35184372088832.0  # 2**45
    s = 32768.0  # x**(-1/3) = m**(-1/3) * 2**15
    c = m >= 281474976710656.0  # 8**16
    m = m * 3.552713678800501e-15 if c else m
    s = s * 1.52587890625e-05 if c else s
    c = m >= 16777216.0  # 8**8
    m = m * 5.960464477539063e-08 if c else m
    s = s * 0.00390625 if c else s
    c = m >= 4096.0  # 8**4
    m = m * 0.000244140625 if c else m
    s = s * 0.0625 if c else s
    c = m >= 64.0  # 8**2
    m = m * 0.015625 if c else m
    s = s * 0.25 if c else s
    c = m >= 8.0
    m = m * 0.125 if c else m
    s = s * 0.5 if c else s
    # Least-squares fit of m**(-1/3) on [1, 8) (relative error under 0.44 %).
    y = 1.404547332001673 + m * (
        -0.562266322771313
        + m
        * (
            0.18392702795386484
            + m * (-0.033514716186536585 + m * (0.003101752574941649 - m * 0.00011364266805491408))
        )
    )
    third = 1.0 / 3.0
    y = y * (4.0 - m * y * y * y) * third
    y = y * (4.0 - m * y * y * y) * third
    y = y * (4.0 - m * y * y * y) * third
    return y * s


def face_flux(hl, ul, vl, bl, hr, ur, vr, br, g):
    """Flux across one face with hydrostatic reconstruction.

    Returns (mass flux, normal momentum flux seen by the left cell, the same seen by the right
    cell, tangential momentum flux); normal = from left to right.
    """
    bstar = max(bl, br)
    hls = max(0.0, hl + bl - bstar)
    hrs = max(0.0, hr + br - bstar)
    # Every candidate is computed and the HLL case picked by selects, not branches, so loops
    # over faces vectorise; the arithmetic of each case is unchanged. The discarded
    # candidates are finite garbage on dry faces (sr == sl there), never used.
    cl = math.sqrt(g * hls)
    cr = math.sqrt(g * hrs)
    sl = min(ul - cl, ur - cr)
    sr = max(ul + cl, ur + cr)
    fhl = hls * ul
    fhr = hrs * ur
    fnl = hls * ul * ul + 0.5 * g * hls * hls
    fnr = hrs * ur * ur + 0.5 * g * hrs * hrs
    inv = 1.0 / max(sr - sl, 1e-300)
    fh_hll = (sr * fhl - sl * fhr + sl * sr * (hrs - hls)) * inv
    fn_hll = (sr * fnl - sl * fnr + sl * sr * (hrs * ur - hls * ul)) * inv
    fh = fhl if sl >= 0.0 else (fhr if sr <= 0.0 else fh_hll)
    fn = fnl if sl >= 0.0 else (fnr if sr <= 0.0 else fn_hll)
    wet = hls > 0.0 or hrs > 0.0
    fh = fh if wet else 0.0
    fn = fn if wet else 0.0
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
    uc, vc = velocities(hc, hu[j, i], hv[j, i], eps)

    # West neighbour (ghost at the boundary: mirror for walls, copy for open boundaries).
    if i > 0:
        hw, bw = h[j, i - 1], b[j, i - 1]
        uw, vw = velocities(hw, hu[j, i - 1], hv[j, i - 1], eps)
    else:
        hw, bw, vw = hc, bc, vc
        uw = -uc if closed else uc
    if i < nx - 1:
        he, be = h[j, i + 1], b[j, i + 1]
        ue, ve = velocities(he, hu[j, i + 1], hv[j, i + 1], eps)
    else:
        he, be, ve = hc, bc, vc
        ue = -uc if closed else uc
    if j > 0:
        hs, bs = h[j - 1, i], b[j - 1, i]
        us, vs = velocities(hs, hu[j - 1, i], hv[j - 1, i], eps)
    else:
        hs, bs, us = hc, bc, uc
        vs = -vc if closed else vc
    if j < ny - 1:
        hn, bn = h[j + 1, i], b[j + 1, i]
        un, vn = velocities(hn, hu[j + 1, i], hv[j + 1, i], eps)
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
    """Flux divergence, sources, sponge and friction for one cell (scalars only):
    :func:`flux_divergence` then :func:`cell_sources`. Returns the new (h, hu, hv) and the
    cell's inverse CFL time scale (0 when dry)."""
    hnew, hunew, hvnew = flux_divergence(
        hc, huc, hvc, uc, vc,
        fh_w, fn_w, ft_w, fh_e, fn_e, ft_e, fh_s, fn_s, ft_s, fh_n, fn_n, ft_n,
        idx, cnj, csj, tanrj, g, dt,
    )  # fmt: skip
    return cell_sources(hnew, hunew, hvnew, bc, sig, idx, inv_dyj, g, eps, dt, manning)


def flux_divergence(  # noqa: PLR0913
    hc, huc, hvc, uc, vc,
    fh_w, fn_w, ft_w, fh_e, fn_e, ft_e, fh_s, fn_s, ft_s, fh_n, fn_n, ft_n,
    idx, cnj, csj, tanrj, g, dt,
):  # fmt: skip
    """Explicit update of one cell by its face fluxes and the spherical source terms.

    ``fn_w`` / ``fn_s`` are the normal momentum fluxes as seen by this cell (the right side of
    its west / south faces), ``fn_e`` / ``fn_n`` as seen from the left.
    """
    hnew = hc - dt * (idx * (fh_e - fh_w) + (cnj * fh_n - csj * fh_s))
    hunew = huc - dt * (idx * (fn_e - fn_w) + (cnj * ft_n - csj * ft_s))
    hvnew = hvc - dt * (idx * (ft_e - ft_w) + (cnj * fn_n - csj * fn_s))
    # Sphere: pressure on the converging side walls, and curvature terms.
    hvnew += dt * (0.5 * g * hc * hc * (cnj - csj) - tanrj * hc * uc * uc)
    hunew += dt * tanrj * hc * uc * vc
    return hnew, hunew, hvnew


def cell_sources(hnew, hunew, hvnew, bc, sig, idx, inv_dyj, g, eps, dt, manning):
    """Positivity clip, sponge, semi-implicit Manning friction and dry-cell cleanup of one
    updated cell; returns (h, hu, hv, inverse CFL time scale, 0 when dry). The CPU row
    kernel runs the three parts in separate loops (see :func:`update_row`)."""
    hnew, hunew, hvnew = sponge_clip(hnew, hunew, hvnew, bc, sig, eps, dt)
    rc = rcbrt(max(hnew, eps)) if manning > 0.0 else 0.0
    return friction_rate(hnew, hunew, hvnew, rc, idx, inv_dyj, g, eps, dt, manning)


def sponge_clip(hnew, hunew, hvnew, bc, sig, eps, dt):
    """Positivity clip and sponge-layer relaxation of one updated cell."""
    if hnew < 0.0:  # round-off only: the reconstruction keeps h >= 0 under the CFL bound
        hnew = 0.0
    # From here on every quantity is computed for every cell and the dry / sponge cases are
    # picked by selects (no branches: loops over cells vectorise). For wet cells the
    # arithmetic is exactly that of the plain formulas; dry cells discard the values.
    relax = 1.0 / (1.0 + dt * sig)
    sponge = sig > 0.0 and hnew > eps and bc < 0.0
    hnew = max(0.0, (hnew + bc) * relax - bc) if sponge else hnew
    hunew = hunew * relax if sponge else hunew
    hvnew = hvnew * relax if sponge else hvnew
    return hnew, hunew, hvnew


def friction_rate(hnew, hunew, hvnew, rc, idx, inv_dyj, g, eps, dt, manning):
    """Semi-implicit Manning friction, the cell's inverse CFL time scale (0 when dry) and the
    dry-cell cleanup; ``rc`` is ``rcbrt(max(hnew, eps))`` (unused without friction)."""
    wet = hnew > eps
    hs = max(hnew, eps)  # == hnew in wet cells
    inv_h = 1.0 / hs
    un2 = hunew * inv_h
    vn2 = hvnew * inv_h
    if manning > 0.0:  # the same for every cell: hoisted out of loops by the compiler
        speed = math.sqrt(un2 * un2 + vn2 * vn2)
        # 1 / h^(4/3) = (1 / h) h^(-1/3): no pow, no further division.
        inv_f = 1.0 / (1.0 + dt * g * manning * manning * speed * (inv_h * rc))
        hunew *= inv_f
        hvnew *= inv_f
        un2 *= inv_f
        vn2 *= inv_f
    c = math.sqrt(g * hs)
    rate = max((abs(un2) + c) * idx, (abs(vn2) + c) * inv_dyj) if wet else 0.0
    # Flush negligible momentum to zero: the first-order scheme spreads exponentially small
    # tails that would otherwise decay into subnormal numbers (100x slower).
    hunew = hunew if wet and abs(hunew) >= TINY else 0.0
    hvnew = hvnew if wet and abs(hvnew) >= TINY else 0.0
    return hnew, hunew, hvnew, rate


def velocities_row(h, hu, hv, eps, u, v):
    """Velocities of one row (each is used by four faces and the update)."""
    for i in range(h.shape[0]):
        a, b = velocities(h[i], hu[i], hv[i], eps)
        u[i] = a
        v[i] = b


def yfaces_row(hl, ul, vl, bl, sl, hr, ur, vr, br, sr, g, fh, fnl, fnr, ft):
    """Fluxes across the faces between two rows (south ``l``, north ``r``): normal velocity
    v, tangential u. ``sl`` / ``sr`` multiply the normal velocity of each side: -1 turns a
    ghost row (the row itself passed twice) into a mirror for reflecting walls."""
    for i in range(hl.shape[0]):
        a, b, c, d = face_flux(hl[i], sl * vl[i], ul[i], bl[i], hr[i], sr * vr[i], ur[i], br[i], g)
        fh[i] = a
        fnl[i] = b
        fnr[i] = c
        ft[i] = d


def xfaces_row(h, u, v, b, g, closed, fh, fnl, fnr, ft):
    """Fluxes across the nx + 1 faces of one row; face i is west of cell i."""
    nx = h.shape[0]
    for i in range(1, nx):  # interior faces: no ghost logic, so the loop vectorises
        a, bq, c, d = face_flux(h[i - 1], u[i - 1], v[i - 1], b[i - 1], h[i], u[i], v[i], b[i], g)
        fh[i] = a
        fnl[i] = bq
        fnr[i] = c
        ft[i] = d
    # Ghost cells: mirror (walls) or copy (open) of the edge cell.
    sgn = -1.0 if closed else 1.0
    a, bq, c, d = face_flux(h[0], sgn * u[0], v[0], b[0], h[0], u[0], v[0], b[0], g)
    fh[0] = a
    fnl[0] = bq
    fnr[0] = c
    ft[0] = d
    k = nx - 1
    a, bq, c, d = face_flux(h[k], u[k], v[k], b[k], h[k], sgn * u[k], v[k], b[k], g)
    fh[nx] = a
    fnl[nx] = bq
    fnr[nx] = c
    ft[nx] = d


def update_row(  # noqa: PLR0913 - a kernel: every array is an argument
    h, hu, hv, u, v, b, h2, hu2, hv2, fx, fs, fn, sigma, maxh, arrival, eta0,
    idx, cnj, csj, inv_dyj, tanrj, g, eps, dt, manning, thr, t, rate,
):  # fmt: skip
    """Update one row from its face fluxes (``fx`` x faces, ``fs`` / ``fn`` its south and
    north faces, rows k = mass, normal momentum seen from the left / right, tangential);
    ``rate[i]``: each cell's inverse CFL time scale (used as scratch for the cube roots
    first). ``maxh`` and ``arrival`` are written
    unconditionally (a select, not a branch) and the maximum of ``rate`` is left to
    :func:`row_max`, so this loop vectorises."""
    # Two loops, not one: each keeps few enough values live to stay in registers once
    # vectorised (the fused loop spilled heavily).
    for i in range(h.shape[0]):
        hnew, hunew, hvnew = flux_divergence(
            h[i], hu[i], hv[i], u[i], v[i],
            fx[0, i], fx[2, i], fx[3, i], fx[0, i + 1], fx[1, i + 1], fx[3, i + 1],
            fs[0, i], fs[2, i], fs[3, i], fn[0, i], fn[1, i], fn[3, i],
            idx, cnj, csj, tanrj, g, dt,
        )  # fmt: skip
        h2[i] = hnew
        hu2[i] = hunew
        hv2[i] = hvnew
    # The cube root of the friction term is a long chain of dependent operations: in a loop
    # of its own (with the sponge, which it depends on) the processor overlaps the chains of
    # successive cells; inside the big loop below it could not (measured: ~15 % faster).
    for i in range(h.shape[0]):
        hnew, hunew, hvnew = sponge_clip(h2[i], hu2[i], hv2[i], b[i], sigma[i], eps, dt)
        h2[i] = hnew
        hu2[i] = hunew
        hv2[i] = hvnew
    if manning > 0.0:
        for i in range(h.shape[0]):
            rate[i] = rcbrt(max(h2[i], eps))
    for i in range(h.shape[0]):
        bc = b[i]
        hnew, hunew, hvnew, r = friction_rate(
            h2[i], hu2[i], hv2[i], rate[i], idx, inv_dyj, g, eps, dt, manning
        )
        eta = hnew + bc
        wet = r > 0.0
        m = maxh[i]
        maxh[i] = eta if wet and eta > m else m
        arr = arrival[i]
        arrival[i] = t + dt if wet and arr < 0.0 and abs(eta - eta0[i]) > thr else arr
        h2[i] = hnew
        hu2[i] = hunew
        hv2[i] = hvnew
        rate[i] = r


def row_max(a, n):
    """max(0, a[:n]); compiled with the no-NaN flag so the reduction vectorises (the rates
    are finite by construction; no arithmetic is reassociated)."""
    best = 0.0
    for i in range(n):
        best = max(best, a[i])
    return best


def step_rows(  # noqa: PLR0913
    h, hu, hv, b, h2, hu2, hv2, inv_dx, cn, cs, inv_dy, tanr, sigma, params,
    maxh, arrival, eta0, t, work, chunkrate,
):  # fmt: skip
    """One time step on the CPU, fused: each thread sweeps a band of rows once, computing
    every face flux once into small row buffers (``work[c]``, reused, so nothing is
    allocated per step) and updating the row right away. Only the south faces of a band's
    first row are computed twice (by both bands). ``chunkrate[c]``: the band's largest
    inverse CFL time scale of the new state."""
    g = params[0]
    eps = params[1]
    dt = params[2]
    manning = params[3]
    closed = params[4] > 0.5
    thr = params[5]
    sgn = -1.0 if closed else 1.0
    ny, nx = h.shape
    nchunks = chunkrate.shape[0]
    for cq in prange(nchunks):
        c = np.int64(cq)  # the parallel loop index is unsigned
        j0 = c * ny // nchunks
        j1 = (c + 1) * ny // nchunks
        w = work[c]
        # Whole rows of the scratch (nx + 1 long): full-row views keep numba's contiguous
        # layout, which the loop vectoriser needs.
        uc, vc, un, vn = w[0], w[1], w[2], w[3]
        fx = w[4:8]
        fs = w[8:12]
        fn = w[12:16]
        best = 0.0
        if j1 > j0:
            velocities_row(h[j0], hu[j0], hv[j0], eps, uc, vc)
            if j0 == 0:  # ghost row south of the domain
                yfaces_row(h[0], uc, vc, b[0], sgn, h[0], uc, vc, b[0], 1.0, g,
                           fs[0], fs[1], fs[2], fs[3])  # fmt: skip
            else:  # the neighbouring band's last row (its velocities go in un / vn)
                jm = j0 - 1
                velocities_row(h[jm], hu[jm], hv[jm], eps, un, vn)
                yfaces_row(h[jm], un, vn, b[jm], 1.0, h[j0], uc, vc, b[j0], 1.0, g,
                           fs[0], fs[1], fs[2], fs[3])  # fmt: skip
        for j in range(j0, j1):
            if j + 1 < ny:
                jp = j + 1
                velocities_row(h[jp], hu[jp], hv[jp], eps, un, vn)
                yfaces_row(h[j], uc, vc, b[j], 1.0, h[jp], un, vn, b[jp], 1.0, g,
                           fn[0], fn[1], fn[2], fn[3])  # fmt: skip
            else:  # ghost row north of the domain
                yfaces_row(h[j], uc, vc, b[j], 1.0, h[j], uc, vc, b[j], sgn, g,
                           fn[0], fn[1], fn[2], fn[3])  # fmt: skip
            xfaces_row(h[j], uc, vc, b[j], g, closed, fx[0], fx[1], fx[2], fx[3])
            update_row(
                h[j], hu[j], hv[j], uc, vc, b[j], h2[j], hu2[j], hv2[j], fx, fs, fn,
                sigma[j], maxh[j], arrival[j], eta0[j],
                inv_dx[j], cn[j], cs[j], inv_dy[j], tanr[j], g, eps, dt, manning, thr, t, w[16],
            )  # fmt: skip
            best = max(best, row_max(w[16], nx))
            # This row's north faces and the next row's velocities become the next row's
            # south faces and own velocities: swap the buffers, no copy.
            fs, fn = fn, fs
            uc, un = un, uc
            vc, vn = vn, vc
        chunkrate[c] = best


def advance(  # noqa: PLR0913
    h, hu, hv, b, h2, hu2, hv2, inv_dx, cn, cs, inv_dy, tanr, sigma, params,
    maxh, arrival, eta0, work, chunkrate, t, rate, cfl, t_end, t_poi, nmax,
):  # fmt: skip
    """Many time steps in one compiled call (no Python between steps): step until ``t``
    reaches ``t_end`` (the next snapshot or the end; the last step is shortened to land on
    it) or ``t_poi`` (the next point sample), or ``nmax`` steps. The state ping-pongs
    between (h, hu, hv) and (h2, hu2, hv2): after an odd number of steps it is in the
    second set. Returns (t, steps taken, inverse time scale for the next step)."""
    n = 0
    while True:
        dt = min(cfl / rate, t_end - t)
        params[2] = dt
        step_rows(h, hu, hv, b, h2, hu2, hv2, inv_dx, cn, cs, inv_dy, tanr, sigma, params,
                  maxh, arrival, eta0, t, work, chunkrate)  # fmt: skip
        h, h2 = h2, h
        hu, hu2 = hu2, hu
        hv, hv2 = hv2, hv
        t += dt
        n += 1
        r = chunkrate.max()
        if r > 0.0:
            rate = r
        if t >= t_end - 1e-9 or t >= t_poi - 1e-9 or n >= nmax:
            return t, n, rate


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
