"""``pytrnn bench --level word``: words/s of ``pytrnn train`` at the word level
(V = 8,003, H = 100), both layouts, batch 1, 20 and 64, float64 and float32, next
to a plain numpy BPTT loop and a hand-written JAX trainer of the same model
measured in the same run (and PyTorch's, where ``torch`` happens to be importable;
it is never a pytrnn dependency).

The text is made here, not downloaded: sentences of made-up words drawn from a
Zipf law over a lexicon large enough that the 8,000 most frequent words are all
kept, so the vocabulary is the size the figures are quoted at. Each pytrnn row is
one pass of ``pytrnn.training.run.train`` on it (its own words/s and compile time).
Machines are shared and noisy: compare the ratios.
"""

from __future__ import annotations

import string
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from pytrnn.bench.baselines import numpy_train
from pytrnn.bench.cells import blocked, jax_cell_trainer
from pytrnn.bench.grid import Row, _timed, best_of, matmul_peak_gflops
from pytrnn.bench.machine import product_rates
from pytrnn.config import RNNConfig, TrainConfig
from pytrnn.data.batches import split_streams, stack_windows, window_starts
from pytrnn.data.words import WordVocab, auto_cutoffs, split_sentences, stream_ids
from pytrnn.graphs.params import init_params
from pytrnn.tools.info import cpu_facts
from pytrnn.training.progress import PrintReporter

WINDOW = 35  # word_language_model's bptt
CHARS_PER_WORD = 3.4  # of the synthetic text, spaces and stops included


@dataclass(frozen=True)
class Setting:
    """One pytrnn row: ``pytrnn train --level word --layout L --batch B --dtype D
    [--fuse F]``."""

    layout: str  # "stream" or "sentences"
    batch: int
    dtype: str
    fuse: int | None = None
    softmax: str = "full"

    @property
    def name(self) -> str:
        fuse = "" if self.fuse is None else f" --fuse {self.fuse}"
        soft = " --softmax adaptive" if self.softmax == "adaptive" else ""
        return f"pytrnn train {self.layout}{fuse}{soft} {self.dtype} batch {self.batch}"


# the defaults of both layouts (sentences: 16 groups per call on JAX), and the
# sentence layout one group per call (--fuse 1, its default before)
GRID = [
    Setting(layout, B, dt)
    for layout in ("stream", "sentences")
    for B in (1, 20, 64)
    for dt in ("float64", "float32")
] + [Setting("sentences", B, dt, 1) for B in (20, 64) for dt in ("float64", "float32")]
# --softmax adaptive: the stream rows beside the full softmax's, in the same run
ADAPTIVE_GRID = [
    Setting("stream", B, dt, softmax=s)
    for B in (20, 64)
    for dt in ("float64", "float32")
    for s in ("full", "adaptive")
]


def coverage_cutoffs(counts, shares=(0.8, 0.95)) -> str:
    """``--cutoffs auto``'s rule (pytrnn.data.words.auto_cutoffs) for a vocabulary's
    token ``counts`` in any order: the ids taken in falling frequency."""
    return auto_cutoffs(np.sort(np.asarray(counts))[::-1], shares)


def lexicon(n: int) -> list[str]:
    """n made-up lower-case words, short ones first (as frequent words are)."""
    out, k = [], 0
    letters = string.ascii_lowercase
    while len(out) < n:
        word, v = "", k
        while True:
            word = letters[v % 26] + word
            v = v // 26 - 1
            if v < 0:
                break
        if len(word) > 1:
            out.append(word)
        k += 1
    return out


def synthetic_text(
    words: int, distinct: int = 30_000, seed: int = 0, glossary: int = 0
) -> str:
    """``words`` tokens in sentences of 4 to 30 words, drawn by Zipf's law (s = 1)
    from ``distinct`` made-up words, after a glossary that names the ``glossary``
    most frequent once each (so any prefix of the text has at least that many
    distinct words)."""
    rng = np.random.default_rng(seed)
    lex = np.array(lexicon(distinct))
    p = 1.0 / np.arange(1, distinct + 1)
    ids = rng.choice(distinct, size=words, p=p / p.sum())
    out = [" ".join(lex[k : k + 20]) + "." for k in range(0, glossary, 20)]
    i = 0
    while i < words:
        n = int(rng.integers(4, 31))
        out.append(" ".join(lex[ids[i : i + n]]) + ".")
        i += n
    return "\n".join(out) + "\n"


def pytrnn_row(
    path: Path,
    setting: Setting,
    limit: int,
    hidden: int,
    vocab: int,
    backend: str | None,
    device: str | None = None,
    cutoffs: str | None = None,
) -> Row:
    """One pass of ``pytrnn train --level word`` on the text at ``path``."""
    from pytrnn.training import train

    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(
            corpus=str(path),
            level="word",
            layout=setting.layout,
            batch=setting.batch,
            fuse=setting.fuse,
            passes=1,
            val_frac=0.0,
            limit_chars=limit,
            max_words=vocab,
            max_sentence_len=0,
            backend=backend,
            device=device,
            sample_length=0,
            checkpoint=str(Path(d) / "w.npz"),
        )
        adaptive = (
            dict(softmax="adaptive", cutoffs=cutoffs)
            if setting.softmax == "adaptive"
            else {}
        )
        r = train(
            RNNConfig(hidden=hidden, window=WINDOW, dtype=setting.dtype, **adaptive),
            cfg,
            reporter=PrintReporter(quiet=True),
        )
    return Row(setting.name, r.units_per_s, r.compile_s, note=r.model.device)


def baseline_rows(
    ids: np.ndarray, V: int, H: int, budget: int, numpy_words: int, grid
) -> list[tuple[Row, str, int]]:
    """(row, dtype, batch): numpy (batch 1, float64), then the hand-written JAX
    trainer per (batch, dtype)."""
    import jax.numpy as jnp

    cfg = RNNConfig(vocab_size=V, hidden=H, window=WINDOW)
    P = init_params(cfg, np.random.default_rng(0))
    starts = window_starts(len(ids), WINDOW, "words")
    n_np = max(1, min(len(starts), numpy_words // WINDOW))
    dt = best_of(lambda: numpy_train(P, ids, starts[:n_np], WINDOW), 2)
    rows = [
        (
            Row("numpy BPTT loop float64 batch 1 (baseline)", n_np * WINDOW / dt),
            "float64",
            1,
        )
    ]
    for B, dtype in sorted({(g.batch, g.dtype) for g in grid}):
        streams = split_streams(ids, B)
        st = window_starts(streams.shape[1], WINDOW, "words")
        n = max(1, min(len(st), budget // (WINDOW * B)))
        X, Y = map(jnp.asarray, stack_windows(streams, st[:n], WINDOW))
        train = jax_cell_trainer(
            RNNConfig(vocab_size=V, hidden=H, dtype=dtype), None if B == 1 else B
        )
        PJ = {k: jnp.asarray(v, dtype) for k, v in P.items()}
        c = _timed(partial(blocked, train, PJ, X, Y))
        t = best_of(partial(blocked, train, PJ, X, Y), 2)
        rows.append(
            (
                Row(
                    f"hand-written JAX {dtype} batch {B} (baseline)",
                    n * WINDOW * B / t,
                    c,
                ),
                dtype,
                B,
            )
        )
    return rows


def torch_row(
    ids: np.ndarray, V: int, H: int, B: int, dtype: str, budget: int
) -> Row | None:
    """PyTorch's word model of the same size (Embedding, RNN, Linear; the notebook's
    SGD, L2 and clip; batch B, 35-token windows), only where torch is importable."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    tdt = torch.float64 if dtype == "float64" else torch.float32
    emb, rnn = torch.nn.Embedding(V, H).to(tdt), torch.nn.RNN(H, H).to(tdt)
    out = torch.nn.Linear(H, V).to(tdt)
    params = list(emb.parameters()) + list(rnn.parameters()) + list(out.parameters())
    weights = [emb.weight, rnn.weight_ih_l0, rnn.weight_hh_l0, out.weight]
    streams = torch.as_tensor(split_streams(ids, B).T.astype(np.int64))  # (S, B)
    n = max(1, min((streams.shape[0] - 1) // WINDOW, budget // (WINDOW * B)))

    def run():
        for k in range(n):
            x = streams[k * WINDOW : (k + 1) * WINDOW]
            y = streams[k * WINDOW + 1 : (k + 1) * WINDOW + 1]
            hs, _ = rnn(emb(x))
            logits = out(hs)
            data = (
                torch.nn.functional.cross_entropy(
                    logits.reshape(-1, V), y.reshape(-1), reduction="sum"
                )
                / B
            )
            loss = data + 0.01 * sum((w * w).sum() for w in weights)
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= 0.01 * p.grad.clamp(-5.0, 5.0)

    return Row(
        f"PyTorch nn.RNN {dtype} batch {B} (reference)",
        n * WINDOW * B / best_of(run, 2),
    )


def run(
    smoke: bool = False,
    backend: str | None = None,
    reporter=print,
    softmax: str = "full",
) -> dict:
    """Every row, with ratios to numpy and to the JAX baseline of the same batch and
    dtype, and each row's share of this machine's float32 matmul peak (of the full
    softmax's flops: an adaptive row's share is what the same work would need).
    ``softmax`` "adaptive": the stream rows with each output layer, side by side."""
    H, vocab = (16, 500) if smoke else (100, 8000)
    n_words = 20_000 if smoke else 400_000
    grid = (
        [Setting("stream", 20, "float32"), Setting("sentences", 4, "float64")]
        if smoke
        else GRID
    )
    if softmax == "adaptive":
        grid = (
            [Setting("stream", 20, "float32", softmax=s) for s in ("full", "adaptive")]
            if smoke
            else ADAPTIVE_GRID
        )
    budget = 4_000 if smoke else 120_000
    text = synthetic_text(n_words, distinct=3 * vocab, glossary=vocab + 100)
    glossary_chars = len(synthetic_text(0, distinct=3 * vocab, glossary=vocab + 100))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "words.txt"
        path.write_text(text, encoding="utf-8")
        sents = split_sentences(text)
        words_vocab = WordVocab.build(sents, vocab)
        V, ids = words_vocab.size, stream_ids(words_vocab, sents)
        cutoffs = coverage_cutoffs(np.bincount(ids, minlength=V))
        peak = matmul_peak_gflops(512 if smoke else 2048)
        rows = baseline_rows(ids, V, H, budget, 800 if smoke else 6_000, grid)
        for r, _, _ in rows:
            reporter(f"{r.name}: {r.chars_per_s:,.0f} words/s")
        for g in grid:
            B, dtype = g.batch, g.dtype
            # about 10 s of training per row at the speeds measured here
            words = (budget // 8 if B == 1 and g.layout == "sentences" else budget) * (
                1 if B == 1 else 3
            )
            limit = glossary_chars + int(words * CHARS_PER_WORD)
            row = pytrnn_row(path, g, limit, H, vocab, backend, cutoffs=cutoffs)
            rows.append((row, dtype, B))
            reporter(
                f"{row.name}: {row.chars_per_s:,.0f} words/s "
                f"(compile {row.compile_s:.1f} s)"
            )
            t = (
                torch_row(ids, V, H, B, dtype, budget)
                if g.layout == "stream" and g.softmax == "full"
                else None
            )
            if t is not None:
                rows.append((t, dtype, B))
                reporter(f"{t.name}: {t.chars_per_s:,.0f} words/s")
    np_speed = rows[0][0].chars_per_s
    jax_speed = {
        (dtype, B): r.chars_per_s
        for r, dtype, B in rows
        if r.name.startswith("hand-written JAX")
    }
    flops = 6 * H * (H + V)  # per word: output layer and its gradients, recurrence
    step_rows = 20 * WINDOW  # batch 20's step: the rows of its output layer
    out = {
        "machine": cpu_facts(),
        "products": {
            dt: product_rates(step_rows, H, V, dt, repeat=2 if smoke else 5)
            for dt in ("float32", "float64", "bfloat16")
        },
        "step_rows": step_rows,
        "vocab": V,
        "hidden": H,
        "window": WINDOW,
        "matmul_peak_gflops_f32": peak,
        "flops_per_word": flops,
        "rows": [],
    }
    if softmax == "adaptive":
        out["cutoffs"] = cutoffs
    torch_speed = {
        (dtype, B): r.chars_per_s
        for r, dtype, B in rows
        if r.name.startswith("PyTorch")
    }
    for r, dtype, B in rows:
        r.vs_numpy = r.chars_per_s / np_speed
        r.vs_jax = r.chars_per_s / jax_speed.get((dtype, B), float("nan"))
        d = {**r.__dict__, "words_per_s": r.chars_per_s}
        # the peer measured in this run, this process (torch importable here)
        d["vs_torch"] = r.chars_per_s / torch_speed.get((dtype, B), float("nan"))
        d.pop("chars_per_s")
        d["of_peak"] = r.chars_per_s * flops / 1e9 / peak
        out["rows"].append(d)
    return out
