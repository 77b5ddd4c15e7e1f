"""word_language_model's and AWD-LSTM's option names (their ``main.py`` argparse
flags), as a user of those tools types them: each either works with its meaning (an
alias, cli/train.py's WLM_ALIASES) or is refused in one line naming pytrnn's option.
docs/cli.md's table is this one (tests/cli/test_peer_flags.py walks it)."""

from __future__ import annotations

# flag: (whose, "alias" and pytrnn's option | what to type instead)
WORKS = {
    "--data": ("wlm, AWD", "--corpus"),
    "--epochs": ("wlm, AWD", "--passes"),
    "--bptt": ("wlm, AWD", "--window"),
    "--nhid": ("wlm, AWD", "--hidden"),
    "--nlayers": ("wlm, AWD", "--layers"),
    "--batch_size": ("wlm, AWD", "--batch"),
}
REFUSED = {
    "--cuda": ("AWD, older wlm", "pytrnn's is --device gpu (JAX)"),
    "--accel": ("wlm", "pytrnn's is --device gpu (JAX)"),
    "--mps": ("older wlm", "pytrnn's is --device gpu (JAX, CUDA)"),
    "--save": ("wlm, AWD", "pytrnn's is --checkpoint PATH"),
    "--nonmono": ("AWD", "pytrnn's is --nt-asgd N"),
    "--when": (
        "AWD",
        "pytrnn's rate schedules are --lr-decay F --lr-decay-after N and "
        "--anneal-on-plateau",
    ),
    "--beta": ("AWD", "AWD's --beta (temporal activation regularization) is --tar"),
    "--model": (
        "wlm, AWD",
        "pytrnn's is --cell lstm|gru|rnn (wlm's RNN_TANH is rnn; no RNN_RELU or "
        "Transformer)",
    ),
    "--use-optimizer": (
        "wlm",
        "wlm's AdamW is not here: --optimizer adam is torch.optim.Adam, and --wdecay "
        "its weight_decay",
    ),
    "--dry-run": ("wlm", "pytrnn's is --passes 1 --limit-chars N"),
    "--onnx-export": (
        "wlm",
        "not here: a checkpoint is an .npz of named arrays (docs/model.md)",
    ),
    "--nhead": ("wlm", "a Transformer's: pytrnn trains RNNs (--cell)"),
}
# taken by pytrnn with the same meaning (and so no alias): --emsize, --lr, --dropout,
# --tied, --seed, --dropouth, --dropouti, --dropoute, --wdrop, --wdecay, --resume,
# --optimizer, --log-interval; --clip, --alpha and --dropout under AWD's recipes:
# pytrnn.resolve (a note, or a one-line refusal naming --clip-norm, --ar, --dropouto)


def refusal(flag: str) -> str | None:
    """The one line for a peer's flag pytrnn does not take, or None."""
    if flag not in REFUSED:
        return None
    whose, instead = REFUSED[flag]
    return f"{flag} is {whose}'s option; {instead}"
