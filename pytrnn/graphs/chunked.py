"""The full softmax's output layer in chunks of rows (``--output-chunk``): the
logits of a step never exist whole. Training computes, chunk by chunk, the
logits, their log-softmax at the targets, the softmax's gradient and from it
``dW += h_c.T @ dz``, ``db += sum(dz)`` and ``dh_c = dz @ W.T``, in one pass
whose chunk stays in cache: the fused cross-entropy the field calls "cut
cross-entropy" (Wijmans et al. 2024), here as a ``scan`` over chunks.

``pytensor.grad`` sees one Op (an ``OpFromGraph``) whose gradient is the
gradients it already computed, scaled by the loss's own: its loss is the
masked sum ``sum(m * err)``, linear in nothing it differentiates twice. The
forward-only scorer (``chunked_errors``) computes the errors alone, for
held-out text and for programs that read no gradient.

The sums over rows (``dW``, ``db``, the loss) run chunk by chunk, so they
differ from the unchunked layer's at rounding level (docs/performance.md).
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.gradient import disconnected_type

from pytrnn.graphs import mixed

# --output-chunk left unset: a step whose logits take more than AUTO_WHOLE_BYTES
# (by --precision) goes in about AUTO_CHUNKS chunks, each at least AUTO_CHUNK_BYTES
# of logits. Measured (docs/performance.md): in float32, chunks halve the step's
# memory at WikiText-103's V and cost time there (each chunk reads and writes dW:
# fewer chunks, less), and change it by less than its noise at WikiText-2's; bf16's
# products gain only in chunks (1.3x at WikiText-2's V), none whole
AUTO_WHOLE_BYTES = {"full": 256 << 20, "bf16": 8 << 20}
AUTO_CHUNK_BYTES = 8 << 20
AUTO_CHUNKS = 6


def output_rows(cfg, rows: int) -> int:
    """Rows per chunk of the full softmax for a step of ``rows`` rows (0: the
    whole step at once): --output-chunk, else see AUTO_WHOLE_BYTES; 32 to 256
    rows (docs/performance.md, "The output layer in chunks, and bf16")."""
    if cfg.softmax != "full":
        return 0
    if cfg.output_chunk is not None:
        return cfg.output_chunk
    row = cfg.vocab_size * (8 if cfg.dtype == "float64" else 4)
    if rows * row <= AUTO_WHOLE_BYTES[cfg.precision]:
        return 0
    per = max(AUTO_CHUNK_BYTES // row, -(-rows // AUTO_CHUNKS))
    return max(32, min(256, per))


def rows_per_chunk(chunk: int, rows: int) -> tuple[int, int]:
    """(chunks, rows in each): ``chunk`` rows or fewer, as even as they go, so
    the last chunk's padding is under one row per chunk."""
    n = max(1, -(-rows // max(1, chunk)))
    return n, -(-rows // n)


def _chunks(h2, y, m, chunk: int):
    """h (N, H), y (N,), m (N,) as (n, c, ...) with zero rows (weight 0) padded
    after the last. A static N is cut evenly; a free one (C and Numba's free
    lengths) in chunks of ``chunk`` rows."""
    N = h2.type.shape[0]
    if N is None:
        N = h2.shape[0]
        c = chunk
        n = -(-N // c)
    else:
        n, c = rows_per_chunk(chunk, N)
    pad = n * c - N
    if not isinstance(pad, int) or pad:
        h2 = pt.concatenate([h2, pt.zeros((pad, h2.shape[1]), dtype=h2.dtype)])
        y = pt.concatenate([y, pt.zeros((pad,), dtype=y.dtype)])
        m = pt.concatenate([m, pt.zeros((pad,), dtype=m.dtype)])
    H = h2.type.shape[1]
    return h2.reshape((n, c, H)), y.reshape((n, c)), m.reshape((n, c)), n, c, N


def _log_softmax_at(hc, yc, W, b, precision):
    """One chunk's logits, their log-sum-exp's pieces and the error at each target."""
    z = mixed.dot(hc, W, precision) + b
    top = z.max(axis=1, keepdims=True)
    e = pt.exp(z - top)
    s = e.sum(axis=1, keepdims=True)
    err = (top + pt.log(s))[:, 0] - z[pt.arange(z.shape[0]), yc]
    return e, s, err


def chunked_errors(h2, W, b, y, chunk: int, precision: str = "full"):
    """-log softmax(h W + b)[y] for each row of h (N, H), ``chunk`` rows at a time."""
    m = pt.ones_like(y, dtype=h2.dtype)
    H, Y, _, n, c, N = _chunks(h2, y, m, chunk)

    def step(hc, yc, W, b):
        return _log_softmax_at(hc, yc, W, b, precision)[2]

    errs = pytensor.scan(
        step, sequences=[H, Y], non_sequences=[W, b], return_updates=False
    )
    return errs.reshape((n * c,))[:N]


def _fused_graph(h2, W, b, y, m, chunk: int, precision: str):
    """(loss, errors, dh, dW, db) of loss = sum(m * err), in one scan over chunks."""
    H, Y, M, n, c, N = _chunks(h2, y, m, chunk)
    rows = pt.arange(c)

    def step(hc, yc, mc, dW, db, loss, W, b):
        e, s, err = _log_softmax_at(hc, yc, W, b, precision)
        dz = e * (mc[:, None] / s)
        dz = pt.inc_subtensor(dz[rows, yc], -mc)
        return [
            dW + mixed.dot(hc.T, dz, precision),
            db + dz.sum(axis=0),
            loss + (mc * err).sum(),
            err,
            mixed.dot(dz, W.T, precision),
        ]

    zero = pt.zeros_like
    dW, db, loss, errs, dh = pytensor.scan(
        step,
        sequences=[H, Y, M],
        outputs_info=[zero(W), zero(b), pt.zeros((), dtype=h2.dtype), None, None],
        non_sequences=[W, b],
        return_updates=False,
    )
    width = h2.type.shape[1]
    return (
        loss[-1],
        errs.reshape((n * c,))[:N],
        dh.reshape((n * c, width))[:N],
        dW[-1],
        db[-1],
    )


def _pullback(inputs, outputs, output_grads):
    """The gradients the forward pass computed, times the loss's gradient. The
    Op's other outputs (the errors, the gradients) are the loss's by-products,
    which only ``fused_loss`` reads: nothing flows back from them."""
    g = output_grads[0]
    _, errs, dh, dW, db = outputs
    return [g * dh, g * dW, g * db, disconnected_type(), g * errs]


def fused_loss(h2, W, b, y, m, chunk: int, precision: str = "full"):
    """sum over rows of m * -log softmax(h W + b)[y] for h (N, H), whose gradient
    (h, W, b and m) was computed in the same pass over chunks."""
    ins = [v.type() for v in (h2, W, b, y, m)]
    op = OpFromGraph(
        ins,
        list(_fused_graph(*ins, chunk, precision)),
        pullback=_pullback,
        name="chunked_xent",
    )
    return op(h2, W, b, y, m)[0]


def output_layer(cfg, Why, by, hs, y, mask, chunk: int):
    """The forward graphs' full softmax in chunks of ``chunk`` rows:
    (errors (T, [B]) for scoring, the masked sum of the errors whose gradient
    came from the same pass, for training) from the top states hs (T, [B,] H)."""
    h2, y2 = hs.reshape((-1, cfg.top_width)), y.reshape((-1,))
    m = pt.ones_like(y2, dtype=cfg.dtype) if mask is None else mask.reshape((-1,))
    errors = chunked_errors(h2, Why, by, y2, chunk, cfg.precision)
    total = fused_loss(h2, Why, by, y2, m, chunk, cfg.precision)
    return errors.reshape(y.shape), total
