"""What a run leaves on disk and says about it: its result, the best pass's path
beside the checkpoint, the writes (one OutputError when the system refuses one), the
``--log`` lines, what a stop leaves at the checkpoint path and the command that
resumes it.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pytrnn.errors import OutputError
from pytrnn.runtime import checkpoint as ckpt_io
from pytrnn.runtime.model import RNN


@dataclass
class TrainResult:
    model: RNN
    checkpoint: ckpt_io.Checkpoint
    path: Path
    history: list = field(default_factory=list)
    compile_s: float = 0.0
    units_per_s: float = 0.0
    sample: str = ""
    best_path: Path | None = None  # None: no validation split, so no best pass
    test: dict | None = None  # the test text's figures, when there is one


def best_path(path: Path) -> Path:
    """``runs/a.npz`` -> ``runs/a.best.npz``: the best pass by validation loss."""
    path = Path(path)
    return path.with_name(path.stem + ".best" + (path.suffix or ".npz"))


def resumes_into(cfg, path: Path) -> bool:
    """The run continues the checkpoint at ``path`` itself (--resume X, saving back
    to X): what is there is this run's own last good state."""
    return cfg.resume is not None and Path(path).resolve() == Path(cfg.resume).resolve()


def best_file(path) -> bool:
    """``X.best.npz``: a run's best pass, the copy ``best_path`` names."""
    return Path(path).stem.endswith(".best")


class Outputs:
    """The writes of one run (only the lead process writes)."""

    def __init__(self, cfg, path: Path, reporter, lead: bool, resumed_here: bool):
        self.cfg, self.path, self.reporter = cfg, Path(path), reporter
        self.lead, self.resumed_here = lead, resumed_here
        self.wrote = False  # this run has written its checkpoint at least once

    def write(self, target: Path, write) -> None:
        try:
            write()
        except OSError as e:
            self.reporter.stop()
            raise OutputError(
                f"cannot write {target} ({e.strerror or e}); {self.kept()}"
            )

    def kept(self) -> str:
        """What a stop leaves at the checkpoint path, said truthfully."""
        if self.wrote or self.resumed_here:
            return f"the last good checkpoint is kept: {self.path}"
        if self.path.exists():
            return f"this run wrote no checkpoint; {self.path} is as it was"
        return "no checkpoint was written yet"

    def log_run(self, model, corpus: str, passes_done: int) -> None:
        """The --log's line before a run's (or a resumed run's) passes: its resolved
        configs, corpus and where it starts; pass lines follow, each with "pass"."""
        run = {"model": model.cfg.to_dict(), "train": asdict(self.cfg), "corpus": corpus,
               "mode": model.mode, "backend": model.backend, "passes_done": passes_done}  # fmt: skip
        self.log({"run": run})

    def log(self, record: dict) -> None:
        if self.cfg.log and self.lead:

            def append():
                with open(self.cfg.log, "a", encoding="utf-8") as f:
                    f.write(ckpt_io.to_json(record) + "\n")

            self.write(Path(self.cfg.log), append)

    def resume_command(self) -> str:
        """The command that continues this run exactly where it stopped."""
        cfg, q = self.cfg, shlex.quote
        cmd = f"pytrnn train --resume {q(str(self.path))} --passes {cfg.passes}"
        if cfg.log:
            cmd += f" --log {q(str(cfg.log))}"
        if cfg.save_every != 60.0:
            cmd += f" --save-every {cfg.save_every:g}"
        if cfg.backend:
            cmd += f" --backend {cfg.backend}"
        if cfg.device:
            cmd += f" --device {cfg.device}"
        return cmd
