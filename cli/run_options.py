"""The train command's options, Training, Speed, Scale-out and Output, each once
as an Annotated type."""

from __future__ import annotations

from typing import Annotated

import typer

from pytrnn.cli.common import (
    OUTPUT,
    SCALE,
    SPEED,
    TRAINING,
    Backend,
    Device,
    LossScale,
    Mode,
    Optimizer,
)

optimizer = Annotated[
    Optimizer,
    typer.Option(
        help="sgd (the notebook), adagrad, rmsprop, adam or asgd (torch.optim's rules; asgd as AWD-LSTM's, t0 = 0, lambd = 0).",
        rich_help_panel=TRAINING,
    ),
]
lr = Annotated[
    float | None,
    typer.Option(
        help="Learning rate, on the --loss-scale's loss (default: torch.optim's, 0.01; adam 0.001). A resumed run may change it.",
        rich_help_panel=TRAINING,
    ),
]
loss_scale = Annotated[
    LossScale,
    typer.Option(
        help="window: a window's sum, mean over streams (the notebook's); token: the mean per token (wlm's, so its lr 20 means 20).",
        rich_help_panel=TRAINING,
    ),
]
beta1 = Annotated[float, typer.Option(help="Adam's beta1.", rich_help_panel=TRAINING)]
beta2 = Annotated[float, typer.Option(help="Adam's beta2.", rich_help_panel=TRAINING)]
alpha = Annotated[
    float,
    typer.Option(help="RMSprop's smoothing constant.", rich_help_panel=TRAINING),
]
eps = Annotated[
    float | None,
    typer.Option(
        help="Optimizer epsilon (default: torch.optim's).", rich_help_panel=TRAINING
    ),
]
lr_decay = Annotated[
    float,
    typer.Option(
        help="char-rnn's schedule: lr *= F after each pass from --lr-decay-after on.",
        rich_help_panel=TRAINING,
    ),
]
lr_decay_after = Annotated[
    int,
    typer.Option(
        help="First pass after which --lr-decay applies.", rich_help_panel=TRAINING
    ),
]
anneal_on_plateau = Annotated[
    bool,
    typer.Option(
        "--anneal-on-plateau",
        help="wlm's schedule: lr /= 4 when validation loss does not improve.",
        rich_help_panel=TRAINING,
    ),
]
reg = Annotated[
    float,
    typer.Option(
        help="L2 on every weight matrix (Wxh*, Whh*, Why).",
        rich_help_panel=TRAINING,
    ),
]
clip = Annotated[
    float,
    typer.Option(help="Elementwise gradient clip (0: off).", rich_help_panel=TRAINING),
]
clip_norm = Annotated[
    float,
    typer.Option(
        help="torch's clip_grad_norm_: scale every gradient so their joint L2 norm is at most this (0: off; before --clip).",
        rich_help_panel=TRAINING,
    ),
]
bptt_truncate = Annotated[
    int,
    typer.Option(
        help="Backprop through the last K steps only (-1: all).",
        rich_help_panel=TRAINING,
    ),
]
carry_state = Annotated[
    bool,
    typer.Option(
        "--carry-state",
        help="Start each window from the state its stream ended the last one with, the gradient stopped at the edge (char-rnn's, wlm's; default: h = 0, the notebook's).",
        rich_help_panel=TRAINING,
    ),
]
every_window = Annotated[
    bool,
    typer.Option(
        "--every-window",
        help="Train a stream's every window as wlm's get_batch cuts it, the last one shorter (default: the notebook's rule, which drops it).",
        rich_help_panel=TRAINING,
    ),
]
passes = Annotated[
    int, typer.Option(help="Passes over the text.", rich_help_panel=TRAINING)
]
seed = Annotated[
    int,
    typer.Option(
        help="Seed for initialisation, shuffling, dropout, sampling.",
        rich_help_panel=TRAINING,
    ),
]
batch = Annotated[
    int,
    typer.Option(
        help="Streams (or, word level with sentences, sentences) per step (1: the notebook).",
        rich_help_panel=SPEED,
    ),
]
fuse = Annotated[
    int | None,
    typer.Option(
        help="Windows (sentences: groups of one length) per compiled call (default on JAX: a stream pass in chunks of about 256, one lax.scan each, or 16 groups; elsewhere 1).",
        rich_help_panel=SPEED,
    ),
]
mode = Annotated[
    Mode | None,
    typer.Option(
        help="scan (default) or unroll (the notebook's loop; same steps).",
        rich_help_panel=SPEED,
    ),
]
backend = Annotated[
    Backend | None,
    typer.Option(help="Default: the fastest here.", rich_help_panel=SPEED),
]
device = Annotated[
    Device | None,
    typer.Option(
        help="JAX device (default: the GPU if JAX sees one).", rich_help_panel=SPEED
    ),
]
devices = Annotated[
    int,
    typer.Option(
        help="JAX devices to split the batch's streams over.", rich_help_panel=SCALE
    ),
]
coordinator = Annotated[
    str | None,
    typer.Option(help="Multi-host: HOST:PORT of process 0.", rich_help_panel=SCALE),
]
num_processes = Annotated[
    int,
    typer.Option(help="Multi-host: number of processes.", rich_help_panel=SCALE),
]
process_id = Annotated[
    int,
    typer.Option(help="Multi-host: this process's index.", rich_help_panel=SCALE),
]
checkpoint = Annotated[
    str | None,
    typer.Option(
        help="Where to save (default: the --resume checkpoint, else runs/CORPUS-LEVEL.npz).",
        rich_help_panel=OUTPUT,
    ),
]
resume = Annotated[
    str | None,
    typer.Option(
        help="Continue from this checkpoint (and save back to it).",
        rich_help_panel=OUTPUT,
    ),
]
init_from = Annotated[
    str | None,
    typer.Option(
        help="A new run from this checkpoint's weights: fine-tuning (its shape and vocabulary).",
        rich_help_panel=OUTPUT,
    ),
]
overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Let a new run replace the checkpoint at its path.",
        rich_help_panel=OUTPUT,
    ),
]
save_every = Annotated[
    float,
    typer.Option(help="Also save every this many seconds.", rich_help_panel=OUTPUT),
]
log = Annotated[
    str | None,
    typer.Option(
        help="Append one JSON line per pass to this file.", rich_help_panel=OUTPUT
    ),
]
log_interval = Annotated[
    int,
    typer.Option(
        help="Print a line every N steps: steps done, lr, ms/step, loss and ppl (or bits) since the last (wlm's --log-interval; 0: none).",
        rich_help_panel=OUTPUT,
    ),
]
sample_length = Annotated[
    int,
    typer.Option(
        help="Sampled at the end: chars (char level) or words in sentences, the last cut there (word level); 0: none.",
        rich_help_panel=OUTPUT,
    ),
]
print_config = Annotated[
    bool,
    typer.Option(
        "--print-config",
        help="Print the resolved options as TOML (a --config file) and exit.",
        rich_help_panel=OUTPUT,
    ),
]
