"""The values each option takes, and the defaults pytrnn takes from its anchors
(torch.optim's rates, AWD-LSTM's variable BPTT): named once, here, so that the CLI
lists them without importing PyTensor. pytrnn.config re-exports them."""

MODES = ("unroll", "scan")
LEVELS = ("char", "word")
LAYOUTS = ("sentences", "stream")
# The backends, named once here so that the CLI lists them without importing PyTensor
# (pytrnn.runtime.backends maps each to its PyTensor mode), and what each can do:
BACKEND_NAMES = ("jax", "numba", "c")
# one lax.scan per chunk of windows (runtime/fused.py)
FUSES_WINDOWS = frozenset({"jax"})
DEVICES = ("cpu", "gpu")
DTYPES = ("float64", "float32")
CELL_NAMES = ("rnn", "gru", "lstm")
OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "asgd")
LOSS_SCALES = ("window", "token")  # the notebook's window sum, or wlm's mean per token
INITS = ("notebook", "wlm")
TOKENIZERS = ("regex", "whitespace")
# the output layer: one V-wide softmax, or torch's adaptive one
SOFTMAXES = ("full", "adaptive")
# the output layer's products: in --dtype, or on bfloat16 with float32 sums
PRECISIONS = ("full", "bf16")
# every option with a fixed set of values, by its field: the CLI's Enums, configure's
# checks and the configs' own read this one table
CHOICES = {
    "level": LEVELS,
    "layout": LAYOUTS,
    "tokenizer": TOKENIZERS,
    "cell": CELL_NAMES,
    "optimizer": OPTIMIZERS,
    "softmax": SOFTMAXES,
    "precision": PRECISIONS,
    "dtype": DTYPES,
    "mode": MODES,
    "backend": BACKEND_NAMES,
    "device": DEVICES,
    "loss_scale": LOSS_SCALES,
    "init": INITS,
}
MODEL_CHOICES = (
    "dtype",
    "cell",
    "optimizer",
    "loss_scale",
    "init",
    "softmax",
    "precision",
)
# the field's standard word-level corpora (pytrnn.data.standard fetches them)
STANDARD_CORPORA = ("wikitext-2", "wikitext-103", "ptb")
# torch.optim's documented defaults: the learning rate when none is given, and eps
DEFAULT_LR = {
    "sgd": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.01,
    "adam": 0.001,
    "asgd": 0.01,
}
DEFAULT_EPS = {"sgd": 0.0, "adagrad": 1e-10, "rmsprop": 1e-8, "adam": 1e-8, "asgd": 0.0}
# AWD-LSTM's variable BPTT: the base length with probability 0.95 (else half of it),
# then drawn from N(that, VARIABLE_BPTT_SD), at least VARIABLE_BPTT_MIN tokens; a
# window's steps are padded to a multiple of VARIABLE_BPTT_BUCKET (few compiled shapes)
VARIABLE_BPTT_SD, VARIABLE_BPTT_MIN, VARIABLE_BPTT_BUCKET = 5.0, 5, 8
FUSE_CHUNK = 256  # default windows per call on JAX: ~50 ms of work, so the bar moves
FUSE_SENTENCES = 16  # default groups of sentences of one bucket per call on JAX
