"""``theano.tensor``: PyTensor's tensor module plus Theano's ``nnet`` namespace."""

from types import SimpleNamespace

import pytensor
import pytensor.tensor as _pt
from pytensor.tensor import *  # noqa: F401,F403  (T.ivector, T.tanh, T.clip, ...)
from pytensor.tensor.special import softmax as _softmax

grad = pytensor.grad


def softmax(x):
    """Theano's ``T.nnet.softmax``: row-wise; a vector gives a 1-row matrix.

    (PyTensor's ``special.softmax`` defaults to ``axis=None``, normalising over the
    whole tensor, and keeps a vector a vector. The notebook's ``.flatten()`` relies on
    Theano's shape.)
    """
    x = _pt.as_tensor_variable(x)
    if x.ndim == 1:
        x = x.dimshuffle("x", 0)
    return _softmax(x, axis=-1)


def categorical_crossentropy(coding_dist, true_dist):
    """Theano's: ``-log p[i, y_i]`` for integer targets, ``-sum(t * log p)`` for one-hot rows."""
    coding_dist = _pt.as_tensor_variable(coding_dist)
    true_dist = _pt.as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -(true_dist * _pt.log(coding_dist)).sum(axis=-1)
    return -_pt.log(coding_dist[_pt.arange(coding_dist.shape[0]), true_dist])


def sigmoid(x):
    return _pt.sigmoid(x)


nnet = SimpleNamespace(
    softmax=softmax, categorical_crossentropy=categorical_crossentropy, sigmoid=sigmoid
)
