"""The word level as a token stream (``--layout stream``), as PyTorch's
word_language_model trains: every sentence followed by ``</s>``, the stream cut into
B contiguous streams and windows of ``--window`` tokens.

It is the char level's batcher (pytrnn.training.windows) over word ids: the same
windows, batches, fused passes and ``--devices``; only the text, the figures (loss
per word, perplexity) and the samples are the word level's. Held-out text is scored
with the same windows from h = 0, the last ``val_frac`` (and ``test_frac``) of the
sentences unless files are given.
"""

from __future__ import annotations

import numpy as np

from pytrnn.data.words import stream_ids, stream_unknown_rate
from pytrnn.training.figures import WindowsHeldOut, WordFigures
from pytrnn.training.loop import Data
from pytrnn.training.sentences import held_out_sentences, vocab_line, word_vocab
from pytrnn.training.windows import Windows


def prepare_stream(cfg, model_cfg, texts, resumed, reporter, backend) -> Data:
    train, val, test, _ = held_out_sentences(cfg, texts)
    vocab = word_vocab(cfg, model_cfg, train, [*val, *(test or [])], resumed)
    ids = stream_ids(vocab, train)
    val_ids = stream_ids(vocab, val)
    test_ids = stream_ids(vocab, test) if test else None
    batcher = Windows(cfg, model_cfg, ids, "words", backend)
    held = WindowsHeldOut(model_cfg.window, cfg.carry_state, val_ids, test_ids, "words")
    line, extra = "", {}
    if held.val is not None:
        line = f", {len(val_ids)} held out ({stream_unknown_rate(val_ids, vocab):.1%} <unk>)"
    if test_ids is not None:
        extra["unk_rate"] = stream_unknown_rate(test_ids, vocab)
        line += f", {len(test_ids)} for test ({extra['unk_rate']:.1%} <unk>)"
    what = "lines" if vocab.whitespace else "sentences"
    line = (
        f"corpus {texts.name}: {vocab_line(vocab)}; {len(train)} train {what} as one "
        f"stream of {len(ids)} tokens{line}; {batcher.line()}"
    )
    # a sampled sentence follows the last one's end
    figures = WordFigures(held, vocab, extra, start=vocab.end_id)

    def counts():
        return np.bincount(ids, minlength=vocab.size)

    return Data(texts.name, vocab, batcher, figures, line, counts)
