# The original notebook's code, in Python 3, running on PyTensor through pytrnn's Theano
# facade. What changed, and why, is in legacy/README.md; every other line is the
# author's. Run: python legacy/char_rnn_theano.py [CORPUS] (default ../data/4millions.txt).

## In [1]
import sys

import numpy as np

import pytrnn.compat.theano.tensor as T
from pytrnn.compat.theano import function, shared

## In [3]
CORPUS = sys.argv[1] if len(sys.argv) > 1 else "../data/4millions.txt"
texts = open(CORPUS, encoding="utf-8").read()
charset = set(texts)
ind2char = dict(enumerate(charset))
char2ind = dict(map(reversed, ind2char.items()))
data = list(map(char2ind.get, texts))

print(len(charset), len(data))

## In [113]
## variable dimensions
L = 25  # window length
D = len(charset)  # word dimension
H = 100  # hidden dimension
lr = 0.01  # learning rate
lmbda = 0.01
###############################################################

x = T.ivector(name="x")  # seq of word hashs
y = T.ivector(name="y")  # seq of next-word hashs

################################################################

Wxh = shared(np.random.randn(D, H) / np.sqrt(D), name="Wxh")
Whh = shared(np.random.randn(H, H) / np.sqrt(H), name="Whh")
bh = shared(np.zeros(H), name="bh")
Why = shared(np.random.randn(H, D) / np.sqrt(H), name="Why")
by = shared(np.zeros(D), name="by")

hs = [None] * (L + 1)
probs = [None] * L
errors = [None] * L

hs[-1] = shared(np.zeros(H), name="h_init")
for i in range(L):
    hs[i] = T.tanh(Wxh[x[i], :] + Whh.dot(hs[i - 1]) + bh)
    probs[i] = T.nnet.softmax(hs[i].dot(Why) + by).flatten()
    errors[i] = -T.log(probs[i][y[i]])

data_loss = sum(errors)
reg_loss = (Wxh * Wxh).sum() + (Whh * Whh).sum() + (Why * Why).sum()
loss = data_loss + lmbda * reg_loss

dWxh = T.clip(T.grad(loss, Wxh), -5, 5)
dWhh = T.clip(T.grad(loss, Whh), -5, 5)
dbh = T.clip(T.grad(loss, bh), -5, 5)
dWhy = T.clip(T.grad(loss, Why), -5, 5)
dby = T.clip(T.grad(loss, by), -5, 5)

###################################################################
train_on_seq = function(
    inputs=[x, y],
    outputs=[loss],
    updates=[
        (Wxh, Wxh - lr * dWxh),
        (Whh, Whh - lr * dWhh),
        (bh, bh - lr * dbh),
        (Why, Why - lr * dWhy),
        (by, by - lr * dby),
    ],
)

predict_prob = function(inputs=[x], outputs=probs[-1])

predict = function(inputs=[x], outputs=probs[-1].argmax())

if __name__ == "__main__":
    ## In [114]
    ## test initialization
    print(train_on_seq(x=[0] * L, y=[0] * L), -np.log(1.0 / D) * L)

    ## In [115]
    ## overfit a small dataset
    ichar = 0
    iteration = 0
    iseq = 0
    total_loss = 0
    N = 1000
    for iseq in range(10 * N // L):
        xval = data[ichar : ichar + L]
        yval = data[ichar + 1 : ichar + 1 + L]
        loss = train_on_seq(xval, yval)[0]
        total_loss += loss
        ichar += L
        if ichar + 1 + L >= N:
            ichar = 0
            iteration += 1
            print(
                "iteration=%i, iseq=%i, ichar=%i, loss=%g"
                % (iteration, iseq, ichar, total_loss / (N * 1.0 / L))
            )
            total_loss = 0

    ## In [107]
    ichar = 0
    iteration = 0
    iseq = 0
    total_loss = 0
    N = len(data)
    for iseq in range(10 * N // L):
        xval = data[ichar : ichar + L]
        yval = data[ichar + 1 : ichar + 1 + L]
        loss = train_on_seq(xval, yval)[0]
        total_loss += loss
        ichar += L
        if ichar + 1 + L >= N:
            ichar = 0
            iteration += 1
            print(
                "iteration=%i, iseq=%i, ichar=%i, loss=%g"
                % (iteration, iseq, ichar, total_loss / (N * 1.0 / L))
            )
            total_loss = 0
