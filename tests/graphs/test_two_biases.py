"""torch's two biases (``--two-biases``, on with ``--init wlm``): the tanh cell and
the LSTM keep ``bh`` (bias_ih) and ``bhh`` (bias_hh) as two parameters. Each gets the
sum's gradient, so the norm clip counts it twice and every optimizer keeps a state
for each; checked against tests/numpy_cells.py's torch rules (transcribed from
torch's documentation) on JAX, C and Numba."""

from dataclasses import replace

import numpy as np
import pytest
from helpers import cached_model
from numpy_cells import (
    check_finite_differences,
    init,
    loss_and_grads,
    names,
    opt_init,
    opt_step,
)

import pytrnn
from pytrnn.errors import ConfigError
from pytrnn.graphs.params import init_params, param_names
from pytrnn.runtime import checkpoint as ckpt_io
from pytrnn.training.loop import DATA_FIELDS, SCHEDULE_FIELDS

D, H, L = 6, 4, 5
LR, REG = 0.05, 0.01


@pytest.mark.parametrize("cell, layers", [("lstm", 2), ("rnn", 1)])
def test_numpy_reference_two_biases_match_finite_differences(cell, layers):
    rng = np.random.default_rng(0)
    P = init(cell, layers, D, H, rng, two=True)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    biases = [n for n in P if n.startswith("bh")]
    check_finite_differences(cell, layers, P, x, y, REG, biases, samples=5)


CASES = [
    # backend, mode, cell, layers, optimizer, wdecay: C and Numba on the tanh cell,
    # one layer (a cold gated graph costs them a minute; the bias rule is the cell's
    # input side, the same for every cell)
    ("jax", "scan", "lstm", 2, "sgd", 0.0),
    ("jax", "unroll", "rnn", 2, "asgd", 0.01),
    ("c", "scan", "rnn", 1, "adam", 0.0),
    ("numba", "scan", "rnn", 1, "rmsprop", 0.01),
]


@pytest.mark.parametrize("backend, mode, cell, layers, optimizer, wdecay", CASES)
def test_two_biases_train_as_torch_does(backend, mode, cell, layers, optimizer, wdecay):
    """Three steps, torch's norm clip at 0.5 (it bites), against numpy: loss,
    parameters, the optimizer's state per bias (ASGD's average included)."""
    m = cached_model(
        mode, backend, vocab_size=D, hidden=H, window=L, lr=LR, reg=REG, clip=0.0,
        cell=cell, layers=layers, two_biases=True, optimizer=optimizer, clip_norm=0.5,
        wdecay=wdecay,
    )  # fmt: skip
    assert list(m.get_params()) == names(cell, layers, two=True)  # the contract's
    rng = np.random.default_rng(5)
    P = init(cell, layers, D, H, rng, two=True)
    m.set_params(P)
    m.set_opt_state(pytrnn.graphs.optim.init_state(m.cfg))
    state = {} if optimizer == "asgd" else opt_init(optimizer, P)
    for _ in range(3):
        x, y = rng.integers(0, D, L), rng.integers(0, D, L)
        loss, _ = m.train_step(x, y)
        want, _, g = loss_and_grads(cell, layers, P, x, y, REG)
        assert np.sqrt(sum((v**2).sum() for v in g.values())) > 0.5
        P = opt_step(optimizer, P, g, state, LR, 0.0, clip_norm=0.5, wdecay=wdecay)
        assert loss == pytest.approx(want, rel=1e-9)
    got, opt = m.get_params(), m.get_opt_state()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)
    if optimizer == "asgd":
        for k in ("bh", "bhh", "bhh_1"):
            np.testing.assert_allclose(opt[f"ax.{k}"], state["ax"][k], rtol=1e-9)
    elif optimizer != "sgd":  # a state per bias, as torch's per parameter
        assert {"bh", "bhh"} <= {k.split(".")[-1] for k in opt}


def test_one_bias_is_the_notebooks_and_wlms_init_has_two():
    assert "bhh" not in param_names(pytrnn.RNNConfig(vocab_size=D))
    assert not pytrnn.RNNConfig(cell="lstm").two_biases
    wlm = pytrnn.RNNConfig(vocab_size=D, hidden=H, cell="lstm", init="wlm")
    assert wlm.two_biases and "bhh" in param_names(wlm)
    one = pytrnn.RNNConfig(vocab_size=D, cell="lstm", init="wlm", two_biases=False)
    assert "bhh" not in param_names(one)
    # torch's default draws each bias from uniform(-1/sqrt(H), 1/sqrt(H)) on its own;
    # kept as one, bh is the sum of two draws (wider)
    wide = {"vocab_size": D, "hidden": 100, "cell": "lstm", "init": "wlm"}
    P = init_params(pytrnn.RNNConfig(**wide).validate(), np.random.default_rng(0))
    k = 1 / np.sqrt(100)
    assert np.abs(P["bh"]).max() <= k and np.abs(P["bhh"]).max() <= k
    one = pytrnn.RNNConfig(**wide, two_biases=False).validate()
    assert np.abs(init_params(one, np.random.default_rng(0))["bh"]).max() > k
    # a GRU had both always: --two-biases changes nothing for it
    gru = pytrnn.RNNConfig(vocab_size=D, cell="gru")
    assert param_names(gru) == param_names(pytrnn.RNNConfig(vocab_size=D, cell="gru",
                                                            init="wlm"))  # fmt: skip


def test_a_one_bias_checkpoint_loads_and_is_refused_under_two(tmp_path):
    """A checkpoint written before --two-biases (no such key) is one bias; resumed
    under --recipe wlm (two) it is refused in one line that names the option."""
    model_cfg, train_cfg, _ = pytrnn.configure(recipe="wlm")
    meta = replace(model_cfg, vocab_size=D).to_dict()
    del meta["two_biases"]  # as a checkpoint of before
    old = pytrnn.RNNConfig.from_dict(meta)
    assert old.two_biases is False and "bhh" not in param_names(old)
    path = tmp_path / "old.npz"
    run = ckpt_io.RunInfo(
        train={k: getattr(train_cfg, k) for k in DATA_FIELDS},
        schedule={k: getattr(train_cfg, k) for k in SCHEDULE_FIELDS},
    )
    ck = ckpt_io.Checkpoint(
        cfg=old, params=init_params(old, np.random.default_rng(0)),
        vocab=[str(i) for i in range(D)], level="word", corpus="c", mode="scan",
        backend="jax", seed=1111, history=[], passes_done=1, run=run,
    )  # fmt: skip
    ckpt_io.save(path, ck)
    assert "bhh" not in ckpt_io.load(path).params
    with pytest.raises(ConfigError) as e:
        pytrnn.train(*pytrnn.configure(recipe="wlm", resume=str(path), passes=2))
    msg = str(e.value)
    assert "--two-biases" in msg and "\n" not in msg, msg
    with pytest.raises(ConfigError, match="--two-biases"):  # a typed --init wlm too
        pytrnn.train(*pytrnn.configure(init="wlm", resume=str(path), passes=2))
