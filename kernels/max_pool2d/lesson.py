"""Rung 0: max pooling as lesson 6.2 draws it: cut the image into windows and keep each window's largest value.
unfold lays every window out as a column (padding filled with -inf, which never wins), and a max over each column
gives the output; torch.max over a dimension returns the first maximum, so gradients go where the pool's do.
Every pixel is copied once per window that covers it."""

import torch
import torch.nn.functional as F

from kernels.max_pool2d.spec import check_args
from kernels.registry import variant
from kernels.spec import accepts_unbatched


@variant("max_pool2d", "lesson")
@accepts_unbatched
def lesson_max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, activation=None
):
    """(relu, then) unfold the windows, max over each: the lesson's picture of max pooling."""
    geo = check_args(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, activation)
    if activation == "relu":  # before the pool, as the lesson CNNs apply it (conv -> relu -> pool)
        x = torch.relu(x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo.kernel, geo.stride, geo.pad, geo.dilation
    # ceil_mode's last window may hang past the bottom or right edge: pad there too, with -inf
    bottom = max(ph, (geo.p - 1) * sh + dh * (kh - 1) + 1 - geo.h - ph)
    right = max(pw, (geo.q - 1) * sw + dw * (kw - 1) + 1 - geo.w - pw)
    padded = F.pad(x, (pw, right, ph, bottom), value=float("-inf"))
    windows = F.unfold(padded, geo.kernel, dilation=geo.dilation, stride=geo.stride)  # [N, C*kh*kw, L]
    windows = windows.view(geo.n, geo.c, kh * kw, geo.p * geo.q)
    best = windows.max(dim=2)
    y = best.values.view(geo.n, geo.c, geo.p, geo.q)
    if not return_indices:
        return y
    # the window position of each maximum as torch reports it: the flat index h * W + w in the unpadded image
    r, s = best.indices // kw, best.indices % kw
    rows, cols = torch.arange(geo.p, device=x.device), torch.arange(geo.q, device=x.device)
    p, q = rows.repeat_interleave(geo.q), cols.repeat(geo.p)
    h, w = p * sh - ph + r * dh, q * sw - pw + s * dw
    return y, (h * geo.w + w).view(geo.n, geo.c, geo.p, geo.q)
