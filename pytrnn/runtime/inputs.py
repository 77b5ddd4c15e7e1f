"""A model's inputs, checked before any compiled call (the JAX backend does no
bounds checks): token ids in range, sequence shapes, the unrolled mode's fixed
window, and sentences left-padded with their 0/1 mask."""

from __future__ import annotations

import numpy as np

from pytrnn.data.batches import left_pad, pad_sentences
from pytrnn.errors import ConfigError


def check_ids(cfg, *arrays) -> None:
    """Token ids in [0, vocab): the JAX backend does no bounds checks."""
    D = cfg.vocab_size
    for a in arrays:
        if a.min() < 0 or a.max() >= D:
            raise ConfigError(
                f"token ids must be in [0, {D}), got {a.min()}..{a.max()}"
            )


def check_chunk(X, Y) -> None:
    """K windows of ids: X and Y (K, T) or (K, T, B) alike."""
    if np.ndim(X) not in (2, 3) or np.shape(X) != np.shape(Y):
        raise ConfigError(
            f"X and Y must be (K, T) or (K, T, B) alike, got {np.shape(X)}, {np.shape(Y)}"
        )


def check_seq(cfg, mode: str, x, y=None, pad_to=None):
    """Validate ids and lengths here: the JAX backend does no bounds checks."""
    x = np.asarray(x)
    if x.ndim != 1 or len(x) == 0:
        raise ConfigError(
            f"a sequence must be a non-empty 1-D array, got shape {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.integer):
        raise ConfigError(f"token ids must be integers, got {x.dtype}")
    arrays = [x]
    if y is not None:
        y = np.asarray(y)
        if y.shape != x.shape or not np.issubdtype(y.dtype, np.integer):
            raise ConfigError(
                f"y must be integers shaped like x {x.shape}, got {y.shape}"
            )
        arrays.append(y)
    check_ids(cfg, *arrays)
    n = len(x)
    if pad_to is not None and pad_to < n:
        raise ConfigError(f"pad_to={pad_to} is shorter than the sequence ({n})")
    length = pad_to if pad_to is not None else n
    if mode == "unroll" and pad_to is None and n != cfg.window:
        raise ConfigError(
            f"mode 'unroll' takes sequences of exactly window={cfg.window}, got {n}"
        )
    x = x.astype(np.int32)
    y = None if y is None else y.astype(np.int32)
    return x, y, length


def seq_args(cfg, mode: str, x, y, pad_to):
    """The compiled functions' arguments for (x, y): as they are, or left-padded to
    ``pad_to`` with the mask. Returns (args, length, masked)."""
    x, y, length = check_seq(cfg, mode, x, y, pad_to)
    if pad_to is None:
        return [x] if y is None else [x, y], length, False
    yy = np.zeros_like(x) if y is None else y
    xp, yp, mask = left_pad(x, yy, pad_to, cfg.dtype)
    return ([xp, mask] if y is None else [xp, yp, mask]), length, True


def pad_batch(
    cfg, mode: str, seqs, pad_to: int | None = None, columns: int | None = None
):
    """B (x, y) sentences left-padded to one length: X, Y (T, B) and the mask (T, B).
    ``columns``: that many columns, the ones past the sentences empty (mask 0), so
    that a last, smaller group keeps the compiled shape."""
    if not seqs:
        raise ConfigError("a batch needs at least one sequence")
    T = pad_to if pad_to is not None else max(len(x) for x, _ in seqs)
    checked = [check_seq(cfg, mode, x, y, T)[:2] for x, y in seqs]
    return pad_sentences(checked, T, cfg.dtype, columns)
