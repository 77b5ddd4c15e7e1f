"""#39 item 3: is ``patch_jax_transposes`` (real transposes for XLA's CPU backend,
runtime/patches.py) still a gain on the machine this runs on? Each job is trained
twice, one process each, alternating, with the patch and without it; their speeds
and the machine are printed side by side.

    python bench/transposes_check.py [--corpus ../shared/corpora/wikitext2-valid]

Jobs: the notebook's default (char, batch 1, 2 passes), the char level at float32
batch 64, and, with ``--corpus``, ``--recipe wlm --tied`` for one pass.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# the CLI in a process whose JAX dispatch leaves transposes folded (or not)
LAUNCH = (
    "import sys, pytrnn.runtime.backends as b\n"
    "if sys.argv.pop(1) == 'folded': b.patch_jax_transposes = lambda: None\n"
    "from pytrnn.cli.main import main\n"
    "sys.argv[0] = 'pytrnn'\n"
    "main()\n"
)


def speed(variant: str, args: list[str], work: Path) -> float:
    """The last pass's tokens/s of ``pytrnn train ARGS`` with ``variant``."""
    log = work / f"{variant}.jsonl"
    log.unlink(missing_ok=True)
    cmd = [sys.executable, "-c", LAUNCH, variant, "train", *args, "--log", str(log),
           "--checkpoint", str(work / "x.npz"), "--overwrite", "--sample-length", "0"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"pytrnn failed:\n{p.stderr[-2000:]}")
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    last = [r for r in recs if "pass" in r][-1]
    return next(v for k, v in last.items() if k.endswith("_per_s"))


def main():
    from pytrnn.tools.info import cpu_facts, cpu_line

    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    jobs = {
        "the notebook's default (char, float64, batch 1)": ["--passes", "2"],
        "char, float32, batch 64": [
            "--passes",
            "2",
            "--dtype",
            "float32",
            "--batch",
            "64",
        ],  # fmt: skip
    }
    if a.corpus:
        jobs["--recipe wlm --tied, one pass"] = ["--recipe", "wlm", "--tied",
                                                 "--corpus", a.corpus, "--passes", "1"]  # fmt: skip
    print(f"measured on: {cpu_line(cpu_facts())}")
    with tempfile.TemporaryDirectory() as d:
        for name, args in jobs.items():
            best = {"copied": 0.0, "folded": 0.0}
            for _ in range(a.repeats):
                for variant in best:
                    best[variant] = max(best[variant], speed(variant, args, Path(d)))
            c, f = best["copied"], best["folded"]
            print(f"{name}: transposes copied {c:,.0f}/s, folded {f:,.0f}/s, "
                  f"copied/folded {c / f:.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
