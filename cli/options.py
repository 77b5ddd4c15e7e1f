"""The train command's options, Data, Model and AWD-LSTM's regularizers (and
wlm's names and the --no-FLAG negations, hidden), each once as an Annotated type."""

from __future__ import annotations

from typing import Annotated

import typer

from pytrnn.cli.common import (
    AWD,
    DATA,
    MODEL,
    Cell,
    Dtype,
    Init,
    Layout,
    Level,
    Precision,
    Softmax,
    Tokenizer,
)

corpus = Annotated[
    str | None,
    typer.Option(
        help="Text file, a folder with train.txt (and valid.txt, test.txt), 'pydoc' (default, embedded), or a name 'pytrnn data fetch' got: four-million, wikitext-2, wikitext-103, ptb.",
        rich_help_panel=DATA,
    ),
]
valid = Annotated[
    str | None,
    typer.Option(
        help="Validation text file (instead of --val-frac).", rich_help_panel=DATA
    ),
]
test = Annotated[
    str | None,
    typer.Option(
        help="Test text file, scored once at the end (instead of --test-frac).",
        rich_help_panel=DATA,
    ),
]
level = Annotated[
    Level, typer.Option(help="char (the notebook) or word.", rich_help_panel=DATA)
]
layout = Annotated[
    Layout | None,
    typer.Option(
        help="Word level: sentences (one padded sentence per row; default for raw text) or stream (windows of one token stream, as wlm; default for whitespace tokens).",
        rich_help_panel=DATA,
    ),
]
tokenizer = Annotated[
    Tokenizer | None,
    typer.Option(
        help="Word level: whitespace (each line's tokens + <eos>, as wlm's data.Corpus; default for a folder) or regex (WildML's words and sentences; default for a file).",
        rich_help_panel=DATA,
    ),
]
limit_chars = Annotated[
    int | None,
    typer.Option(
        help="Train on the first N chars (the notebook's N).", rich_help_panel=DATA
    ),
]
val_frac = Annotated[
    float | None,
    typer.Option(
        help="Held-out fraction (default: 0 for chars, 0.05 for words).",
        rich_help_panel=DATA,
    ),
]
test_frac = Annotated[
    float,
    typer.Option(
        help="Fraction held out for test, scored once at the end.",
        rich_help_panel=DATA,
    ),
]
max_words = Annotated[
    int,
    typer.Option(
        "--vocab-size",
        help="Word level, regex: most frequent words kept.",
        rich_help_panel=DATA,
    ),
]
max_sentence_len = Annotated[
    int,
    typer.Option(
        help="Word level, sentences: skip longer sentences (0: no limit).",
        rich_help_panel=DATA,
    ),
]
lower = Annotated[
    bool,
    typer.Option(help="Word level, regex: lower-case the text.", rich_help_panel=DATA),
]
hidden = Annotated[int, typer.Option(help="Hidden units H.", rich_help_panel=MODEL)]
window = Annotated[
    int,
    typer.Option(
        help="Steps per window L (chars, or tokens of a word stream).",
        rich_help_panel=MODEL,
    ),
]
cell = Annotated[
    Cell,
    typer.Option(
        help="rnn (the notebook's tanh cell), gru or lstm.", rich_help_panel=MODEL
    ),
]
layers = Annotated[
    int, typer.Option(help="Stacked recurrent layers.", rich_help_panel=MODEL)
]
emsize = Annotated[
    int | None,
    typer.Option(
        help="Word embedding size E: Wemb (V, E) before layer 0 (wlm's; default: one-hot into Wxh).",
        rich_help_panel=MODEL,
    ),
]
tied = Annotated[
    bool,
    typer.Option(
        "--tied",
        help="Output layer = Wemb.T (wlm's --tied; needs --emsize = --hidden).",
        rich_help_panel=MODEL,
    ),
]
dropout = Annotated[
    float,
    typer.Option(
        help="Dropout on the embedding, between layers and before the output (char-rnn's, wlm's).",
        rich_help_panel=MODEL,
    ),
]
init = Annotated[
    Init,
    typer.Option(
        help="notebook (randn/sqrt(fan_in)) or wlm (its init_weights).",
        rich_help_panel=MODEL,
    ),
]
two_biases = Annotated[
    bool,
    typer.Option(
        "--two-biases",
        help="torch's two biases per layer, bh and bhh, each trained (default: with --init wlm; the GRU has both always).",
        rich_help_panel=MODEL,
    ),
]
locked_dropout = Annotated[
    bool,
    typer.Option(
        "--locked-dropout",
        help="Every dropout mask one per stream and window, shared by its steps (AWD's LockedDropout; default: one per step).",
        rich_help_panel=AWD,
    ),
]
dropouti = Annotated[
    float | None,
    typer.Option(
        help="Dropout on the embedding's output (AWD's; default: --dropout).",
        rich_help_panel=AWD,
    ),
]
dropouth = Annotated[
    float | None,
    typer.Option(
        help="Dropout between layers (AWD's; default: --dropout).",
        rich_help_panel=AWD,
    ),
]
dropouto = Annotated[
    float | None,
    typer.Option(
        help="Dropout on the top layer's output (AWD's --dropout; default: --dropout).",
        rich_help_panel=AWD,
    ),
]
dropoute = Annotated[
    float,
    typer.Option(
        help="Embedding dropout: whole rows of Wemb dropped per step (AWD's).",
        rich_help_panel=AWD,
    ),
]
wdrop = Annotated[
    float,
    typer.Option(
        help="Weight drop: DropConnect on every Whh, one mask per step (AWD's WeightDrop).",
        rich_help_panel=AWD,
    ),
]
ar = Annotated[
    float,
    typer.Option(
        help="Activation regularization: + AR x mean(h^2) of the top layer's dropped output (AWD's --alpha).",
        rich_help_panel=AWD,
    ),
]
tar = Annotated[
    float,
    typer.Option(
        help="Temporal activation regularization: + TAR x mean((h_t - h_t-1)^2) of its undropped output (AWD's --beta).",
        rich_help_panel=AWD,
    ),
]
wdecay = Annotated[
    float,
    typer.Option(
        help="torch.optim's weight_decay: wdecay x p added to the gradient (not --reg's L2 in the loss).",
        rich_help_panel=AWD,
    ),
]
nt_asgd = Annotated[
    int,
    typer.Option(
        help="NT-ASGD: SGD, then averaged SGD once validation is worse than its best from more than N passes back (AWD's --nonmono; 0: off). Evaluation then uses the average.",
        rich_help_panel=AWD,
    ),
]
variable_bptt = Annotated[
    bool,
    typer.Option(
        "--variable-bptt",
        help="AWD's window lengths: --window (p 0.95) or half of it, then N(that, 5), at least 5, the rate scaled by length / --window.",
        rich_help_panel=AWD,
    ),
]
dtype = Annotated[
    Dtype,
    typer.Option(help="float64 (the notebook) or float32.", rich_help_panel=MODEL),
]
softmax = Annotated[
    Softmax,
    typer.Option(
        help="The output layer: full (one V-wide softmax) or adaptive (torch's AdaptiveLogSoftmaxWithLoss: a head and clusters; word level).",
        rich_help_panel=MODEL,
    ),
]
cutoffs = Annotated[
    str | None,
    typer.Option(
        help="Adaptive: increasing ids, e.g. 2000,10000: the head holds ids below the first, cluster i ids from cutoff i to the next (word ids by falling frequency); auto: the head 80% of the training tokens, the first cluster to 95%.",
        rich_help_panel=MODEL,
    ),
]
div_value = Annotated[
    float,
    typer.Option(
        help="Adaptive: cluster i projects h to H // div_value ** (i + 1) (torch's).",
        rich_help_panel=MODEL,
    ),
]
head_bias = Annotated[
    bool,
    typer.Option(
        "--head-bias",
        help="Adaptive: a bias on the head (torch's head_bias).",
        rich_help_panel=MODEL,
    ),
]
output_chunk = Annotated[
    int | None,
    typer.Option(
        metavar="ROWS",
        help="The full softmax in chunks of ROWS rows, its gradient in the same pass: never a step's whole logits (memory at large vocabularies). 0: the whole step at once. Unset: chunks where a step's logits pass 256 MiB (8 MiB with --precision bf16; docs/performance.md).",
        rich_help_panel=MODEL,
    ),
]
precision = Annotated[
    Precision,
    typer.Option(
        help="full: every product in --dtype; bf16: the full softmax's products on bfloat16 operands with float32 sums (needs --dtype float32; docs/performance.md).",
        rich_help_panel=MODEL,
    ),
]
recipe = Annotated[
    str | None,
    typer.Option(
        help="Start from a published setup: notebook, wlm, awd-lstm, awd-lstm-ptb, char-rnn (pytrnn recipes lists them); typed options win, and --no-FLAG turns a recipe's flag off (--no-tied, --no-carry-state, ...).",
        rich_help_panel=DATA,
    ),
]
config = Annotated[
    list[str] | None,
    typer.Option(
        metavar="FILE",
        help="A TOML file of options by their CLI names (over --recipe; typed options win).",
        rich_help_panel=DATA,
    ),
]
data = Annotated[str | None, typer.Option(hidden=True)]
epochs = Annotated[int | None, typer.Option(hidden=True)]
bptt = Annotated[int | None, typer.Option(hidden=True)]
nhid = Annotated[int | None, typer.Option(hidden=True)]
nlayers = Annotated[int | None, typer.Option(hidden=True)]
batch_size = Annotated[int | None, typer.Option("--batch_size", hidden=True)]
no_tied = Annotated[bool, typer.Option("--no-tied", hidden=True)]
no_carry_state = Annotated[bool, typer.Option("--no-carry-state", hidden=True)]
no_variable_bptt = Annotated[bool, typer.Option("--no-variable-bptt", hidden=True)]
no_locked_dropout = Annotated[bool, typer.Option("--no-locked-dropout", hidden=True)]
no_anneal_on_plateau = Annotated[
    bool, typer.Option("--no-anneal-on-plateau", hidden=True)
]
no_head_bias = Annotated[bool, typer.Option("--no-head-bias", hidden=True)]
no_two_biases = Annotated[bool, typer.Option("--no-two-biases", hidden=True)]
no_every_window = Annotated[bool, typer.Option("--no-every-window", hidden=True)]
