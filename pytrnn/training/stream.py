"""The word level as a token stream (``--layout stream``), as PyTorch's
word_language_model trains: every sentence followed by ``</s>``, the stream cut into
B contiguous streams and windows of ``--window`` tokens.

It is the char level's loop (pytrnn.training.windows) over word ids: the same windows,
batches, fused passes and ``--devices``; only the text, the figures (loss per word,
perplexity) and the samples are the word level's. Held-out text is scored with the
same windows from h = 0, the last ``val_frac`` (and ``test_frac``) of the sentences
unless files are given.
"""

from __future__ import annotations

from pytrnn.data.corpora import window_starts
from pytrnn.data.words import stream_ids, stream_unknown_rate
from pytrnn.training.sentences import WordFigures
from pytrnn.training.windows import WindowLoop


class WordStreamLoop(WordFigures, WindowLoop):
    def prepare(self, texts, resumed):
        train, val, test = self.held_out_sentences(texts)
        self.vocab = self.word_vocab(train, [*val, *(test or [])], resumed)
        self.n_sentences = len(train)
        self.train_data = stream_ids(self.vocab, train)
        self.val_data = stream_ids(self.vocab, val)
        self.test_data = stream_ids(self.vocab, test) if test else None
        self.cut_windows()

    def describe(self):
        held = ""
        if self.val_starts is not None:
            held = (
                f", {len(self.val_data)} held out "
                f"({stream_unknown_rate(self.val_data, self.vocab):.1%} <unk>)"
            )
        if self.test_data is not None:
            held += (
                f", {len(self.test_data)} for test "
                f"({stream_unknown_rate(self.test_data, self.vocab):.1%} <unk>)"
            )
        streams = f" in {self.batch} streams" if self.batch > 1 else ""
        what = "lines" if self.vocab.whitespace else "sentences"
        return (
            f"corpus {self.corpus_name}: {self.vocab_line()}; {self.n_sentences} "
            f"train {what} as one stream of {len(self.train_data)} tokens{held}; "
            f"{self.windows_line()}{streams} per pass, {self.fuse} per call"
        )

    @property
    def sentence_start(self) -> int:  # a sentence follows the last one's end
        return self.vocab.end_id

    def _word_loss(self, d):
        """Data loss per token over the notebook's windows of d, each from h = 0."""
        starts = window_starts(len(d), self.window, self.unit)
        return self.held_out_mean(d, starts)

    def val_loss(self):
        return self._word_loss(self.val_data) if self.val_starts is not None else None

    def test_loss(self):
        return self._word_loss(self.test_data)

    def test_unknown_rate(self):
        return stream_unknown_rate(self.test_data, self.vocab)
