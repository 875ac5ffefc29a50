"""Direct convolution on the CPU: numba kernels that never build the im2col matrix.

For layers with few channels (LeNet, SimpLeNet) im2col + GEMM is memory-bound: the col matrix is
KH*KW times the input and the GEMM's M (OC) is tiny, so copying col out and reading it back
costs more than the arithmetic. These kernels read x through a much smaller per-image buffer
that stays in cache, and do the multiply-adds as long contiguous vector loops.

Notation (as im2col.py; weight OIHW, G groups)::

    N batch, C input channels, H x W input size, OC output channels, G groups
    Cg = C/G, OCg = OC/G channels per group
    KH x KW kernel size, SH, SW stride, PH, PW padding (top / left), DH, DW dilation
    OH x OW output size, L = OH*OW output pixels per image
    HB = (OH-1)*SH + DH*(KH-1) + 1   padded input rows the windows span
    tap t = (cl*KH + kh)*KW + kw      one weight of an output channel (cl: channel in the group),
                                      the column order of weight.reshape(OC, -1)
    NB images share one buffer (``_interleaved``), nb <= NB in the last group; R = nb*OW

The one buffer: x unfolded along kw only (KW copies of x, not im2col's KH*KW)
------------------------------------------------------------------------------
For a group of nb images n0 .. n0+nb-1, ``xs`` has shape (C, KW, HB, nb, OW)::

    xs[c, kw, r, j, ow] = x[n0 + j, c, r - PH, ow*SW - PW + kw*DW]     (0 in the padding)

so the input a tap sees at output row oh is one row (R long) of xs::

    x[n0 + j, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] = xs[c, kw, oh*SH + kh*DH, j, ow]

The output is held in the same interleaved layout, yt[o, oh, j, ow] (gy too, in the
backward), so with SH == 1 one output channel of the group is one contiguous run:
``yt[o].flat[0 : OH*R] += w[o, c, kh, kw] * xs[c, kw].flat[kh*DH*R : +OH*R]``. Every loop
below is that pattern ("segments": one of length OH*R when SH == 1, else OH rows of R), with
no garbage columns and no padding tests inside. It holds for any stride, padding and
dilation (SW and DW only change how xs is filled; the bottom/right padding is whatever makes
OH x OW fit, as in im2col.py). Interleaving images makes runs long when images are small (a
run's setup costs as much as a few dozen multiply-adds); with nb == 1 yt is y itself.

    forward      yt[o, seg]          = b[o] + sum_t w[o, t] * xs[tap t's rows]
    weight grad  gw[o, t]           += dot(gyt[o, seg], xs[tap t's rows])   (over groups, segs)
    input grad   gxs[tap t's rows]  += w[o, t] * gyt[o, seg], then gx = the fold of gxs
                                       (the adjoint of building xs: overlapping kw add up);
                                       with stride 1 and "same"-like padding, a forward
                                       convolution instead (conv2d_input_grad_direct)

Several taps or output channels share one pass over a segment (the _run helpers): the loops
are bound by loads and stores in L1, not by arithmetic. Rows wholly in the padding are simply
zeros in xs.

Threads: blocks of images (``_image_blocks``: the shapes decide them, never the thread count)
on minitorch's pool, one serial ``nogil`` kernel per block, each writing only its own images'
output; the weight gradient's per-block partials are added in block order, so every result is
bit-identical for any number of threads.

Only float32 and float64 (the numba table's fused dtypes); other dtypes still work (numba
compiles them) but are not tested. When numba is absent the kernels are plain Python (correct
but far too slow): the ops then use the reference table, which has no direct convolution.
"""
from __future__ import annotations

import numpy as np

from ..ops.geometry import Geometry2d
from ..threads import parallel_for
from .im2col import _valid_range, njit, uint64  # numba's, or plain stand-ins without numba

__all__ = ["conv2d_forward_direct", "conv2d_weight_grad_direct", "conv2d_input_grad_direct",
           "direct_conv_pays"]

# Floating-point flags. "contract" lets LLVM fuse a*b + c into one FMA (one rounding instead of
# two: results differ from im2col + GEMM in the last bits, as BLAS's own kernels do). The weight
# gradient's dot products also need "reassoc": without it LLVM must add the terms in source
# order and cannot vectorize the sum. Never fastmath=True: it assumes no NaN/inf ("nnan",
# "ninf") and would drop the checks that keep a NaN in the input a NaN in the output.
_ELEMENTWISE = {"contract"}
_REDUCTION = {"reassoc", "contract"}


# --------------------------------------------------------------------------- the xs buffer
@njit(cache=True, nogil=True)
def _tap_offsets(Cg, KH, KW, DH, HB, R):
    """Per tap t of a group: where its rows (R long) start in xs, relative to the group's
    first channel."""
    toff = np.empty(Cg * KH * KW, dtype=np.int64)
    for cl in range(Cg):
        for kh in range(KH):
            for kw in range(KW):
                toff[(cl * KH + kh) * KW + kw] = ((cl * KW + kw) * HB + kh * DH) * R
    return toff


@njit(cache=True, nogil=True)
def _unfold_rows(xf, n0, nb, xs, C, H, W, KW, SW, PH, PW, DW, HB, OW):
    """xs[c, kw, r, j, ow] = x[n0 + j, c, r - PH, ow*SW - PW + kw*DW] for j < nb, 0 in the
    padding (xf: flat x)."""
    d = 0
    for c in range(C):
        for kw in range(KW):
            off_w = kw * DW - PW
            lo, hi = _valid_range(off_w, SW, W, OW)
            for r in range(HB):
                ih = r - PH
                for j in range(nb):
                    if 0 <= ih < H:
                        s = (((n0 + j) * C + c) * H + ih) * W + off_w   # x[n0+j, c, ih, off_w]
                        for ow in range(lo):
                            xs[uint64(d + ow)] = 0
                        for ow in range(lo, hi):
                            xs[uint64(d + ow)] = xf[uint64(s + ow * SW)]
                        for ow in range(hi, OW):
                            xs[uint64(d + ow)] = 0
                    else:                                    # a row wholly in the padding
                        for ow in range(OW):
                            xs[uint64(d + ow)] = 0
                    d += OW


@njit(cache=True, nogil=True)
def _fold_rows(gxs, gxf, n0, nb, C, H, W, KW, SW, PH, PW, DW, HB, OW):
    """The adjoint of _unfold_rows: gx[n0 : n0+nb] = the sum of every xs entry copied from
    each pixel (entries in the padding are dropped; input rows no window reaches get 0)."""
    for i in range(n0 * C * H * W, (n0 + nb) * C * H * W):
        gxf[uint64(i)] = 0
    d = 0
    for c in range(C):
        for kw in range(KW):
            off_w = kw * DW - PW
            lo, hi = _valid_range(off_w, SW, W, OW)
            for r in range(HB):
                ih = r - PH
                for j in range(nb):
                    if 0 <= ih < H:
                        s = (((n0 + j) * C + c) * H + ih) * W + off_w
                        for ow in range(lo, hi):   # one kw: distinct ow hit distinct pixels
                            gxf[uint64(s + ow * SW)] += gxs[uint64(d + ow)]
                    d += OW


@njit(cache=True, nogil=True)
def _interleave(af, n0, nb, at, OC, OH, OW):
    """at[o, oh, j, ow] = a[n0 + j, o, oh, ow] (af: flat (N, OC, OH, OW)): gy in xs's layout."""
    d = 0
    for o in range(OC):
        for oh in range(OH):
            for j in range(nb):
                s = (((n0 + j) * OC + o) * OH + oh) * OW
                for ow in range(OW):
                    at[uint64(d + ow)] = af[uint64(s + ow)]
                d += OW


@njit(cache=True, nogil=True)
def _deinterleave(at, af, n0, nb, OC, OH, OW):
    """The inverse of _interleave: a[n0 + j, o, oh, ow] = at[o, oh, j, ow]."""
    d = 0
    for o in range(OC):
        for oh in range(OH):
            for j in range(nb):
                s = (((n0 + j) * OC + o) * OH + oh) * OW
                for ow in range(OW):
                    af[uint64(s + ow)] = at[uint64(d + ow)]
                d += OW


# --------------------------------------------------------------------------- the kernels
# Each kernel takes a block of whole images (C-contiguous) and loops over them; "segments" as
# in the module docstring: nseg runs of seg elements, run s starting at row s*SH of a tap's
# rows. The inner loops (the _run helpers) are bound by loads and stores in L1, not by the
# multiply-adds, so each pass shares its loads: two output channels x four taps in the forward
# and the weight gradient (6 loads/stores per 8 multiply-adds instead of 3 per 1), four output
# channels x two taps in the input gradient. All indices are flat uint64 (see im2col.py).

@njit(cache=True, nogil=True, fastmath=_ELEMENTWISE)
def _fwd_run1(yf, d, xs, xo, toff, wf, wo, T, seg):
    """yf[d : d+seg] += sum over taps t of wf[wo+t] * xs[xo+toff[t] : +seg]."""
    t = 0
    while t + 4 <= T:
        w0, w1, w2, w3 = wf[wo + t], wf[wo + t + 1], wf[wo + t + 2], wf[wo + t + 3]
        a0, a1, a2, a3 = xo + toff[t], xo + toff[t + 1], xo + toff[t + 2], xo + toff[t + 3]
        for q in range(seg):
            yf[uint64(d + q)] += (w0 * xs[uint64(a0 + q)] + w1 * xs[uint64(a1 + q)]
                                  + w2 * xs[uint64(a2 + q)] + w3 * xs[uint64(a3 + q)])
        t += 4
    while t < T:
        w0, a0 = wf[wo + t], xo + toff[t]
        for q in range(seg):
            yf[uint64(d + q)] += w0 * xs[uint64(a0 + q)]
        t += 1


@njit(cache=True, nogil=True, fastmath=_ELEMENTWISE)
def _fwd_run2(yf, d, e, xs, xo, toff, wf, wo, vo, T, seg):
    """_fwd_run1 for two output channels at once (outputs at d and e, weights at wo and vo):
    each xs element loaded is used twice."""
    t = 0
    while t + 4 <= T:
        w0, w1, w2, w3 = wf[wo + t], wf[wo + t + 1], wf[wo + t + 2], wf[wo + t + 3]
        v0, v1, v2, v3 = wf[vo + t], wf[vo + t + 1], wf[vo + t + 2], wf[vo + t + 3]
        a0, a1, a2, a3 = xo + toff[t], xo + toff[t + 1], xo + toff[t + 2], xo + toff[t + 3]
        for q in range(seg):
            x0, x1 = xs[uint64(a0 + q)], xs[uint64(a1 + q)]
            x2, x3 = xs[uint64(a2 + q)], xs[uint64(a3 + q)]
            yf[uint64(d + q)] += w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3
            yf[uint64(e + q)] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3
        t += 4
    while t < T:
        w0, v0, a0 = wf[wo + t], wf[vo + t], xo + toff[t]
        for q in range(seg):
            x0 = xs[uint64(a0 + q)]
            yf[uint64(d + q)] += w0 * x0
            yf[uint64(e + q)] += v0 * x0
        t += 1


@njit(cache=True, nogil=True)
def _forward_kernel(x, w, b, y, G, NB, KH, KW, SH, SW, PH, PW, DH, DW):
    N, C, H, W = x.shape
    OC, T = w.shape                        # w: weight.reshape(OC, Cg*KH*KW)
    OH, OW = y.shape[2], y.shape[3]
    L, Cg, OCg = OH * OW, C // G, OC // G
    HB = (OH - 1) * SH + DH * (KH - 1) + 1
    xs = np.empty(C * KW * HB * NB * OW, dtype=x.dtype)
    yt = np.empty(OC * L * NB if NB > 1 else 0, dtype=y.dtype)  # y interleaved as xs
    xf, wf, yf = x.reshape(-1), w.reshape(-1), y.reshape(-1)
    for n0 in range(0, N, NB):
        nb = min(NB, N - n0)
        R = nb * OW                                   # one row of xs and of the output
        CP = KW * HB * R                              # one channel's block of xs
        toff = _tap_offsets(Cg, KH, KW, DH, HB, R)
        nseg, seg = (1, OH * R) if SH == 1 else (OH, R)
        _unfold_rows(xf, n0, nb, xs, C, H, W, KW, SW, PH, PW, DW, HB, OW)
        # One image: straight into y (its layout is the interleaved one); several: into yt.
        out, base = (yf, n0 * OC * L) if nb == 1 else (yt, 0)
        for o in range(OC):
            bo, yo = b[o], base + o * nb * L
            for q in range(nb * L):
                out[uint64(yo + q)] = bo
        for grp in range(G):
            xg, last = grp * Cg * CP, (grp + 1) * OCg - 1    # the group's xs, last channel
            for o in range(grp * OCg, last + 1, 2):
                yo = base + o * nb * L
                for s in range(nseg):
                    d, xo = yo + s * seg, xg + s * SH * R
                    if o < last:
                        _fwd_run2(out, d, d + nb * L, xs, xo, toff, wf, o * T, (o + 1) * T,
                                  T, seg)
                    else:
                        _fwd_run1(out, d, xs, xo, toff, wf, o * T, T, seg)
        if nb > 1:
            _deinterleave(yt, yf, n0, nb, OC, OH, OW)


@njit(cache=True, nogil=True, fastmath=_REDUCTION)
def _wgrad_run1(gf, g, xs, xo, toff, wf, wo, T, seg, zero):
    """wf[wo+t] += dot(gf[g : g+seg], xs[xo+toff[t] : +seg]) for every tap t."""
    t = 0
    while t + 4 <= T:
        a0, a1, a2, a3 = xo + toff[t], xo + toff[t + 1], xo + toff[t + 2], xo + toff[t + 3]
        s0 = s1 = s2 = s3 = zero
        for q in range(seg):
            gv = gf[uint64(g + q)]
            s0 += gv * xs[uint64(a0 + q)]
            s1 += gv * xs[uint64(a1 + q)]
            s2 += gv * xs[uint64(a2 + q)]
            s3 += gv * xs[uint64(a3 + q)]
        wf[wo + t] += s0
        wf[wo + t + 1] += s1
        wf[wo + t + 2] += s2
        wf[wo + t + 3] += s3
        t += 4
    while t < T:
        a0, s0 = xo + toff[t], zero
        for q in range(seg):
            s0 += gf[uint64(g + q)] * xs[uint64(a0 + q)]
        wf[wo + t] += s0
        t += 1


@njit(cache=True, nogil=True, fastmath=_REDUCTION)
def _wgrad_run2(gf, g, h, xs, xo, toff, wf, wo, vo, T, seg, zero):
    """_wgrad_run1 for two output channels (gy at g and h, gw at wo and vo): eight dot
    products per pass, each gy and xs element loaded once for two or four of them."""
    t = 0
    while t + 4 <= T:
        a0, a1, a2, a3 = xo + toff[t], xo + toff[t + 1], xo + toff[t + 2], xo + toff[t + 3]
        s0 = s1 = s2 = s3 = r0 = r1 = r2 = r3 = zero
        for q in range(seg):
            gv, hv = gf[uint64(g + q)], gf[uint64(h + q)]
            x0, x1 = xs[uint64(a0 + q)], xs[uint64(a1 + q)]
            x2, x3 = xs[uint64(a2 + q)], xs[uint64(a3 + q)]
            s0 += gv * x0
            s1 += gv * x1
            s2 += gv * x2
            s3 += gv * x3
            r0 += hv * x0
            r1 += hv * x1
            r2 += hv * x2
            r3 += hv * x3
        wf[wo + t] += s0
        wf[wo + t + 1] += s1
        wf[wo + t + 2] += s2
        wf[wo + t + 3] += s3
        wf[vo + t] += r0
        wf[vo + t + 1] += r1
        wf[vo + t + 2] += r2
        wf[vo + t + 3] += r3
        t += 4
    while t < T:
        a0, s0, r0 = xo + toff[t], zero, zero
        for q in range(seg):
            x0 = xs[uint64(a0 + q)]
            s0 += gf[uint64(g + q)] * x0
            r0 += gf[uint64(h + q)] * x0
        wf[wo + t] += s0
        wf[vo + t] += r0
        t += 1


@njit(cache=True, nogil=True)
def _weight_grad_kernel(x, gy, gw, G, NB, KH, KW, SH, SW, PH, PW, DH, DW):
    """gw (OC, Cg*KH*KW) = this block's sum over images; gw is overwritten."""
    N, C, H, W = x.shape
    OC, T = gw.shape
    OH, OW = gy.shape[2], gy.shape[3]
    L, Cg, OCg = OH * OW, C // G, OC // G
    HB = (OH - 1) * SH + DH * (KH - 1) + 1
    xs = np.empty(C * KW * HB * NB * OW, dtype=x.dtype)
    gt = np.empty(OC * L * NB if NB > 1 else 0, dtype=gy.dtype)  # gy interleaved as xs
    xf, gf, wf = x.reshape(-1), gy.reshape(-1), gw.reshape(-1)
    wf[:] = 0
    zero = wf[0]                   # a 0 of gw's dtype (taken before gw holds any sum)
    for n0 in range(0, N, NB):
        nb = min(NB, N - n0)
        R = nb * OW
        CP = KW * HB * R
        toff = _tap_offsets(Cg, KH, KW, DH, HB, R)
        nseg, seg = (1, OH * R) if SH == 1 else (OH, R)
        _unfold_rows(xf, n0, nb, xs, C, H, W, KW, SW, PH, PW, DW, HB, OW)
        if nb == 1:
            src, base = gf, n0 * OC * L
        else:
            _interleave(gf, n0, nb, gt, OC, OH, OW)
            src, base = gt, 0
        for grp in range(G):
            xg, last = grp * Cg * CP, (grp + 1) * OCg - 1
            for o in range(grp * OCg, last + 1, 2):
                go = base + o * nb * L
                for s in range(nseg):
                    g, xo = go + s * seg, xg + s * SH * R
                    if o < last:
                        _wgrad_run2(src, g, g + nb * L, xs, xo, toff, wf, o * T, (o + 1) * T,
                                    T, seg, zero)
                    else:
                        _wgrad_run1(src, g, xs, xo, toff, wf, o * T, T, seg, zero)


@njit(cache=True, nogil=True, fastmath=_ELEMENTWISE)
def _igrad_run1(gxs, d, gf, g, P, wf, wi, T, nout, seg):
    """gxs[d : d+seg] += sum over k < nout of wf[wi + k*T] * gf[g + k*L : +seg]: one tap
    (weight column wi), nout consecutive output channels (P apart in gf), four per pass."""
    k = 0
    while k + 4 <= nout:
        w0, w1, w2, w3 = wf[wi + k * T], wf[wi + (k + 1) * T], wf[wi + (k + 2) * T], \
            wf[wi + (k + 3) * T]
        g0 = g + k * P
        g1, g2, g3 = g0 + P, g0 + 2 * P, g0 + 3 * P
        for q in range(seg):
            gxs[uint64(d + q)] += (w0 * gf[uint64(g0 + q)] + w1 * gf[uint64(g1 + q)]
                                   + w2 * gf[uint64(g2 + q)] + w3 * gf[uint64(g3 + q)])
        k += 4
    while k < nout:
        w0, g0 = wf[wi + k * T], g + k * P
        for q in range(seg):
            gxs[uint64(d + q)] += w0 * gf[uint64(g0 + q)]
        k += 1


@njit(cache=True, nogil=True, fastmath=_ELEMENTWISE)
def _igrad_run2(gxs, d, e, gf, g, P, wf, wi, T, nout, seg):
    """_igrad_run1 for taps wi and wi+1 (the same channel and kh, kw and kw+1), whose rows d
    and e lie in different kw blocks of gxs, so never overlap: each gy element loaded is
    used twice. (Taps that differ in kh overlap and are never fused.)"""
    k = 0
    while k + 4 <= nout:
        i0 = wi + k * T
        i1, i2, i3 = i0 + T, i0 + 2 * T, i0 + 3 * T
        w0, w1, w2, w3 = wf[i0], wf[i1], wf[i2], wf[i3]
        v0, v1, v2, v3 = wf[i0 + 1], wf[i1 + 1], wf[i2 + 1], wf[i3 + 1]
        g0 = g + k * P
        g1, g2, g3 = g0 + P, g0 + 2 * P, g0 + 3 * P
        for q in range(seg):
            y0, y1 = gf[uint64(g0 + q)], gf[uint64(g1 + q)]
            y2, y3 = gf[uint64(g2 + q)], gf[uint64(g3 + q)]
            gxs[uint64(d + q)] += w0 * y0 + w1 * y1 + w2 * y2 + w3 * y3
            gxs[uint64(e + q)] += v0 * y0 + v1 * y1 + v2 * y2 + v3 * y3
        k += 4
    while k < nout:
        w0, v0, g0 = wf[wi + k * T], wf[wi + k * T + 1], g + k * P
        for q in range(seg):
            y0 = gf[uint64(g0 + q)]
            gxs[uint64(d + q)] += w0 * y0
            gxs[uint64(e + q)] += v0 * y0
        k += 1


@njit(cache=True, nogil=True)
def _input_grad_kernel(gy, w, gx, G, NB, KH, KW, SH, SW, PH, PW, DH, DW):
    N, C, H, W = gx.shape
    OC, T = w.shape
    OH, OW = gy.shape[2], gy.shape[3]
    L, Cg, OCg = OH * OW, C // G, OC // G
    HB = (OH - 1) * SH + DH * (KH - 1) + 1
    gxs = np.empty(C * KW * HB * NB * OW, dtype=gx.dtype)
    gt = np.empty(OC * L * NB if NB > 1 else 0, dtype=gy.dtype)
    gf, wf, gxf = gy.reshape(-1), w.reshape(-1), gx.reshape(-1)
    for n0 in range(0, N, NB):
        nb = min(NB, N - n0)
        R = nb * OW
        CP = KW * HB * R
        P = nb * L                                    # one channel of (interleaved) gy
        toff = _tap_offsets(Cg, KH, KW, DH, HB, R)
        nseg, seg = (1, OH * R) if SH == 1 else (OH, R)
        if nb == 1:
            src, base = gf, n0 * OC * L
        else:
            _interleave(gf, n0, nb, gt, OC, OH, OW)
            src, base = gt, 0
        gxs[:C * CP] = 0
        for grp in range(G):
            xg = grp * Cg * CP
            for s in range(nseg):
                g = base + grp * OCg * P + s * seg            # the group's first channel
                t = 0
                while t < T:
                    d = xg + toff[t] + s * SH * R             # tap t's rows in gxs
                    if t % KW + 1 < KW:                       # t+1 is the same row, kw+1
                        _igrad_run2(gxs, d, xg + toff[t + 1] + s * SH * R, src, g, P, wf,
                                    grp * OCg * T + t, T, OCg, seg)
                        t += 2
                    else:
                        _igrad_run1(gxs, d, src, g, P, wf, grp * OCg * T + t, T, OCg, seg)
                        t += 1
        _fold_rows(gxs, gxf, n0, nb, C, H, W, KW, SW, PH, PW, DW, HB, OW)


# --------------------------------------------------------------------------- the wrappers
_DIRECT_MAX_WEIGHTS = 25_600   # OC * C*KH*KW up to which the direct kernels win (measured)


def direct_conv_pays(x_shape, w_shape, g: Geometry2d, groups: int) -> bool:
    """Whether the numba table runs this convolution with the direct kernels (ops/conv.py's
    Conv2dDirect) instead of im2col + GEMM. Measured per layer at batch 64 and 256 on the
    2-core development machine, forward + weight grad + input grad together: direct wins up
    to SimpLeNet's conv2 (50 x 500 weights; 23 vs 26 ms with 2 threads) and a 32->32 3x3
    layer (9.2K), and loses at a 64->64 3x3 layer (37K weights, where the GEMM's M is large
    enough for BLAS). Only the measured kind of layer: groups 1, stride 1, dilation 1."""
    return (groups == 1 and (g.SH, g.SW, g.DH, g.DW) == (1, 1, 1, 1)
            and int(np.prod(w_shape)) <= _DIRECT_MAX_WEIGHTS)


_BLOCK_FLOPS = 4_000_000   # work per block: ~0.1-0.2 ms on one core, well above the pool's
_MAX_BLOCKS = 16           # per-block cost; at most 16 blocks (each keeps a partial gw)...
_MIN_BLOCKS = 4            # ...and at least 4, batch allowing (work for 4 threads)
_RUN_TARGET = 512          # elements per inner-loop run that amortize a run's setup
_XS_BYTES = 256 << 10      # an interleaved xs at most this big (it is read once per channel pair)


def _interleaved(g: Geometry2d, xs_bytes_per_image: int) -> int:
    """NB, how many images share one xs (rows interleaved, xs[c, kw, r, j, ow]; gy and y are
    interleaved the same way) so that an inner-loop run, OH*OW*NB elements (OW*NB when
    SH > 1), is about _RUN_TARGET long. A run of one small image (SimpLeNet's conv2: 64) is
    mostly setup: at NB = 8 its forward took 23 -> 15 ms (batch 256, one thread). Large
    images: NB = 1, xs is one image and y is written in place."""
    run = g.OH * g.OW if g.SH == 1 else g.OW
    nb = min(-(-_RUN_TARGET // run), 16, _XS_BYTES // max(xs_bytes_per_image, 1))
    return max(nb, 1)


def _image_blocks(N: int, flops_per_image: int, NB: int) -> list:
    """The (n0, n1) image ranges, one kernel call each, whole groups of NB images. They
    depend on the shapes only, never on the thread count (so the weight gradient's partial
    sums, added in block order, give the same bits for any number of threads)."""
    if N == 0:
        return []
    per = max(-(-_BLOCK_FLOPS // max(flops_per_image, 1)), -(-N // _MAX_BLOCKS))
    per = min(per, -(-N // _MIN_BLOCKS))
    per = -(-per // NB) * NB
    return [(n0, min(N, n0 + per)) for n0 in range(0, N, per)]


def _xs_bytes(C: int, g: Geometry2d, itemsize: int) -> int:
    """One image's xs: (C, KW, HB, OW)."""
    return C * g.KW * ((g.OH - 1) * g.SH + g.DH * (g.KH - 1) + 1) * g.OW * itemsize


def _check_groups(groups, C: int, OC: int) -> int:
    groups = int(groups)
    if groups < 1 or C % groups or OC % groups:
        raise ValueError(f"direct conv: groups {groups} must be >= 1 and divide the input "
                         f"({C}) and output ({OC}) channels")
    return groups


def conv2d_forward_direct(x, weight, bias, g: Geometry2d, groups: int = 1) -> np.ndarray:
    """y (N, OC, OH, OW) = conv2d(x (N, C, H, W), weight (OC, C/groups, KH, KW)) + bias (OC,)
    or no bias (None). Any stride, padding, dilation and groups; inputs of any layout."""
    x = np.ascontiguousarray(x)
    weight = np.ascontiguousarray(weight, dtype=x.dtype)
    N, C = x.shape[:2]
    OC = weight.shape[0]
    G = _check_groups(groups, C, OC)
    b = (np.zeros(OC, dtype=x.dtype) if bias is None
         else np.ascontiguousarray(bias, dtype=x.dtype))
    y = np.empty((N, OC, g.OH, g.OW), dtype=x.dtype)
    w = weight.reshape(OC, -1)
    NB = _interleaved(g, _xs_bytes(C, g, x.itemsize))
    blocks = _image_blocks(N, 2 * w.size * g.OH * g.OW, NB)

    def run(i):
        n0, n1 = blocks[i]
        _forward_kernel(x[n0:n1], w, b, y[n0:n1], G, NB, *g[:8])

    parallel_for(run, len(blocks))
    return y


def conv2d_weight_grad_direct(x, gy, w_shape, g: Geometry2d, groups: int = 1) -> np.ndarray:
    """gw (OC, C/groups, KH, KW) of y = conv2d(x, w): x (N, C, H, W), gy (N, OC, OH, OW).
    Per-block partial sums, added in block order (the same bits for any thread count)."""
    x = np.ascontiguousarray(x)
    gy = np.ascontiguousarray(gy, dtype=x.dtype)
    N, C = x.shape[:2]
    OC = int(w_shape[0])
    G = _check_groups(groups, C, OC)
    T = int(np.prod(w_shape[1:]))
    NB = _interleaved(g, _xs_bytes(C, g, x.itemsize))
    blocks = _image_blocks(N, 2 * OC * T * g.OH * g.OW, NB)
    parts = [np.empty((OC, T), dtype=x.dtype) for _ in blocks]

    def run(i):
        n0, n1 = blocks[i]
        _weight_grad_kernel(x[n0:n1], gy[n0:n1], parts[i], G, NB, *g[:8])

    parallel_for(run, len(blocks))
    gw = np.zeros((OC, T), dtype=x.dtype) if not parts else parts[0]
    for p in parts[1:]:      # in block order: the same sum for any number of threads
        gw += p
    return gw.reshape(tuple(int(s) for s in w_shape))


def conv2d_input_grad_direct(gy, weight, x_shape, g: Geometry2d, groups: int = 1) -> np.ndarray:
    """gx (N, C, H, W) of y = conv2d(x, weight): gy (N, OC, OH, OW), x_shape (N, C, H, W).

    Stride 1, C > 1 and H*W <= OH*OW (padding that keeps the size, as "same"): gx is itself a
    convolution (gather form), of gy with the kernel flipped and its in/out channels swapped,
    padded by DH*(KH-1) - PH (may be negative: the unfold then crops), so it runs the forward
    kernel and nothing is folded back (big 64->64 3x3 layer: 27 -> 22 ms). Otherwise the
    scatter kernel (gxs, then fold): the gather form would compute H*W outputs with every tap,
    H*W/(OH*OW) times the multiply-adds (2.25x for SimpLeNet's conv2: 24 -> 42 ms), and with
    one input channel it has one output channel, so no two share a pass (LeNet's conv1:
    1.8 -> 3.8 ms; times at batch 256, one thread)."""
    gy = np.ascontiguousarray(gy)
    weight = np.ascontiguousarray(weight, dtype=gy.dtype)
    N, C, H, W = (int(s) for s in x_shape)
    OC, _, KH, KW = weight.shape
    G = _check_groups(groups, C, OC)
    if g.SH == 1 and g.SW == 1 and C > 1 and H * W <= g.OH * g.OW:
        Cg, OCg = C // G, OC // G
        flipped = weight.reshape(G, OCg, Cg, KH, KW).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
        gt = Geometry2d(KH, KW, 1, 1, g.DH * (KH - 1) - g.PH, g.DW * (KW - 1) - g.PW,
                        g.DH, g.DW, H, W)
        return conv2d_forward_direct(gy, flipped.reshape(C, OCg, KH, KW), None, gt, G)
    gx = np.empty((N, C, H, W), dtype=gy.dtype)
    w = weight.reshape(OC, -1)
    NB = _interleaved(g, _xs_bytes(C, g, gy.itemsize))
    blocks = _image_blocks(N, 2 * w.size * g.OH * g.OW, NB)

    def run(i):
        n0, n1 = blocks[i]
        _input_grad_kernel(gy[n0:n1], w, gx[n0:n1], G, NB, *g[:8])

    parallel_for(run, len(blocks))
    return gx
