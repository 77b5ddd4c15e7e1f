"""Files a run writes: atomic writes (a temporary file in the same folder, fsync,
rename), output paths checked before any work, and a run's exclusive claim on its
checkpoint path.

A crash or a full disk never leaves a half-written file in place of a good one. The
file gets the mode the umask gives a new file (``mkstemp`` alone would make it 0600).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path


def umask_mode(base: int = 0o666) -> int:
    """The mode ``open()`` would give a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(binary_file)`` on a temporary file, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _nearest_existing(folder: Path) -> Path:
    """``folder``, or the nearest of its parents that exists (atomic_write makes
    the missing ones)."""
    while not folder.exists():
        folder = folder.parent
    return folder


def check_writable(
    path: str | os.PathLike, what: str, example: str = "run.npz"
) -> Path:
    """Refuse, before any work, an output path that could not be written: a folder,
    a path under a file, or a folder where no file can be created (tried, not
    guessed from permission bits, which root and read-only mounts make lie)."""
    from pytrnn.errors import OutputError

    path = Path(path)
    if path.is_dir():
        raise OutputError(
            f"{what} {path} is a folder: name a file in it, such as {path / example}"
        )
    folder = _nearest_existing(path.parent)
    if not folder.is_dir():
        raise OutputError(
            f"cannot write {what} {path}: {folder} is a file, not a folder"
        )
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".pytrnn-probe.")
    except OSError as e:
        raise OutputError(
            f"cannot write {what} {path}: {folder} is not writable ({e.strerror})"
        )
    os.close(fd)
    os.unlink(probe)
    return path


def check_free_space(path: Path, needed: int, what: str) -> None:
    """Refuse a run whose checkpoint (written twice over: the file and its temporary
    copy) would not fit in the free space of its folder."""
    from pytrnn.errors import OutputError

    folder = _nearest_existing(Path(path).parent)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OutputError(
            f"{what} {path} needs about {needed / 1e6:,.1f} MB and "
            f"{folder} has {free / 1e6:,.1f} MB free"
        )


class PathBusy(Exception):
    """Another live process holds the claim on a path."""

    def __init__(self, pid: str, path: Path | None = None):
        super().__init__(pid)
        self.pid, self.path = pid, path


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def claim(path: str | os.PathLike):
    """Hold ``PATH.lock`` under an exclusive ``flock`` for as long as the block
    runs, so two runs never write one checkpoint. The kernel drops the lock when
    its process dies however it dies, so a crash leaves no stale claim; the file
    is removed on the way out. Raises PathBusy (with the holder's pid) at once."""
    lock = lock_path(Path(path))
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, umask_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise PathBusy(holder, Path(path))
        try:  # the last holder may have removed the file between our open and flock
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)  # still held: nobody else can have it yet
        os.close(fd)


@contextlib.contextmanager
def claim_all(paths):
    """``claim`` every one of ``paths`` (a run's checkpoint, its best pass, its
    log): a second run that would write any of them stops at once."""
    seen = {}
    for p in paths:
        seen.setdefault(Path(p).resolve(), Path(p))
    with contextlib.ExitStack() as stack:
        for p in seen.values():
            stack.enter_context(claim(p))
        yield


def figure_path(out: str | os.PathLike, what: str = "-o") -> Path:
    """The file a figure is saved to: ``out``, with ``.png`` added where it has no
    suffix (as matplotlib would add it), checked before anything is drawn."""
    out = Path(out)
    if not out.is_dir() and not out.suffix:
        out = out.with_name(out.name + ".png")
    if not out.is_dir():
        from matplotlib.backend_bases import FigureCanvasBase

        kinds = FigureCanvasBase.get_supported_filetypes()
        if out.suffix[1:].lower() not in kinds:
            from pytrnn.errors import OutputError

            raise OutputError(
                f"{what} {out}: a figure is written as one of "
                f"{', '.join(sorted(kinds))}, not {out.suffix}; name "
                f"a file such as {out.name}.png"
            )
    return check_writable(out, what, example="loss.png")
