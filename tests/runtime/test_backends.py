"""Every backend against the others and the numpy reference, for every mode and level."""

import numpy as np
import pytest
from helpers import cached_model, compare_backends

import pytrnn

BACKENDS = ["c", "jax", "numba"]


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("mode", ["unroll", "scan"])
@pytest.mark.parametrize("backend", ["jax", "numba"])
def test_backend_agrees_with_c_and_numpy(backend, mode, level):
    compare_backends(mode, level, ["c", backend])


@pytest.mark.parametrize("mode", ["unroll", "scan"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_tracks_float64(backend, mode):
    results = compare_backends(mode, "char", [backend], dtype="float32")
    losses, params = results[backend]
    assert params["Whh"].dtype == np.float32


@pytest.mark.parametrize("what", ["bh", "data_loss"])
def test_compare_backends_can_fail(monkeypatch, what):
    """The helper must notice a backend that computes something else: a parameter off
    by 1e-6, or a data loss scaled by 8/7 (the loss itself left right)."""
    import helpers

    real = helpers.run_model

    def off_by_a_bit(model, P0, seqs, level):
        losses, data_losses, params = real(model, P0, seqs, level)
        if model.backend == "jax":
            if what == "bh":
                params["bh"] = params["bh"] + 1e-6
            else:
                data_losses = data_losses * 8 / 7
        return losses, data_losses, params

    monkeypatch.setattr(helpers, "run_model", off_by_a_bit)
    with pytest.raises(AssertionError, match=what):
        compare_backends("scan", "char", ["c", "jax"])


def test_backend_c_is_pytensors_c_linker_and_the_check_sees_a_fallback():
    """ "c" compiles on the C VM; a function compiled by FAST_RUN (Numba in PyTensor 3)
    or by Numba itself fails the same check, so a silent fallback cannot pass."""
    import pytensor
    import pytensor.tensor as pt
    from helpers import assert_linker
    from pytensor.compile.mode import get_mode

    from pytrnn.runtime.backends import compile_mode

    x = pt.vector("x")
    for name in BACKENDS:
        assert_linker(pytensor.function([x], x.sum(), mode=compile_mode(name)), name)
    for other in ("FAST_RUN", "NUMBA", "JAX"):
        fn = pytensor.function([x], x.sum(), mode=get_mode(other))
        with pytest.raises(AssertionError):
            assert_linker(fn, "c")


def test_c_graphs_expand_softmax_into_c_ops():
    """PyTensor 3's Softmax and LogSoftmax are OpFromGraphs without C code: left in a
    C graph (or in a scan inside one) they would run in Numba through perform.
    pytrnn's "c" mode expands them; the values stay numpy's."""
    import pytensor
    import pytensor.tensor as pt
    from helpers import assert_linker

    from pytrnn.runtime.backends import compile_mode

    x = pt.matrix("x")
    rows = pytensor.scan(
        lambda r: pt.special.softmax(r), sequences=[x], return_updates=False
    )
    fn = pytensor.function(
        [x], [pt.special.log_softmax(x, axis=-1), rows], mode=compile_mode("c")
    )
    assert_linker(fn, "c")
    v = np.random.default_rng(0).normal(size=(3, 4))
    e = np.exp(v - v.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    logp, p = fn(v)
    np.testing.assert_allclose(p, want, rtol=1e-12)
    np.testing.assert_allclose(logp, np.log(want), rtol=1e-12)


def test_jax_parameters_stay_on_the_device():
    """After a step the shared storage holds JAX arrays: no host copy per window."""
    import jax

    m = cached_model("scan", "jax")
    m.train_on_seq([1, 2, 3], [2, 3, 4])
    for p in m.params.values():
        assert isinstance(p.get_value(borrow=True), jax.Array), p.name


def test_default_backend_is_jax_here():
    assert (
        pytrnn.RNN(pytrnn.RNNConfig(vocab_size=3, hidden=2, window=2)).backend == "jax"
    )


def test_device_gpu_without_one_is_a_clear_error():
    import jax

    if jax.devices()[0].platform == "gpu":
        pytest.skip("a GPU is present")
    with pytest.raises(pytrnn.PytrnnError, match="no GPU"):
        pytrnn.RNN(pytrnn.RNNConfig(vocab_size=3, hidden=2, window=2), device="gpu")


def test_c_backend_links_openblas():
    import pytensor

    from pytrnn.tools.info import info

    assert "scipy_openblas" in pytensor.config.blas__ldflags
    facts = info(probe=True)
    assert all(ok is True for ok, _ in facts["backends"].values()), facts["backends"]


def test_jax_transposes_are_real_copies_on_cpu(rng):
    """pytrnn keeps PyTensor's matrix transposes materialised for XLA on CPU (folded
    into a matmul they run up to 2.5x slower); the values must not change."""
    import jax
    import pytensor
    import pytensor.tensor as pt
    from pytensor.link.jax.dispatch import jax_funcify

    from pytrnn.runtime.backends import compile_mode

    a, b = pt.matrix("a"), pt.matrix("b")
    fn = pytensor.function([a, b], a.T.dot(b), mode=compile_mode("jax"))
    A, B = rng.standard_normal((3, 2)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(fn(A, B), A.T @ B, rtol=1e-12)
    jaxpr = str(jax.make_jaxpr(jax_funcify(fn.maker.fgraph))(A, B))
    assert "optimization_barrier" in jaxpr, jaxpr
    # a large operand (wlm's output weight) stays folded: its copy costs more
    from pytrnn.runtime.patches import TRANSPOSE_COPY_MAX

    big = np.zeros((TRANSPOSE_COPY_MAX // 4 + 1, 4), np.float32)
    jaxpr = str(jax.make_jaxpr(jax_funcify(fn.maker.fgraph))(big, big))
    assert "optimization_barrier" not in jaxpr, jaxpr


def test_a_scan_compiled_on_the_c_vm_still_converts_to_jax():
    """A scan built without a mode compiles its inner graph in place on the C VM
    (CGemv in it) once anything evaluates it through ``Scan.fn``; a JAX graph that
    meets that scan afterwards must still convert it (it failed in a cold run of
    the suite: "No JAX conversion for the given Op: CGemv")."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.traversal import io_toposort
    from pytensor.scan.op import Scan

    from pytrnn.runtime.backends import compile_mode

    W, h0 = pt.matrix("W"), pt.vector("h0")
    hs = pytensor.scan(
        lambda h, W: pt.tanh(W.dot(h)),
        outputs_info=[h0],
        non_sequences=[W],
        n_steps=3,
        return_updates=False,
    )
    scan = next(n.op for n in io_toposort([W, h0], [hs]) if isinstance(n.op, Scan))
    _ = scan.fn  # what evaluating it on the C VM does
    assert "CGemv" in {type(n.op).__name__ for n in scan.fgraph.toposort()}
    f = pytensor.function([W, h0], hs, mode=compile_mode("jax"))
    rng = np.random.default_rng(0)
    Wv, h = rng.standard_normal((3, 3)), rng.standard_normal(3)
    got = f(Wv, h)
    for t in range(3):
        h = np.tanh(Wv @ h)
        np.testing.assert_allclose(got[t], h, rtol=1e-12)
