"""``pytrnn eval``: a checkpoint's data loss on any text, as every word-level anchor
reports at the end (PyTorch's "test ppl", char-rnn's validation loss).

The checkpoint's own vocabulary is used: words outside it are ``<unk>`` (skipped
and counted where the vocabulary has no ``<unk>``); characters outside it are
counted, reported and skipped. Char level, and a word model trained on
a stream: consecutive windows of the model's window from the first token, the last
partial window included, each from h = 0, or with ``--carry-state`` from the state
the window before ended with (as the model trained). A word model trained on
sentences: every sentence of the text. Data loss only, no L2 term; no dropout.
"""

from __future__ import annotations

import math
from pathlib import Path

from pytrnn.data.corpora import Vocab, read_text
from pytrnn.data.words import (
    known_words,
    read_units,
    stream_ids,
    stream_unknown_rate,
    unknown_rate,
)
from pytrnn.errors import ConfigError, CorpusError
from pytrnn.files import atomic_write, check_writable
from pytrnn.runtime.cache import Cache, cache_loss
from pytrnn.runtime.scoring import EVAL_STREAMS, mean_word_loss, ppl_text, windows_loss
from pytrnn.tools.generate import carries_state, layout, load_model, word_vocab
from pytrnn.tools.surprisal import LN2, scored_rows, sentence_rows, tsv


def scored_file(corpus) -> Path:
    """The file ``eval`` scores: ``corpus``, or a standard-layout folder's test.txt
    (the folder ``train`` takes)."""
    path = Path(corpus)
    if not path.is_dir():
        return path
    if (path / "test.txt").is_file():
        return path / "test.txt"
    raise CorpusError(
        f"{corpus} is a folder without test.txt: name the file to score "
        f"(e.g. --corpus {path / 'valid.txt'})"
    )


def stream_text(ck, text: str, sentences=None):
    """(ids, skipped) of a text as a stream model scores it: the checkpoint's
    words (``<unk>`` for others; skipped where it has none) with the end of each
    sentence (``sentences``: the text's, read before), or its characters (others
    skipped)."""
    if ck.level == "word":
        vocab = word_vocab(ck)
        if sentences is None:
            sentences = read_units(text, ck.run.tokenizer, ck.run.lower)
        sentences, skipped = known_words(vocab, sentences)
        return stream_ids(vocab, sentences), skipped
    return Vocab(tuple(ck.vocab)).encode_known(text)


def evaluate(
    checkpoint,
    corpus,
    backend: str | None = None,
    batch: int | None = None,
    cache: Cache | None = None,
    per_token=None,
    guesses: int = 0,
    dynamic=None,
) -> dict:
    """Figures of ``checkpoint`` on the text file ``corpus``: per char (loss, bits,
    chars scored, chars skipped) or per word (loss, perplexity, words, <unk> rate).
    ``batch``: windows per call, or for a model that carries its state the
    contiguous streams the text is cut into (wlm's eval_batch_size; None: 10). ``cache``:
    the neural cache mixed in (pytrnn.runtime.cache; a stream model's text is then
    always cut into ``batch`` streams); its lambda 0 is the model alone.
    ``per_token``: a path the scored tokens' rows go to (pytrnn.tools.surprisal,
    ``guesses`` top guesses each), the cache's distribution where it is on."""
    batch = EVAL_STREAMS if batch is None else batch
    if batch < 1:
        raise CorpusError(f"--batch must be at least 1, got {batch}")
    if guesses < 0:
        raise ConfigError(f"--guesses must be 0 or more, got {guesses}")
    if guesses and per_token is None:
        raise ConfigError("--guesses fills --per-token's rows: give --per-token OUT")
    if dynamic is not None:
        dynamic = dynamic.validate()
    if per_token is not None:
        check_writable(per_token, "--per-token", "tokens.tsv")
        if Path(per_token).resolve() in {
            Path(p).resolve() for p in (checkpoint, corpus)
        }:
            raise ConfigError(f"--per-token {per_token} is an input of this eval")
    text = read_text(scored_file(corpus), str(corpus))
    model, ck = load_model(checkpoint, backend)
    if cache is not None:
        if ck.level == "word" and layout(ck) != "stream":
            raise ConfigError(
                "the neural cache reads a stream: this checkpoint's model "
                "was trained on sentences (--layout sentences)"
            )
        cache = cache.validate() if cache.lam > 0 else None

    def scored(ids):
        L, carry = ck.cfg.window, carries_state(ck)
        if dynamic is not None:
            return adapted(model, ck, checkpoint, ids, dynamic, cache, per_token,
                           guesses)  # fmt: skip
        if per_token is not None:
            rows = scored_rows(model, ck, ids, L, carry, batch, guesses, cache)
            write_rows(per_token, tsv(rows, ck.vocab, guesses, ("position",)))
        if cache is None:
            return windows_loss(model, ids, L, carry, batch)
        return cache_loss(model, ids, L, cache, carry, batch)

    if ck.level == "word":
        vocab = word_vocab(ck)
        sentences = read_units(text, ck.run.tokenizer, ck.run.lower)
        if not sentences:
            raise CorpusError(f"{corpus} has no sentences to score")
        if layout(ck) == "stream":
            ids, skipped = stream_text(ck, text, sentences)
            total, n = scored(ids)
            loss = total / n
            return {
                "level": "word",
                "loss_per_word": loss,
                "ppl": math.exp(loss),
                "words": n,
                "unk_rate": stream_unknown_rate(ids, vocab),
                "skipped_words": skipped,
            }
        if dynamic is not None:
            raise ConfigError(
                "dynamic evaluation reads a stream: this checkpoint's model was "
                "trained on sentences (--layout sentences)"
            )
        seqs = [vocab.encode_sentence(s) for s in sentences]
        if per_token is not None:
            rows = sentence_rows(model, seqs, guesses)
            write_rows(
                per_token, tsv(rows, ck.vocab, guesses, ("sentence", "position"))
            )
        loss = mean_word_loss(model, seqs)
        return {
            "level": "word",
            "loss_per_word": loss,
            "ppl": math.exp(loss),
            "words": sum(len(y) for _, y in seqs),
            "unk_rate": unknown_rate(seqs, vocab),
        }
    ids, skipped = stream_text(ck, text)
    if len(ids) < 2:
        raise CorpusError(
            f"{corpus} has {len(ids)} characters of the model's "
            f"vocabulary: nothing to predict"
        )
    total, n = scored(ids)
    return {
        "level": "char",
        "loss_per_char": total / n,
        "bpc": total / n / math.log(2),
        "chars": n,
        "skipped_chars": skipped,
    }


def adapted(model, ck, checkpoint, ids, dynamic, cache, per_token, guesses):
    """Dynamic evaluation's figure (with the cache where given), and with
    ``per_token`` its rows, written, from the same one pass (their surprisals
    add up to the figure)."""
    from pytrnn.tools.dynamic_stats import adapted_loss, adapted_rows

    if per_token is None:
        return adapted_loss(model, ck, checkpoint, ids, dynamic, cache)
    got = adapted_rows(model, ck, checkpoint, ids, dynamic, guesses, cache)
    rows = [((pos,), int(ids[pos]), r) for pos, r in got]
    write_rows(per_token, tsv(rows, ck.vocab, guesses, ("position",)))
    return sum(r[0] for _, r in got) * LN2, len(ids) - 1


def eval_line(r: dict) -> str:
    if r["level"] == "word":
        skipped = (
            f", {r['skipped_words']} outside the vocabulary (it has no <unk>) skipped"
            if r.get("skipped_words")
            else ""
        )
        return (
            f"loss/word={r['loss_per_word']:.4f} ppl={ppl_text(r['ppl'])}  "
            f"({r['words']} words, {r['unk_rate']:.1%} <unk>{skipped})"
        )
    skipped = (
        f", {r['skipped_chars']} outside the vocabulary skipped"
        if r["skipped_chars"]
        else ""
    )
    return (
        f"loss/char={r['loss_per_char']:.4f} bits/char={r['bpc']:.4f}  "
        f"({r['chars']} chars{skipped})"
    )


def write_rows(path, lines: list[str]) -> None:
    atomic_write(path, lambda f: f.write(("\n".join(lines) + "\n").encode("utf-8")))
