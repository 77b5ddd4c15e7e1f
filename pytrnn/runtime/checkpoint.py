"""Checkpoints: one ``.npz`` of named parameters plus a JSON metadata string.

No pickle anywhere: parameters are plain arrays, metadata is a 0-d unicode array
holding JSON, and loading uses ``allow_pickle=False``. Writes go to a temporary
file in the same folder and are renamed into place, so a crash never leaves a
half-written checkpoint. The metadata carries a format version and a SHA-256 of
the parameters, both checked on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pytrnn import __version__
from pytrnn.config import RNNConfig, TrainConfig
from pytrnn.errors import CheckpointError, PytrnnError
from pytrnn.files import atomic_write
from pytrnn.graphs.optim import state_shapes
from pytrnn.graphs.params import param_names

FORMAT = "pytrnn-checkpoint"
FORMAT_VERSION = 1


@dataclass
class RunInfo:
    """What a run was asked for beyond its model, and where its schedule stands:
    kept in the checkpoint's metadata as "extra" (the name format 1 always had)."""

    train: dict = field(default_factory=dict)  # TrainConfig's LOCKED fields, as given
    schedule: dict = field(default_factory=dict)  # its CHANGEABLE (schedule) fields
    lr_now: float | None = None  # the rate of the next pass
    test: dict | None = None  # the test text's figures, once scored

    def layout(self, level: str) -> str:
        """ "stream" or "sentences": the run's own rule applied to what it saved."""
        tokenizer = self.tokenizer if level == "word" else None
        return TrainConfig(
            level=level, layout=self.train.get("layout"), tokenizer=tokenizer
        ).resolved_layout

    @property
    def tokenizer(self) -> str:
        """Word level: how the text was read (checkpoints before --tokenizer: regex)."""
        return self.train.get("tokenizer") or "regex"

    @property
    def carry_state(self) -> bool:
        return bool(self.train.get("carry_state", False))

    @property
    def lower(self) -> bool:
        """Word level: the text was lower-cased (the regex tokenizer's default;
        whitespace tokens never are)."""
        return self.tokenizer == "regex" and bool(self.train.get("lower", True))

    def to_dict(self) -> dict:
        out = {"train": self.train, "schedule": self.schedule, "lr_now": self.lr_now}
        if self.test:
            out["test"] = self.test
        return out

    @classmethod
    def from_dict(cls, d: dict) -> RunInfo:
        if not isinstance(d, dict):
            raise TypeError("extra is not a mapping")
        lower = {"lower": d["lower"]} if "lower" in d else {}  # written apart before
        train = {**lower, **dict(d.get("train", {}))}
        if (
            "vocab_size" in train
        ):  # what TrainConfig.max_words was called until the house moved
            train["max_words"] = train.pop("vocab_size")
        return cls(
            train=train,
            schedule=dict(d.get("schedule", {})),
            lr_now=d.get("lr_now"),
            test=d.get("test"),
        )


@dataclass
class Checkpoint:
    """Everything needed to sample or resume with no other input."""

    cfg: RNNConfig
    params: dict
    vocab: list  # chars, or word tokens
    level: str = "char"
    corpus: str = "pydoc"
    mode: str = "unroll"
    backend: str | None = None
    seed: int = 0
    passes_done: int = 0
    window: int = 0  # next window (or sentence) index inside the current pass
    iseq: int = 0  # windows trained so far over all passes, as the notebook
    pass_loss_sum: float = (
        0.0  # partial sums of the current pass, for a mid-pass resume
    )
    pass_data_sum: float = 0.0
    pass_units: int = 0
    history: list = field(default_factory=list)  # one dict per pass
    run: RunInfo = field(default_factory=RunInfo)  # the run's options and schedule
    opt_state: dict = field(
        default_factory=dict
    )  # the optimizer's (pytrnn.graphs.optim)
    carry: np.ndarray | None = None  # --carry-state: the streams' states (S, B, H)


ZIP_MAGIC = b"PK\x03\x04"  # an .npz is a zip archive
STATE_PREFIX = "opt."  # optimizer state arrays: "opt.m.Wxh", ..., "opt.t"
CARRY = "carry"  # the carried state's array, where the run carries state


def _plain(value):
    """numpy's scalars and arrays (and paths) as the JSON values they stand for."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def to_json(value) -> str:
    """The one converter every value written as JSON goes through (the checkpoint's
    metadata, the --log lines): a count that arrives as np.int64 from one training
    branch and as int from another is written the same."""
    return json.dumps(value, default=_plain)


def is_archive(path: Path) -> bool:
    """The file starts as a zip archive does (a checkpoint, or another .npz)."""
    with open(path, "rb") as f:
        return f.read(4) == ZIP_MAGIC


def params_digest(params: dict) -> str:
    """SHA-256 of the arrays in their order (parameters, then optimizer state); for
    the notebook's model with SGD, the digest format 1 always had."""
    h = hashlib.sha256()
    for k in params:
        a = np.ascontiguousarray(params[k])
        h.update(f"{k}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(path: str | os.PathLike, ckpt: Checkpoint) -> Path:
    """Write atomically: temp file in the same folder, fsync, rename."""
    params = {k: np.asarray(ckpt.params[k]) for k in param_names(ckpt.cfg)}
    params.update(
        {
            STATE_PREFIX + k: np.asarray(ckpt.opt_state[k])
            for k in state_shapes(ckpt.cfg)
        }
    )
    if ckpt.carry is not None:
        params[CARRY] = np.asarray(ckpt.carry)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "pytrnn": __version__,
        "sha256": params_digest(params),
        "config": ckpt.cfg.to_dict(),
        "vocab": list(ckpt.vocab),
        "level": ckpt.level,
        "corpus": ckpt.corpus,
        "mode": ckpt.mode,
        "backend": ckpt.backend,
        "seed": ckpt.seed,
        "passes_done": ckpt.passes_done,
        "window": ckpt.window,
        "iseq": ckpt.iseq,
        "pass_loss_sum": ckpt.pass_loss_sum,
        "pass_data_sum": ckpt.pass_data_sum,
        "pass_units": ckpt.pass_units,
        "history": ckpt.history,
        "extra": ckpt.run.to_dict(),
    }
    return atomic_write(
        path, lambda f: np.savez(f, meta=np.array(to_json(meta)), **params)
    )


def _check_format(path, meta) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pytrnn checkpoint")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {meta['format_version']}, newer than this "
            f"pytrnn reads ({FORMAT_VERSION}): upgrade pytrnn"
        )


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _figures(value, what: str) -> dict:
    """A dict of figures by name (a history record, the test figures): anything
    else is damage the readers (compare, plot, resume) would trip over."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and _number(v) for k, v in value.items()
    ):
        raise ValueError(f"{what} is not a table of figures")
    return value


def _history(value) -> list:
    if not isinstance(value, list):
        raise ValueError("history is not a list")
    for i, r in enumerate(value):
        _figures(r, f"history entry {i + 1}")
        if not isinstance(r.get("pass"), int):
            raise ValueError(f"history entry {i + 1} has no pass number")
    return value


def load(path: str | os.PathLike) -> Checkpoint:
    """Read and verify a checkpoint; every failure is a one-line CheckpointError."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror}")
    if not magic.startswith(ZIP_MAGIC):  # numpy would try a .npy array, then pickle
        kind = (
            "a single .npy array"
            if magic.startswith(b"\x93NUMPY")
            else "not an .npz archive"
        )
        raise CheckpointError(
            f"{path} is not a pytrnn checkpoint ({kind}; "
            f"checkpoints are .npz files written by pytrnn train)"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if "meta" not in names:
                raise CheckpointError(
                    f"{path} is not a pytrnn checkpoint (no metadata)"
                )
            meta = json.loads(str(z["meta"][()]))
            _check_format(path, meta)
            try:
                cfg = RNNConfig.from_dict(meta["config"]).validate()
            except (KeyError, TypeError, ValueError, PytrnnError) as e:
                raise CheckpointError(f"{path} has damaged metadata ({e})")
            wanted = list(param_names(cfg)) + [
                STATE_PREFIX + k for k in state_shapes(cfg)
            ]
            params = {k: np.array(z[k]) for k in wanted + [CARRY] if k in names}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"{path} is damaged or truncated ({e})")
    except ValueError as e:
        if "pickle" in str(e):  # an object array: never loaded, never suggested
            raise CheckpointError(
                f"{path} holds Python objects, which pytrnn never "
                f"writes: it is not a pytrnn checkpoint"
            )
        raise CheckpointError(f"{path} is damaged or not a pytrnn checkpoint ({e})")
    except Exception as e:  # zlib/OSError/KeyError from a corrupt member
        raise CheckpointError(f"{path} is damaged ({type(e).__name__}: {e})")
    missing = [k for k in wanted if k not in params]
    if missing:
        raise CheckpointError(f"{path} lacks parameters: {', '.join(missing)}")
    if params_digest(params) != meta.get("sha256"):
        raise CheckpointError(f"{path} is damaged: parameter checksum does not match")
    opt_state = {
        k[len(STATE_PREFIX) :]: params.pop(k)
        for k in list(params)
        if k.startswith(STATE_PREFIX)
    }
    carry = params.pop(CARRY, None)
    try:
        ckpt = Checkpoint(
            cfg=cfg,
            params=params,
            opt_state=opt_state,
            carry=carry,
            vocab=list(meta["vocab"]),
            level=meta["level"],
            corpus=meta["corpus"],
            mode=meta["mode"],
            backend=meta.get("backend"),
            seed=int(meta["seed"]),
            passes_done=int(meta["passes_done"]),
            window=int(meta["window"]),
            iseq=int(meta["iseq"]),
            pass_loss_sum=float(meta["pass_loss_sum"]),
            pass_data_sum=float(meta.get("pass_data_sum", 0.0)),
            pass_units=int(meta.get("pass_units", 0)),
            history=_history(meta.get("history", [])),
            run=RunInfo.from_dict(meta.get("extra", {})),
        )
        if ckpt.run.test is not None:
            _figures(ckpt.run.test, "the test figures")
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} has damaged metadata ({type(e).__name__}: {e})")
    if len(ckpt.vocab) != cfg.vocab_size:
        raise CheckpointError(
            f"{path} is damaged: vocabulary size does not match config"
        )
    return ckpt
