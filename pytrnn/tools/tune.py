"""``pytrnn tune``: the neural cache's and dynamic evaluation's settings searched
on validation text only, then the best of each, and of both together, scored
once on test, as AWD-LSTM tuned pointer.py and as ``dynamiceval.py --grid`` does.

- The cache: every (window, theta, lambda) of the grid on the model's states of
  valid, computed once (pytrnn.runtime.cache.mixed_total on the stored pieces).
- Dynamic evaluation: every (eta, decay) of the grid, a pass over valid each.
- Both: the best dynamic setting's pass kept, the cache's grid mixed into it.

Each test figure is ``pytrnn eval``'s with that setting (the same function), so
the printed command reproduces it.
"""

from __future__ import annotations

import itertools
import math
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from pytrnn.errors import ConfigError
from pytrnn.runtime.cache import Cache, mixed_total, stream_pieces
from pytrnn.runtime.dynamic import Dynamic, segments

# AWD-LSTM's pointer settings lie inside: window 500, theta 1, lambda 0.1 (PTB)
# and 3785, 0.6625, 0.1279 (WikiText-2, whose window the default grid rounds down)
CACHE_WINDOWS = (100, 500, 2000)
CACHE_THETAS = (0.3, 0.6625, 1.0)
CACHE_LAMBDAS = (0.1, 0.2, 0.3)
# dynamiceval.py --grid's, for segments of 5 (scaled by window / 5 for others)
DYNAMIC_LRS = (3e-5, 4e-5, 5e-5, 6e-5, 7e-5, 1e-4)
DYNAMIC_DECAYS = (0.001, 0.002, 0.003, 0.005)
FAST_TOKENS = 30000  # dynamiceval.py --gridfast: the first 30K of valid


@dataclass(frozen=True)
class Grid:
    windows: tuple = CACHE_WINDOWS
    thetas: tuple = CACHE_THETAS
    lambdas: tuple = CACHE_LAMBDAS
    lrs: tuple | None = None  # None: DYNAMIC_LRS scaled to the segment's length
    decays: tuple | None = None
    cache: bool = True
    dynamic: bool = True
    fast: bool = False

    def caches(self):
        for w, t, lam in itertools.product(self.windows, self.thetas, self.lambdas):
            yield Cache(w, t, lam).validate()

    def dynamics(self, base: Dynamic):
        scale = base.window / 5.0
        lrs = self.lrs or tuple(x * scale for x in DYNAMIC_LRS)
        decays = self.decays or tuple(x * scale for x in DYNAMIC_DECAYS)
        for decay, lr in itertools.product(decays, lrs):
            yield replace(base, lr=lr, decay=decay).validate()


@dataclass
class Row:
    name: str  # "static", "cache", "dynamic", "both"
    cache: Cache | None = None
    dynamic: Dynamic | None = None
    valid: float = math.inf  # mean -log p per valid token
    test: float | None = None  # per test token
    seconds: float = 0.0  # the test figure's


def figure(mean: float, level: str) -> float:
    """Perplexity (words) or bits per char of a mean -log p."""
    return math.exp(mean) if level == "word" else mean / math.log(2)


def setting(row: Row) -> str:
    parts = []
    if row.dynamic is not None:
        d = row.dynamic
        parts.append(f"eta {d.lr:g}, decay {d.decay:g}")
    if row.cache is not None:
        c = row.cache
        parts.append(f"window {c.window}, theta {c.theta:g}, lambda {c.lam:g}")
    return "; ".join(parts)


def command(checkpoint, test, row: Row, batch) -> str:
    """The ``pytrnn eval`` that prints ``row``'s test figure."""
    out = ["pytrnn", "eval", str(checkpoint), "--corpus", str(test)]
    if row.cache is not None:
        c = row.cache
        out += ["--cache-window", str(c.window), "--cache-theta", str(c.theta),
                "--cache-lambda", str(c.lam)]  # fmt: skip
    if row.dynamic is not None:
        d, plain = row.dynamic, Dynamic(0.0)
        out += ["--dynamic-lr", repr(d.lr), "--dynamic-decay", repr(d.decay)]
        for name in ("eps", "window", "rule", "stats_batches"):
            if getattr(d, name) != getattr(plain, name):
                out += [f"--dynamic-{name.replace('_', '-')}", str(getattr(d, name))]
    elif batch is not None:
        out += ["--batch", str(batch)]
    return " ".join(shlex.quote(p) for p in out)


def _best_cache(pieces, grid: Grid, n: int, E: int, label: str, say, level) -> Row:
    """The cache setting of the grid with the least loss over ``pieces``."""
    best, cut = Row("cache"), [c for c in grid.caches() if c.window < n - 1]
    if not cut:
        raise ConfigError(
            f"every --cache-windows value is not shorter than the {n - 1} "
            f"positions of each of valid's {E} streams: pick smaller windows"
        )
    for i, cache in enumerate(cut, 1):
        mean = mixed_total(pieces, cache) / (E * (n - 1))
        say(
            f"{label} {setting(Row('', cache))}: valid {figure(mean, level):.2f} "
            f"({i}/{len(cut)})"
        )
        if mean < best.valid:
            best = Row("cache", cache, valid=mean)
    if best.cache is None:
        raise ConfigError(f"every {label} setting gave no figure (nan)")
    return best


def tune(checkpoint, valid, test, grid: Grid, base: Dynamic, batch=None,
         backend=None, say=None) -> tuple[list[Row], dict]:  # fmt: skip
    """The rows (static, and the best of each searched kind, with valid and test
    figures) and what was scored (level, tokens of valid and test)."""
    from pytrnn.runtime.scoring import EVAL_STREAMS, windows_loss
    from pytrnn.tools.dynamic_stats import stats_for
    from pytrnn.tools.evaluate import evaluate, stream_text
    from pytrnn.tools.generate import carries_state, layout, load_model

    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    if not (grid.cache or grid.dynamic):
        raise ConfigError("--no-cache and --no-dynamic leave nothing to tune")
    for name, path in (("--valid", valid), ("--test", test)):
        if not Path(path).is_file():
            raise ConfigError(f"{name} {path}: no such file")
    base = base.validate()
    list(grid.caches())  # each cache setting validated before any work
    model, ck = load_model(checkpoint, backend)
    if ck.level == "word" and layout(ck) != "stream":
        raise ConfigError(
            "the cache and dynamic evaluation read a stream: this checkpoint's "
            "model was trained on sentences (--layout sentences)"
        )
    ids, _ = stream_text(ck, Path(valid).read_text(encoding="utf-8"))
    ids = ids[:FAST_TOKENS] if grid.fast else ids
    L, carry, E = ck.cfg.window, carries_state(ck), batch or EVAL_STREAMS
    total, n = windows_loss(model, ids, L, carry, E)
    rows = [Row("static", valid=total / n)]
    if grid.cache:
        pieces, streams, n = stream_pieces(model, ids, L, carry, E)
        rows.append(_best_cache(list(pieces), grid, n, streams, "cache", say, ck.level))
    if grid.dynamic:
        ms = stats_for(model, ck, checkpoint, base.window, base.stats_batches)
        best, kept, settings = Row("dynamic"), None, list(grid.dynamics(base))
        for i, dyn in enumerate(settings, 1):
            t0 = time.perf_counter()
            segs = list(segments(model, ids, dyn, ms, keep=grid.cache))
            mean = sum(s[0] for s in segs) / (len(ids) - 1)
            took, shown = time.perf_counter() - t0, figure(mean, ck.level)
            say(f"dynamic {setting(Row('', dynamic=dyn))}: valid {shown:.2f} "
                f"({i}/{len(settings)}, {took:.1f} s)")  # fmt: skip
            if mean < best.valid:
                best, kept = Row("dynamic", dynamic=dyn, valid=mean), segs
        if best.dynamic is None:
            raise ConfigError("every dynamic evaluation setting gave no figure (nan)")
        rows.append(best)
        if grid.cache:
            both = _best_cache([s[2:5] for s in kept], grid, len(ids), 1,
                               "both", say, ck.level)  # fmt: skip
            rows.append(replace(both, name="both", dynamic=best.dynamic))
    for row in rows:
        t0 = time.perf_counter()
        got = evaluate(checkpoint, test, backend, batch, row.cache,
                       dynamic=row.dynamic)  # fmt: skip
        row.seconds = time.perf_counter() - t0
        row.test = got["loss_per_word" if ck.level == "word" else "loss_per_char"]
        say(f"test, {row.name}: done in {row.seconds:.1f} s")
    n_test = got["words" if ck.level == "word" else "chars"]
    return rows, {
        "level": ck.level,
        "valid_tokens": len(ids) - 1,
        "test_tokens": n_test,
    }


def table(rows, info, checkpoint, test, batch) -> list[str]:
    """The summary: each row's valid and test figure, the change, the time of
    its test figure, and the command that reproduces it."""
    level = info["level"]
    unit = "ppl" if level == "word" else "bits/char"
    static = figure(rows[0].test, level)
    names = [r.name + (f" ({setting(r)})" if setting(r) else "") for r in rows]
    w = max(len(n) for n in names)
    out = [f"{'setting':<{w}} {'valid ' + unit:>14} {'test ' + unit:>14} "
           f"{'change':>8} {'test time':>10}"]  # fmt: skip
    for r, name in zip(rows, names):
        v, t = figure(r.valid, level), figure(r.test, level)
        change = "" if r is rows[0] else f"{t / static - 1:+.1%}"
        out.append(f"{name:<{w}} {v:>14.2f} {t:>14.2f} {change:>8} "
                   f"{r.seconds:>8.1f} s")  # fmt: skip
    out.append("")
    for r in rows:
        out.append(f"{r.name}: {command(checkpoint, test, r, batch)}")
    return out
