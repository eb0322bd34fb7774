"""The second-order scheme, written once as scalar Python functions (compiled as
:mod:`workflows.tsunami._scheme` is: see that module for the CPU and GPU builds and the
performance rules the functions follow: selects instead of branches, no libm call but
``sqrt``).

Scheme (second order in space and time; ``SolverConfig(order=2)``, the default):

- MUSCL reconstruction (van Leer 1979) of the free surface ``eta = h + b``, the depth ``h``
  and the velocities ``u``, ``v`` at the four faces of every cell, with the generalised
  minmod limiter ``minmod(theta dl, (dl + dr) / 2, theta dr)`` (``theta`` from 1, minmod, to
  2, MC; Kurganov & Petrova 2007); the bed at a face is ``eta_face - h_face``. Limited face
  values stay between the neighbours' values, so face depths are never negative. The slope
  is zero next to a dry cell and in the first and last cell of each direction, where the
  scheme falls back to first order (wetting and drying stay robust);
- the hydrostatic reconstruction of Audusse et al. (SIAM J. Sci. Comput. 25, 2004) at every
  face from those face values, with the same HLL flux as the first-order scheme, plus the
  centred bed source of their second-order extension, ``-g (h_W + h_E) / 2 (b_E - b_W) / dx``
  per direction. On the sphere the pressure term on the converging side walls uses the mean
  of the two face pressures, ``g (h_N^2 + h_S^2) / 4 (cn - cs)``, so that with the centred
  source the lake at rest is kept exactly (the face terms cancel as ``eta_N - eta_S = 0``);
- two-stage strong-stability-preserving Runge-Kutta in time (Heun; Shu & Osher 1988):
  ``U1 = S(U + dt L(U))``, ``U_new = (U + S(U1 + dt L(U1))) / 2``, where ``S`` is the
  positivity clip, the sponge and the semi-implicit Manning friction of each stage. A convex
  combination of non-negative depths stays non-negative.

Each step runs, per stage, two passes over the grid (each ``prange`` over rows): cell
velocities, surface and each row's wet extent (:func:`prep_rows`), then, over bands of rows
with row buffers as in the first-order :func:`~workflows.tsunami._scheme.step_rows`, the
limited half-slopes of each row (:func:`xslopes_row`, :func:`yslopes_row`), the face
fluxes (every one computed once) and the update (:func:`stage_rows`), each row only over
its span of cells that may hold water (:func:`row_span`).
The second stage writes the combined state over the first buffers in place (each cell
reads its own old value only), so the state never changes buffers.
"""

from __future__ import annotations

import math

import numpy as np

from ._scheme import face_flux, friction_rate, rcbrt, row_max, sponge_clip, velocities

prange = range  # replaced by numba.prange in the CPU build

# Loops over part of a row run on unsigned indices: numba wraps negative indices (a select
# on every access), which LLVM removes only when it can prove the index non-negative. With
# a start known only at run time it cannot, and the loop no longer vectorises (measured:
# 30 % slower). Unsigned indices are never wrapped; U1 keeps i +- 1 unsigned (uint64 +- a
# plain int would be a float in numba's typing).
U1 = np.uint64(1)


def half_slope(qm, q, qp, theta):
    """Half the limited slope of q between its neighbours qm (before) and qp (after):
    generalised minmod, 0 at an extremum."""
    dl = q - qm
    dr = qp - q
    m = min(theta * min(abs(dl), abs(dr)), 0.5 * abs(dl + dr))
    s = m if dl > 0.0 else -m
    return 0.5 * s if dl * dr > 0.0 else 0.0


def face_state(h, sh, e, se, u, su, v, sv, side):
    """Reconstructed (h, u, v, b) at the face on ``side`` (+1 east / north, -1 west / south)."""
    hf = h + side * sh
    return hf, u + side * su, v + side * sv, (e + side * se) - hf


def prep_rows(h, hu, hv, b, eps, u, v, e, ext):
    """Velocities (zero in dry cells) and free surface of every cell; ``ext[j]``: the first
    and one past the last column of row j holding any water (h > 0), ``(nx, 0)`` if none."""
    ny, nx = h.shape
    for jq in prange(ny):
        j = np.int64(jq)
        for i in range(nx):
            a, c = velocities(h[j, i], hu[j, i], hv[j, i], eps)
            u[j, i] = a
            v[j, i] = c
            e[j, i] = h[j, i] + b[j, i]
        lo = 0
        while lo < nx and not h[j, lo] > 0.0:
            lo += 1
        hi = nx
        while hi > lo and not h[j, hi - 1] > 0.0:
            hi -= 1
        ext[j, 0] = lo if hi > lo else nx
        ext[j, 1] = hi if hi > lo else 0


def row_span(ext, ext0, j, nx, final):
    """Columns [lo, hi) of row j that a stage must compute (``(nx, 0)``: none).

    Outside them the cell and its four neighbours hold no water at all (and, for the final
    stage, neither did the cell at the step's start: ``ext0``): every face flux there is
    exactly zero and the full update gives exactly (0, 0, 0), so writing that instead is
    not an approximation. On a coastal grid whole stretches of land are skipped this way
    (30 % of the Messina grid's cells); a cell being flooded is always next to a wet one,
    so inundation is never missed."""
    ny = ext.shape[0]
    lo = ext[j, 0]
    hi = ext[j, 1]
    if j > 0:
        lo = min(lo, ext[j - 1, 0])
        hi = max(hi, ext[j - 1, 1])
    if j + 1 < ny:
        lo = min(lo, ext[j + 1, 0])
        hi = max(hi, ext[j + 1, 1])
    if final:
        lo = min(lo, ext0[j, 0])
        hi = max(hi, ext0[j, 1])
    lo = max(lo - 1, 0)  # the dry neighbour west of the first wet cell
    hi = min(hi + 1, nx)
    if hi <= lo:
        return nx, 0
    return lo, hi


def xslopes_row(j, h, e, u, v, eps, theta, lo, hi, sx):
    """Limited half-slopes of (h, eta, u, v) along x of row ``j`` into the row buffer
    ``sx[0:4]``; zero where the cell or an x neighbour is dry, on the grid's edges and
    outside the row's span [lo, hi) (all dry there)."""
    nx = h.shape[1]
    i0 = max(lo, 1)
    i1 = max(min(hi, nx - 1), i0)
    for k in range(4):
        for i in range(i0):
            sx[k, i] = 0.0
        for i in range(i1, nx):
            sx[k, i] = 0.0
    for i in range(np.uint64(i0), np.uint64(i1)):  # selects only: the loop vectorises
        ok = h[j, i - U1] > eps and h[j, i] > eps and h[j, i + U1] > eps
        a = half_slope(h[j, i - U1], h[j, i], h[j, i + U1], theta)
        c = half_slope(e[j, i - U1], e[j, i], e[j, i + U1], theta)
        d = half_slope(u[j, i - U1], u[j, i], u[j, i + U1], theta)
        f = half_slope(v[j, i - U1], v[j, i], v[j, i + U1], theta)
        sx[0, i] = a if ok else 0.0
        sx[1, i] = c if ok else 0.0
        sx[2, i] = d if ok else 0.0
        sx[3, i] = f if ok else 0.0


def yslopes_row(j, h, e, u, v, eps, theta, lo, hi, sy):
    """The same along y (between rows j - 1 and j + 1) into ``sy[0:4]``."""
    ny, nx = h.shape
    edge = j == 0 or j == ny - 1
    for k in range(4):
        for i in range(nx if edge else lo):
            sy[k, i] = 0.0
        for i in range(nx if edge else max(hi, lo), nx):
            sy[k, i] = 0.0
    if not edge:
        for i in range(np.uint64(lo), np.uint64(hi)):
            ok = h[j - 1, i] > eps and h[j, i] > eps and h[j + 1, i] > eps
            a = half_slope(h[j - 1, i], h[j, i], h[j + 1, i], theta)
            c = half_slope(e[j - 1, i], e[j, i], e[j + 1, i], theta)
            d = half_slope(u[j - 1, i], u[j, i], u[j + 1, i], theta)
            f = half_slope(v[j - 1, i], v[j, i], v[j + 1, i], theta)
            sy[0, i] = a if ok else 0.0
            sy[1, i] = c if ok else 0.0
            sy[2, i] = d if ok else 0.0
            sy[3, i] = f if ok else 0.0


def yfaces_row2(  # noqa: PLR0913 - a kernel: every array is an argument
    jl, sidel, sgnl, jr, sider, sgnr, h, e, u, v, syl, syr, g, fh, fnl, fnr, ft, i0, i1,
):  # fmt: skip
    """Fluxes across the faces between row ``jl`` (its ``sidel`` face states, y slopes
    ``syl``) and row ``jr`` (``sider``, ``syr``), columns [i0, i1): normal velocity v,
    tangential u. ``sgnl`` / ``sgnr`` multiply the normal velocity: -1 mirrors a ghost row
    for reflecting walls."""
    for i in range(np.uint64(i0), np.uint64(i1)):
        hl, ul, vl, bl = face_state(
            h[jl, i],
            syl[0, i],
            e[jl, i],
            syl[1, i],
            u[jl, i],
            syl[2, i],
            v[jl, i],
            syl[3, i],
            sidel,
        )
        hr, ur, vr, br = face_state(
            h[jr, i],
            syr[0, i],
            e[jr, i],
            syr[1, i],
            u[jr, i],
            syr[2, i],
            v[jr, i],
            syr[3, i],
            sider,
        )
        a, b, c, d = face_flux(hl, sgnl * vl, ul, bl, hr, sgnr * vr, ur, br, g)
        fh[i] = a
        fnl[i] = b
        fnr[i] = c
        ft[i] = d


def xfaces_row2(j, h, e, u, v, sx, g, closed, fh, fnl, fnr, ft, lo, hi):
    """Fluxes across the faces lo..hi of row ``j`` (those of the cells [lo, hi)) and the
    two edge faces, ``sx`` the row's x slopes; face i is west of cell i."""
    nx = h.shape[1]
    for i in range(np.uint64(max(lo, 1)), np.uint64(min(hi + 1, nx))):
        k = i - U1
        hl, ul, vl, bl = face_state(h[j, k], sx[0, k], e[j, k], sx[1, k],
                                    u[j, k], sx[2, k], v[j, k], sx[3, k],
                                    1.0)  # fmt: skip
        hr, ur, vr, br = face_state(h[j, i], sx[0, i], e[j, i], sx[1, i],
                                    u[j, i], sx[2, i], v[j, i], sx[3, i], -1.0)  # fmt: skip
        a, bq, c, d = face_flux(hl, ul, vl, bl, hr, ur, vr, br, g)
        fh[i] = a
        fnl[i] = bq
        fnr[i] = c
        ft[i] = d
    sgn = -1.0 if closed else 1.0
    # Ghost cells: the edge cell's outer face state, mirrored (walls) or copied (open).
    hw, uw, vw, bw = face_state(h[j, 0], sx[0, 0], e[j, 0], sx[1, 0],
                                u[j, 0], sx[2, 0], v[j, 0], sx[3, 0], -1.0)  # fmt: skip
    a, bq, c, d = face_flux(hw, sgn * uw, vw, bw, hw, uw, vw, bw, g)
    fh[0] = a
    fnl[0] = bq
    fnr[0] = c
    ft[0] = d
    k = nx - 1
    he, ue, ve, be = face_state(h[j, k], sx[0, k], e[j, k], sx[1, k],
                                u[j, k], sx[2, k], v[j, k], sx[3, k], 1.0)  # fmt: skip
    a, bq, c, d = face_flux(he, ue, ve, be, he, sgn * ue, ve, be, g)
    fh[nx] = a
    fnl[nx] = bq
    fnr[nx] = c
    ft[nx] = d


def cell_rhs2(  # noqa: PLR0913
    hc, uc, vc, ec, sxh, sxe, syh, sye,
    fh_w, fn_w, ft_w, fh_e, fn_e, ft_e, fh_s, fn_s, ft_s, fh_n, fn_n, ft_n,
    idx, cnj, csj, tanrj, g,
):  # fmt: skip
    """Time derivative (dh, dhu, dhv) of one cell from its face fluxes, the centred bed
    sources and the spherical terms (``fn_w`` / ``fn_s`` as seen by this cell)."""
    he = hc + sxh
    hw = hc - sxh
    be = (ec + sxe) - he
    bw = (ec - sxe) - hw
    hn = hc + syh
    hs = hc - syh
    bn = (ec + sye) - hn
    bs = (ec - sye) - hs
    dh = -(idx * (fh_e - fh_w) + (cnj * fh_n - csj * fh_s))
    dhu = -(idx * (fn_e - fn_w) + (cnj * ft_n - csj * ft_s))
    dhv = -(idx * (ft_e - ft_w) + (cnj * fn_n - csj * fn_s))
    dhu = dhu - idx * (0.5 * g) * (hw + he) * (be - bw) + tanrj * hc * uc * vc
    dhv = (dhv - (0.5 * (cnj + csj)) * (0.5 * g) * (hs + hn) * (bn - bs)
           + (0.25 * g) * (hn * hn + hs * hs) * (cnj - csj) - tanrj * hc * uc * uc)  # fmt: skip
    return dh, dhu, dhv


def combine_rate(h0, hu0, hv0, hs, hus, hvs, idx, inv_dyj, g, eps):
    """Heun's average of the step's start and second stage; the new state's inverse CFL time
    scale (0 when dry) and the dry-cell cleanup."""
    h = 0.5 * h0 + 0.5 * hs
    hu = 0.5 * hu0 + 0.5 * hus
    hv = 0.5 * hv0 + 0.5 * hvs
    wet = h > eps
    hsafe = h if wet else 1.0
    inv = 1.0 / hsafe
    c = math.sqrt(g * hsafe)
    rate = max((abs(hu * inv) + c) * idx, (abs(hv * inv) + c) * inv_dyj) if wet else 0.0
    hu = hu if wet and abs(hu) >= 1e-100 else 0.0
    hv = hv if wet and abs(hv) >= 1e-100 else 0.0
    return h, hu, hv, rate


def update_row2(  # noqa: PLR0913 - a kernel: every array is an argument
    j, h, hu, hv, u, v, e, sx, sy, h0, hu0, hv0, oh, ohu, ohv, fx, fs, fn, sigma, b,
    maxh, arrival, eta0, idx, cnj, csj, inv_dyj, tanrj, g, eps, dt, manning, thr, t, final,
    rate, lo, hi,
):  # fmt: skip
    """One stage of row ``j``: state (h, hu, hv) + dt L into (oh, ohu, ohv), then sponge and
    friction; when ``final``, averaged with the step's start (h0, hu0, hv0 (the same arrays
    as oh...), read before written) and max height / arrival tracked. ``rate[i]``: each
    cell's inverse CFL time scale of the new state (scratch for the cube roots first).
    Only the cells [lo, hi) are computed: the others are dry and stay so (:func:`row_span`)."""
    nx = h.shape[1]
    for i in range(lo):
        oh[j, i] = 0.0
        ohu[j, i] = 0.0
        ohv[j, i] = 0.0
        rate[i] = 0.0
    for i in range(max(hi, lo), nx):
        oh[j, i] = 0.0
        ohu[j, i] = 0.0
        ohv[j, i] = 0.0
        rate[i] = 0.0
    for i in range(np.uint64(lo), np.uint64(hi)):
        dh, dhu, dhv = cell_rhs2(
            h[j, i], u[j, i], v[j, i], e[j, i], sx[0, i], sx[1, i], sy[0, i], sy[1, i],
            fx[0, i], fx[2, i], fx[3, i], fx[0, i + U1], fx[1, i + U1], fx[3, i + U1],
            fs[0, i], fs[2, i], fs[3, i], fn[0, i], fn[1, i], fn[3, i],
            idx, cnj, csj, tanrj, g,
        )  # fmt: skip
        hn_, hun_, hvn_ = sponge_clip(h[j, i] + dt * dh, hu[j, i] + dt * dhu, hv[j, i] + dt * dhv,
                                      b[j, i], sigma[j, i], eps, dt)  # fmt: skip
        fx[4, i] = hn_
        fx[5, i] = hun_
        fx[6, i] = hvn_
    if manning > 0.0:
        for i in range(np.uint64(lo), np.uint64(hi)):
            rate[i] = rcbrt(max(fx[4, i], eps))
    for i in range(np.uint64(lo), np.uint64(hi)):
        hn_, hun_, hvn_, r = friction_rate(fx[4, i], fx[5, i], fx[6, i], rate[i], idx, inv_dyj,
                                           g, eps, dt, manning)  # fmt: skip
        if final:
            hn_, hun_, hvn_, r = combine_rate(h0[j, i], hu0[j, i], hv0[j, i], hn_, hun_, hvn_,
                                              idx, inv_dyj, g, eps)  # fmt: skip
            eta = hn_ + b[j, i]
            wet = r > 0.0
            m = maxh[j, i]
            maxh[j, i] = eta if wet and eta > m else m
            arr = arrival[j, i]
            arrival[j, i] = t + dt if wet and arr < 0.0 and abs(eta - eta0[j, i]) > thr else arr
        oh[j, i] = hn_
        ohu[j, i] = hun_
        ohv[j, i] = hvn_
        rate[i] = r


def stage_rows(  # noqa: PLR0913
    h, hu, hv, u, v, e, h0, hu0, hv0, oh, ohu, ohv, b, inv_dx, cn, cs, inv_dy, tanr,
    sigma, params, maxh, arrival, eta0, t, final, work, chunkrate, ext, ext0, span,
):  # fmt: skip
    """One Runge-Kutta stage on the CPU: each thread sweeps a band of rows, computing the
    limited slopes of each row and every face flux once into row buffers (``work[c]``) and
    updating the row right away, over each row's span of cells that may hold water
    (:func:`row_span`, from the wet extents ``ext`` of this stage's state and ``ext0`` of
    the step's start)."""
    g = params[0]
    eps = params[1]
    dt = params[2]
    manning = params[3]
    closed = params[4] > 0.5
    thr = params[5]
    theta = params[6]
    sgn = -1.0 if closed else 1.0
    ny, nx = h.shape
    nchunks = chunkrate.shape[0]
    for j in range(ny):
        lo, hi = row_span(ext, ext0, j, nx, final)
        span[j, 0] = lo
        span[j, 1] = hi
    # Bands of equal work, not of equal rows: a row costs its span's width (plus a fixed
    # part for its edge faces and zeroed tails), and spans differ between land and sea.
    bounds = np.empty(nchunks + 1, dtype=np.int64)
    total = 0
    for j in range(ny):
        total += max(span[j, 1] - span[j, 0], 0) + 16
    bounds[0] = 0
    acc = 0
    c = 1
    for j in range(ny):
        acc += max(span[j, 1] - span[j, 0], 0) + 16
        while c < nchunks and acc * nchunks >= c * total:
            bounds[c] = j + 1
            c += 1
    while c <= nchunks:
        bounds[c] = ny
        c += 1
    for cq in prange(nchunks):
        c = np.int64(cq)
        j0 = bounds[c]
        j1 = bounds[c + 1]
        w = work[c]
        fx = w[0:8]  # x faces (rows 0-3) and the stage's new row before friction (4-6)
        fs = w[8:12]
        fn = w[12:16]
        sx = w[17:21]  # x slopes of row j
        sy = w[21:25]  # y slopes of row j
        syn = w[25:29]  # y slopes of row j + 1
        best = 0.0
        if j1 > j0:
            lo = span[j0, 0]
            hi = span[j0, 1]
            yslopes_row(j0, h, e, u, v, eps, theta, lo, hi, sy)
            if j0 == 0:  # ghost row south of the domain
                yfaces_row2(0, -1.0, sgn, 0, -1.0, 1.0, h, e, u, v, sy, sy, g,
                            fs[0], fs[1], fs[2], fs[3], lo, hi)  # fmt: skip
            else:
                # Row j0 - 1's slopes (another band computes the same ones for itself).
                yslopes_row(j0 - 1, h, e, u, v, eps, theta, span[j0 - 1, 0],
                            span[j0 - 1, 1], syn)  # fmt: skip
                yfaces_row2(j0 - 1, 1.0, 1.0, j0, -1.0, 1.0, h, e, u, v, syn, sy, g,
                            fs[0], fs[1], fs[2], fs[3], lo, hi)  # fmt: skip
        for j in range(j0, j1):
            lo = span[j, 0]
            hi = span[j, 1]
            # The faces north of row j serve row j now and row j + 1 next: both spans.
            if j + 1 < ny:
                yslopes_row(j + 1, h, e, u, v, eps, theta, span[j + 1, 0], span[j + 1, 1],
                            syn)  # fmt: skip
                yfaces_row2(j, 1.0, 1.0, j + 1, -1.0, 1.0, h, e, u, v, sy, syn, g,
                            fn[0], fn[1], fn[2], fn[3], min(lo, span[j + 1, 0]),
                            max(hi, span[j + 1, 1]))  # fmt: skip
            else:  # ghost row north of the domain
                yfaces_row2(j, 1.0, 1.0, j, 1.0, sgn, h, e, u, v, sy, sy, g,
                            fn[0], fn[1], fn[2], fn[3], lo, hi)  # fmt: skip
            xslopes_row(j, h, e, u, v, eps, theta, lo, hi, sx)
            xfaces_row2(j, h, e, u, v, sx, g, closed, fx[0], fx[1], fx[2], fx[3], lo, hi)
            update_row2(
                j, h, hu, hv, u, v, e, sx, sy, h0, hu0, hv0, oh, ohu, ohv, fx, fs, fn, sigma, b,
                maxh, arrival, eta0, inv_dx[j], cn[j], cs[j], inv_dy[j], tanr[j], g, eps, dt,
                manning, thr, t, final, w[16], lo, hi,
            )  # fmt: skip
            best = max(best, row_max(w[16], nx))
            fs, fn = fn, fs
            sy, syn = syn, sy
        chunkrate[c] = best


def advance2(  # noqa: PLR0913
    h, hu, hv, b, h1, hu1, hv1, inv_dx, cn, cs, inv_dy, tanr, sigma, params,
    maxh, arrival, eta0, work, chunkrate, t, rate, cfl, t_end, t_poi, nmax, scratch, spans,
):  # fmt: skip
    """Many second-order steps in one compiled call, with the stopping rules of
    :func:`~workflows.tsunami._scheme.advance`; the state stays in (h, hu, hv).
    ``scratch``: (3, ny, nx) for u, v and eta; ``spans``: (3, ny, 2) integers, the wet
    extents of the step's start and of its first stage, and the rows' spans of cells to
    compute (:func:`row_span`)."""
    eps = params[1]
    u = scratch[0]
    v = scratch[1]
    e = scratch[2]
    ext0 = spans[0]
    ext1 = spans[1]
    span = spans[2]
    n = 0
    while True:
        dt = min(cfl / rate, t_end - t)
        params[2] = dt
        prep_rows(h, hu, hv, b, eps, u, v, e, ext0)
        stage_rows(h, hu, hv, u, v, e, h, hu, hv, h1, hu1, hv1, b, inv_dx, cn, cs,
                   inv_dy, tanr, sigma, params, maxh, arrival, eta0, t, False, work,
                   chunkrate, ext0, ext0, span)  # fmt: skip
        prep_rows(h1, hu1, hv1, b, eps, u, v, e, ext1)
        stage_rows(h1, hu1, hv1, u, v, e, h, hu, hv, h, hu, hv, b, inv_dx, cn, cs,
                   inv_dy, tanr, sigma, params, maxh, arrival, eta0, t, True, work,
                   chunkrate, ext1, ext0, span)  # fmt: skip
        t += dt
        n += 1
        r = chunkrate.max()
        if r > 0.0:
            rate = r
        if t >= t_end - 1e-9 or t >= t_poi - 1e-9 or n >= nmax:
            return t, n, rate


# --- The GPU form: one thread per cell, every value it needs recomputed from the state ------
# The CPU passes above share u, v and eta through scratch arrays; on the GPU a
# thread instead reads the 9-cell cross (two cells each way) around its cell, so a stage is
# one kernel launch with no scratch. The arithmetic of every face and cell is the same.


def cell_values(h, hu, hv, b, j, i, eps):
    """(h, u, v, eta) of cell (j, i), as :func:`prep_rows` stores them."""
    hc = h[j, i]
    uc, vc = velocities(hc, hu[j, i], hv[j, i], eps)
    return hc, uc, vc, hc + b[j, i]


def cross_slopes(h, hu, hv, b, j, i, dj, di, eps, theta):
    """Half-slopes (h, eta, u, v) of cell (j, i) along (dj, di) (one of them 1), as
    :func:`xslopes_row` / :func:`yslopes_row` compute them: zero on the grid's edges and
    next to dry cells."""
    ny, nx = h.shape
    inside = j - dj >= 0 and i - di >= 0 and j + dj < ny and i + di < nx
    if not inside:
        return 0.0, 0.0, 0.0, 0.0
    hm, um, vm, em = cell_values(h, hu, hv, b, j - dj, i - di, eps)
    hc, uc, vc, ec = cell_values(h, hu, hv, b, j, i, eps)
    hp, up, vp, ep = cell_values(h, hu, hv, b, j + dj, i + di, eps)
    if not (hm > eps and hc > eps and hp > eps):
        return 0.0, 0.0, 0.0, 0.0
    return (half_slope(hm, hc, hp, theta), half_slope(em, ec, ep, theta),
            half_slope(um, uc, up, theta), half_slope(vm, vc, vp, theta))  # fmt: skip


def cross_face(h, hu, hv, b, j, i, dj, di, eps, theta, side):
    """Reconstructed (h, u, v, b) of cell (j, i) at its face on ``side`` along (dj, di)."""
    hc, uc, vc, ec = cell_values(h, hu, hv, b, j, i, eps)
    sh, se, su, sv = cross_slopes(h, hu, hv, b, j, i, dj, di, eps, theta)
    return face_state(hc, sh, ec, se, uc, su, vc, sv, side)


def stage_cell2(  # noqa: PLR0913 - a kernel: every array is an argument
    i, j, h, hu, hv, b, h0, hu0, hv0, oh, ohu, ohv, inv_dx, cn, cs, inv_dy, tanr, sigma,
    params, maxh, arrival, eta0, t, final,
):  # fmt: skip
    """One Runge-Kutta stage of cell (j, i) into (oh, ohu, ohv), as :func:`stage_rows` does
    for a row: when ``final``, averaged with the step's start (h0, ...; may be the output
    arrays: only this cell of them is read) and max height / arrival tracked. Returns the
    cell's inverse CFL time scale of the new state (0 when dry)."""
    g = params[0]
    eps = params[1]
    dt = params[2]
    manning = params[3]
    sgn = -1.0 if params[4] > 0.5 else 1.0
    theta = params[6]
    ny, nx = h.shape
    hc, uc, vc, ec = cell_values(h, hu, hv, b, j, i, eps)
    sxh, sxe, sxu, sxv = cross_slopes(h, hu, hv, b, j, i, 0, 1, eps, theta)
    syh, sye, syu, syv = cross_slopes(h, hu, hv, b, j, i, 1, 0, eps, theta)
    # x faces: normal velocity u, tangential v; ghosts mirror (walls) or copy (open).
    hr, ur, vr, br = face_state(hc, sxh, ec, sxe, uc, sxu, vc, sxv, -1.0)
    if i > 0:
        hl, ul, vl, bl = cross_face(h, hu, hv, b, j, i - 1, 0, 1, eps, theta, 1.0)
    else:
        hl, ul, vl, bl = hr, sgn * ur, vr, br
    fh_w, _a, fn_w, ft_w = face_flux(hl, ul, vl, bl, hr, ur, vr, br, g)
    hl, ul, vl, bl = face_state(hc, sxh, ec, sxe, uc, sxu, vc, sxv, 1.0)
    if i < nx - 1:
        hr, ur, vr, br = cross_face(h, hu, hv, b, j, i + 1, 0, 1, eps, theta, -1.0)
    else:
        hr, ur, vr, br = hl, sgn * ul, vl, bl
    fh_e, fn_e, _b, ft_e = face_flux(hl, ul, vl, bl, hr, ur, vr, br, g)
    # y faces: normal velocity v, tangential u.
    hr, ur, vr, br = face_state(hc, syh, ec, sye, uc, syu, vc, syv, -1.0)
    if j > 0:
        hl, ul, vl, bl = cross_face(h, hu, hv, b, j - 1, i, 1, 0, eps, theta, 1.0)
    else:
        hl, ul, vl, bl = hr, ur, sgn * vr, br
    fh_s, _c, fn_s, ft_s = face_flux(hl, vl, ul, bl, hr, vr, ur, br, g)
    hl, ul, vl, bl = face_state(hc, syh, ec, sye, uc, syu, vc, syv, 1.0)
    if j < ny - 1:
        hr, ur, vr, br = cross_face(h, hu, hv, b, j + 1, i, 1, 0, eps, theta, -1.0)
    else:
        hr, ur, vr, br = hl, ul, sgn * vl, bl
    fh_n, fn_n, _d, ft_n = face_flux(hl, vl, ul, bl, hr, vr, ur, br, g)
    idx = inv_dx[j]
    dh, dhu, dhv = cell_rhs2(
        hc, uc, vc, ec, sxh, sxe, syh, sye,
        fh_w, fn_w, ft_w, fh_e, fn_e, ft_e, fh_s, fn_s, ft_s, fh_n, fn_n, ft_n,
        idx, cn[j], cs[j], tanr[j], g,
    )  # fmt: skip
    hn_, hun_, hvn_ = sponge_clip(hc + dt * dh, hu[j, i] + dt * dhu, hv[j, i] + dt * dhv,
                                  b[j, i], sigma[j, i], eps, dt)  # fmt: skip
    rc = rcbrt(max(hn_, eps)) if manning > 0.0 else 0.0
    hn_, hun_, hvn_, r = friction_rate(hn_, hun_, hvn_, rc, idx, inv_dy[j], g, eps, dt, manning)
    if final:
        hn_, hun_, hvn_, r = combine_rate(h0[j, i], hu0[j, i], hv0[j, i], hn_, hun_, hvn_,
                                          idx, inv_dy[j], g, eps)  # fmt: skip
        if r > 0.0:
            eta = hn_ + b[j, i]
            if eta > maxh[j, i]:
                maxh[j, i] = eta
            if arrival[j, i] < 0.0 and abs(eta - eta0[j, i]) > params[5]:
                arrival[j, i] = t + dt
    oh[j, i] = hn_
    ohu[j, i] = hun_
    ohv[j, i] = hvn_
    return r
