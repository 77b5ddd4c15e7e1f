"""The rate and the optimizer's switch after a pass, from the pass's record: char-rnn's
decay, word_language_model's annealing, AWD-LSTM's NT-ASGD trigger.
"""

from __future__ import annotations

ANNEAL = 4.0  # word_language_model divides its rate by 4 on a plateau


def next_lr(cfg, lr: float, passes_done: int, val, best: bool) -> float:
    """The rate after a pass: char-rnn's decay (``lr *= F`` after each pass from
    ``lr_decay_after`` on) and word_language_model's annealing (``lr /= 4`` when
    the validation loss ``val`` did not improve; None: no validation)."""
    if cfg.anneal_on_plateau and val is not None and not best:
        lr /= ANNEAL
    if cfg.lr_decay != 1.0 and passes_done >= cfg.lr_decay_after:
        lr *= cfg.lr_decay
    return lr


def stalls(N: int, history: list, record: dict, key: str) -> bool:
    """This pass's validation loss is worse than the best of the passes before it
    but the last N (AWD's ``len(best_val_loss) > nonmono and val_loss >
    min(best_val_loss[:-nonmono])``); ``history`` ends with ``record``."""
    if key not in record:
        return False
    earlier = [r[key] for r in history[:-1] if key in r]
    return len(earlier) > N and record[key] > min(earlier[:-N])


def stalled(model, history: list, record: dict, key: str) -> bool:
    """--nt-asgd N: the model still trains by SGD and validation stalled (``stalls``):
    time to switch to the average. False without --nt-asgd."""
    N = model.cfg.nt_asgd
    return bool(N) and not model.switched_on and stalls(N, history, record, key)
