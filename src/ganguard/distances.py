"""Squared Euclidean distances between records: the one kernel of ganguard.

‖q − s‖² = ‖q‖² + ‖s‖² − 2 q·s, one matrix product per block of pairs instead of an (n, m, d)
tensor of differences. MIMGAN's soft nearest-neighbour distance differentiates through
`squared_distances`; the attacks search the nearest samples (`nearest`) and count neighbours
(`count_within`) in memory-bounded blocks; the report's members at risk use the attacks.
Records are flattened to vectors; float64 is kept, anything else computed in float32. The
searches compute on the command's device (`ganguard.devices.using`) and return CPU tensors.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganguard.devices import current_device
from ganguard.errors import GanguardError

_MIB = 2**20
CACHE_MB = 8.0  # block size that keeps a distance block in the CPU cache


def _partial(q: torch.Tensor, s: torch.Tensor, s_norms: torch.Tensor,
             out: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """‖s_j‖² − 2 q_i·s_j for every pair: the squared distance less ‖q_i‖², which is constant
    along a row and so can be added after a row's minimum (or folded into a threshold)."""
    if out is None:
        return torch.addmm(s_norms[None, :], q, s.T, alpha=-2.0)
    return torch.addmm(s_norms[None, :], q, s.T, alpha=-2.0, out=out)


def row_norms(x: torch.Tensor) -> torch.Tensor:
    """‖x_i‖² of each row."""
    return torch.einsum("ij,ij->i", x, x)


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The (n, m) matrix of ‖a_i − b_j‖² (differentiable). Rounding can leave a copy a hair
    below 0: clamped."""
    a, b = a.flatten(1), b.flatten(1)
    return (_partial(a, b, row_norms(b)) + row_norms(a)[:, None]).clamp(min=0)


def as_matrix(x: Any) -> torch.Tensor:
    """A (n, d) contiguous floating tensor: records flattened; float64 kept, else float32."""
    t = torch.as_tensor(x)
    if t.ndim == 0:
        raise GanguardError("expected an array of records, got a scalar")
    t = t.reshape(t.shape[0], -1)
    if t.dtype != torch.float64:
        t = t.to(torch.float32)
    return t.contiguous()


def chunk_sizes(
    n_queries: int, n_samples: int, memory_mb: float, itemsize: int = 4
) -> tuple[int, int]:
    """(query rows, sample columns) of the largest blocks whose distance matrix fits memory_mb.

    A block of rows x columns elements of `itemsize` bytes never exceeds memory_mb MiB (at least
    one element). Whole rows of samples are preferred (no running minimum to merge); when they
    do not fit, blocks are about square, which keeps the matrix products efficient.
    """
    if not (isinstance(memory_mb, (int, float)) and math.isfinite(memory_mb) and memory_mb > 0):
        raise GanguardError(f"memory_mb must be a positive number, not {memory_mb!r}")
    budget = max(1, int(memory_mb * _MIB // itemsize))
    nq, ns = max(1, n_queries), max(1, n_samples)
    cols = min(ns, max(math.isqrt(budget), budget // nq))
    rows = min(nq, max(1, budget // cols))
    return rows, cols


def _pair(queries: Any, samples: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Queries and samples as matrices of one dtype on the command's device."""
    q, s = as_matrix(queries), as_matrix(samples)
    if q.shape[1] != s.shape[1]:
        raise GanguardError(f"queries have {q.shape[1]} values per record, samples {s.shape[1]}")
    device = current_device()
    return q.to(device), s.to(device, q.dtype)


@torch.no_grad()
def nearest(
    queries: Any,
    samples: Any,
    k: int = 1,
    memory_mb: float = 256,
    *,
    sample_norms: torch.Tensor | None = None,
    exclude_self: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query record, the squared distances to its k nearest sample records, smallest
    first, and their indices (int64): shapes (n,) for k = 1, else (n, min(k, m)).

    The distance blocks held at any time stay within `memory_mb` MiB (and within the CPU cache,
    which measured faster: benchmarks/audit_speed.py). With no samples the distances are +inf.
    Ties keep the earlier sample. `exclude_self` (queries and samples the same records) skips the
    pair (i, i): each record's nearest other record. `sample_norms` may pass ‖s‖² precomputed.
    """
    q, s = _pair(queries, samples)
    nq, ns = q.shape[0], s.shape[0]
    if exclude_self and nq != ns:
        raise ValueError("exclude_self needs queries and samples to be the same records")
    width = 1 if k == 1 else min(k, ns)
    on = {"device": q.device}
    best = torch.full((nq, width), math.inf, dtype=q.dtype, **on)
    best_index = torch.zeros((nq, width), dtype=torch.int64, **on)
    if nq and ns:
        sn = row_norms(s) if sample_norms is None else sample_norms.to(q.device, q.dtype)
        rows, cols = chunk_sizes(nq, ns, min(memory_mb, CACHE_MB), s.element_size())
        buffer = torch.empty(rows * cols, dtype=q.dtype, **on)
        for q0 in range(0, nq, rows):
            block_q = q[q0 : q0 + rows]
            nr = len(block_q)
            run_val = torch.full((nr, 0), math.inf, dtype=q.dtype, **on)
            run_idx = torch.zeros((nr, 0), dtype=torch.int64, **on)
            for s0 in range(0, ns, cols):
                nc = min(cols, ns - s0)
                block = _partial(block_q, s[s0 : s0 + nc], sn[s0 : s0 + nc],
                                 out=buffer[: nr * nc].view(nr, nc))  # fmt: skip
                if exclude_self:
                    lo, hi = max(q0, s0), min(q0 + nr, s0 + nc)
                    if lo < hi:
                        diag = torch.arange(lo, hi, **on)
                        block[diag - q0, diag - s0] = math.inf
                if width == 1:
                    val, idx = block.min(dim=1, keepdim=True)
                else:
                    val, idx = block.topk(min(width, nc), dim=1, largest=False, sorted=True)
                # merge with the best so far; the earlier columns first, so ties keep them
                both_val, both_idx = torch.cat([run_val, val], 1), torch.cat([run_idx, idx + s0], 1)
                order = both_val.argsort(dim=1, stable=True)[:, :width]
                run_val, run_idx = both_val.gather(1, order), both_idx.gather(1, order)
            best[q0 : q0 + nr] = (run_val + row_norms(block_q)[:, None]).clamp_(min=0)
            best_index[q0 : q0 + nr] = run_idx
    best, best_index = best.cpu(), best_index.cpu()
    if k == 1:
        return best[:, 0], best_index[:, 0]
    return best, best_index


@torch.no_grad()
def count_within(
    queries: Any, samples: Any, radius: float, memory_mb: float = 256
) -> torch.Tensor:
    """For each query record, how many sample records lie within `radius` (distance <= radius).

    Chunked like `nearest`; the block of distances and its comparison mask together stay within
    `memory_mb` MiB.
    """
    q, s = _pair(queries, samples)
    nq, ns = q.shape[0], s.shape[0]
    counts = torch.zeros(nq, dtype=torch.int64, device=q.device)
    if nq == 0 or ns == 0:
        return counts.cpu()
    sn = row_norms(s)
    # + 1 byte of mask; cache-sized blocks as in nearest
    rows, cols = chunk_sizes(nq, ns, min(memory_mb, CACHE_MB), s.element_size() + 1)
    buffer = torch.empty(rows * cols, dtype=q.dtype, device=q.device)
    for q0 in range(0, nq, rows):
        block_q = q[q0 : q0 + rows]
        nr = len(block_q)
        limit = (float(radius) ** 2 - row_norms(block_q)).unsqueeze(1)
        for s0 in range(0, ns, cols):
            nc = min(cols, ns - s0)
            block = _partial(block_q, s[s0 : s0 + nc], sn[s0 : s0 + nc],
                             out=buffer[: nr * nc].view(nr, nc))  # fmt: skip
            counts[q0 : q0 + nr] += (block <= limit).sum(dim=1)
    return counts.cpu()
