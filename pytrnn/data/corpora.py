"""Corpora and the character vocabulary.

A corpus is a UTF-8 text file path or a name: ``pydoc`` (the embedded default: the
English text of Python's own ``pydoc_data.topics``, so training works offline) or
``four-million`` (O. Henry, Project Gutenberg ebook 2776, the notebook's text,
downloaded once by ``pytrnn data fetch``). Nothing here touches the network except
``fetch``.
"""

from __future__ import annotations

import codecs
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytrnn.config import STANDARD_CORPORA
from pytrnn.errors import CorpusError
from pytrnn.files import atomic_write

DEFAULT_CORPUS = "pydoc"
ENCODE_CHUNK = 1 << 22  # chars per encoding step
REMOTE = {
    "four-million": (
        "https://www.gutenberg.org/cache/epub/2776/pg2776.txt",
        "4millions.txt",
    ),
}
# what a download of each must be: its title near the start, and at least this many
# bytes (Project Gutenberg's text of The Four Million is about 440 KB)
BOOKS = {"four-million": ("The Four Million", 100_000)}


def cache_dir() -> Path:
    """Where fetched corpora live: $PYTRNN_CACHE, else $XDG_CACHE_HOME/pytrnn."""
    if os.environ.get("PYTRNN_CACHE"):
        return Path(os.environ["PYTRNN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pytrnn"


def cache_folder() -> Path:
    """The cache folder, made if missing; one CorpusError where it cannot be (a
    file in its place, a file among its parents, no permission)."""
    path = cache_dir()
    where = "PYTRNN_CACHE" if os.environ.get("PYTRNN_CACHE") else "the cache folder"
    if path.exists() and not path.is_dir():
        raise CorpusError(
            f"{where} {path} is a file, not a folder: point PYTRNN_CACHE at a folder"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CorpusError(
            f"cannot make {where} {path} ({e.strerror}): point "
            f"PYTRNN_CACHE at a folder that can be written"
        )
    return path


def looks_like_html(raw: bytes) -> bool:
    """A web page (a server's listing or error page), not a plain text."""
    head = raw[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def pydoc_text() -> str:
    """The embedded default: pydoc's topic texts, in sorted key order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"{where} is not valid UTF-8 (byte {e.start}): pass a UTF-8 text file"
        )


@dataclass(frozen=True)
class Texts:
    """A run's texts: training, and the optional validation and test texts."""

    name: str
    train: str
    valid: str | None = None
    test: str | None = None


SPLIT_FILES = ("train.txt", "valid.txt", "test.txt")  # word_language_model's layout


def refuse_empty_shares(cfg, texts, val_held, test_held, what: str) -> None:
    """A held-out share typed (--val-frac; --test-frac is never a default) that
    holds out nothing is refused: ``val_held`` / ``test_held`` are what was held
    out, ``what`` the text it was cut from ("40 chars", "1 sentence")."""
    asked = {
        "--val-frac": (texts.valid is None and cfg.val_frac, val_held),
        "--test-frac": (texts.test is None and cfg.test_frac, test_held),
    }
    for flag, (frac, held) in asked.items():
        if frac and not held:
            raise CorpusError(
                f"{flag} {frac} of {what} holds out nothing: give a "
                f"longer text, or the held-out text as a file (--valid, "
                f"--test)"
            )


def read_text(path: Path, spec: str, limit: int | None = None) -> str:
    """A UTF-8 file's text; missing, unreadable, non-UTF-8 or empty is a CorpusError.
    With ``limit``, only the first ``limit`` characters: at most 4 bytes each are
    read, never the whole file."""
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {spec}")
    try:
        if limit is None:
            raw = path.read_bytes()
        else:
            with open(path, "rb") as f:
                raw = f.read(4 * limit)
                whole = not f.read(1)
    except OSError as e:
        raise CorpusError(f"cannot read corpus {spec}: {e.strerror}")
    if limit is None:
        text = decode(raw, str(path))
    else:  # only the first ``limit`` chars need be UTF-8, and whole
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=whole)
        except UnicodeDecodeError as e:
            text = raw[: e.start].decode("utf-8")
            if len(text) < limit:
                decode(raw, str(path))  # raises, naming the byte as a whole read would
        text = text[:limit]
    if not text:
        raise CorpusError(f"corpus {spec} is empty")
    return text


def corpus_name(spec: str | None) -> str:
    """The name a corpus gives its run's default checkpoint, without reading it: a
    folder's name, a file's stem, or the corpus name."""
    spec = spec or DEFAULT_CORPUS
    if spec == "pydoc" or spec in REMOTE or spec in STANDARD_CORPORA:
        return spec
    path = Path(spec)
    return path.resolve().name if path.is_dir() else path.stem


def load_texts(
    spec: str | None,
    valid: str | None = None,
    test: str | None = None,
    limit: int | None = None,
) -> Texts:
    """The corpus (a name, a file, or a folder with train.txt and optionally
    valid.txt and test.txt), with ``valid`` / ``test`` files naming or replacing
    the folder's. ``limit``: the training text's first ``limit`` chars only (the
    notebook's N), read as a prefix of its file."""
    folder = None
    if spec in STANDARD_CORPORA:  # fetched into the cache in the standard layout
        from pytrnn.data.standard import local_folder

        folder = local_folder(spec)
    elif spec and Path(spec).is_dir():
        folder = Path(spec)
    if folder is not None:
        if not (folder / "train.txt").is_file():
            raise CorpusError(
                f"corpus folder {spec} has no train.txt "
                f"(expected {', '.join(SPLIT_FILES)})"
            )
        name = corpus_name(spec)
        train = read_text(folder / "train.txt", str(folder / "train.txt"), limit)
        found = {
            f: read_text(folder / f, str(folder / f))
            for f in SPLIT_FILES[1:]
            if (folder / f).is_file()
        }
        valid_text, test_text = found.get("valid.txt"), found.get("test.txt")
    else:
        name, train = load_corpus(spec, limit)
        valid_text = test_text = None
    if valid:
        valid_text = read_text(Path(valid), valid)
    if test:
        test_text = read_text(Path(test), test)
    return Texts(name, train, valid_text, test_text)


def load_corpus(spec: str | None, limit: int | None = None) -> tuple[str, str]:
    """Return (name, text) for a corpus name or path. Line endings are kept as read.
    ``limit``: the first ``limit`` chars, read as a prefix of the file."""
    spec = spec or DEFAULT_CORPUS
    if spec == "pydoc":
        return "pydoc", pydoc_text()[:limit]
    if spec in REMOTE:
        path = cache_dir() / REMOTE[spec][1]
        if not path.exists():
            raise CorpusError(
                f"corpus {spec!r} is not downloaded: run `pytrnn data fetch {spec}` "
                f"or pass a local file with --corpus PATH"
            )
        name = spec
    else:
        path = Path(spec)
        name = corpus_name(spec)
    return name, read_text(path, spec, limit)


def download(url: str, what: str, timeout: float = 60.0, progress=None) -> bytes:
    """The bytes at ``url`` (``progress(done, total or None)`` as they come); a
    failure is one CorpusError saying how to go without the network."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            total = r.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            chunks, done = [], 0
            while chunk := r.read(1 << 16):
                chunks.append(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise CorpusError(
            f"could not download {what} ({reason}); without network, "
            f"pass a local copy with --corpus PATH"
        )
    return b"".join(chunks)


def fetch(
    name: str, url: str | None = None, timeout: float = 60.0, progress=None
) -> Path:
    """Download a named corpus once into the cache; returns its path (a standard
    corpus's folder: pytrnn.data.standard).

    ``progress(done_bytes, total_bytes_or_None)`` is called as it downloads.
    """
    if name in STANDARD_CORPORA:
        from pytrnn.data.standard import fetch_standard

        return fetch_standard(name, url, timeout, progress)
    if name not in REMOTE:
        raise CorpusError(
            f"unknown corpus {name!r}; known: {', '.join([*REMOTE, *STANDARD_CORPORA])}"
        )
    default_url, filename = REMOTE[name]
    dest = cache_folder() / filename
    raw = download(url or default_url, name, timeout, progress)
    check_book(name, raw)
    return atomic_write(dest, lambda f: f.write(raw))


def check_book(name: str, raw: bytes) -> None:
    """The download is the book it names: UTF-8 text, not a web page, at least
    its size in BOOKS, with its title near the start; else one CorpusError."""
    kept = "; nothing was written"
    if looks_like_html(raw):
        raise CorpusError(
            f"the download of {name} is a web page, not the book's text "
            f"(check --url){kept}"
        )
    text = decode(raw, f"the download of {name}")
    title, least = BOOKS[name]
    if len(raw) < least:
        raise CorpusError(
            f"the download of {name} has {len(raw):,} bytes, too few for "
            f"the book (at least {least:,}){kept}"
        )
    if title.lower() not in text[:20_000].lower():
        raise CorpusError(
            f"the download of {name} does not name {title!r} near its "
            f"start: not the book{kept}"
        )


@dataclass(frozen=True)
class Vocab:
    """Sorted distinct symbols (chars or word tokens); ids are their positions."""

    symbols: tuple

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.symbols)

    @property
    def index(self) -> dict:
        return {s: i for i, s in enumerate(self.symbols)}

    def encode(self, text: str, progress=None) -> np.ndarray:
        """Chars -> compact ids (uint16 where the vocabulary fits, else int32).

        Vectorised in chunks: code points are looked up in the sorted symbols with
        ``searchsorted``, so a 100 MB text encodes in seconds and in little memory.
        ``progress(n_chars_done)`` is called after each chunk. Characters outside the
        vocabulary raise CorpusError naming them.
        """
        codes = np.array([ord(c) for c in self.symbols], dtype=np.uint32)
        out = np.empty(len(text), dtype=np.uint16 if self.size <= 1 << 16 else np.int32)
        for start in range(0, len(text), ENCODE_CHUNK):
            chunk = text[start : start + ENCODE_CHUNK]
            cps = np.frombuffer(chunk.encode("utf-32-le", "surrogatepass"), np.uint32)
            idx = np.minimum(np.searchsorted(codes, cps), len(codes) - 1)
            bad = codes[idx] != cps
            if bad.any():
                missing = sorted({chr(c) for c in np.unique(cps[bad])[:20]})
                shown = ", ".join(repr(c) for c in missing)
                raise CorpusError(f"characters not in the vocabulary: {shown}")
            out[start : start + len(chunk)] = idx
            if progress:
                progress(start + len(chunk))
        return out

    def encode_known(self, text: str) -> tuple[np.ndarray, int]:
        """Held-out text: (ids of the characters in the vocabulary, count skipped)."""
        index = self.index
        kept = "".join(c for c in text if c in index)
        return self.encode(kept), len(text) - len(kept)

    def decode(self, ids) -> str:
        return "".join(self.symbols[int(i)] for i in ids)
