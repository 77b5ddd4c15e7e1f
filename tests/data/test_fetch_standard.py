"""``pytrnn data fetch wikitext-2 | wikitext-103 | ptb`` against a local HTTP server
on 127.0.0.1 (never the network): files checked by their published git blob ids, an
archive unpacked to the standard layout, nothing written unless every file passed,
then ``--corpus NAME`` reads the cache."""

import hashlib
import io
import subprocess
import zipfile

import pytest
from helpers import invoke, one_line_error, serve

from pytrnn.config import STANDARD_CORPORA
from pytrnn.data import standard
from pytrnn.data.corpora import load_texts
from pytrnn.errors import CorpusError

FILES = {
    "ptb.train.txt": b" the cat sat \n a b c \n",
    "ptb.valid.txt": b" the cat \n",
    "ptb.test.txt": b" a b \n",
}
ARCHIVE = io.BytesIO()
with zipfile.ZipFile(ARCHIVE, "w") as z:
    for split in ("train", "valid", "test"):
        z.writestr(
            f"wikitext-103/wiki.{split}.tokens", f" = {split} = \n the <unk> .\n"
        )
SERVED = {
    **{f"/ptb/{k}": v for k, v in FILES.items()},
    "/wt103.zip": ARCHIVE.getvalue(),
    "/bad/ptb.train.txt": b"other\n",
    "/bad/ptb.valid.txt": FILES["ptb.valid.txt"],
    "/bad/ptb.test.txt": FILES["ptb.test.txt"],
    "/junk.zip": b"not a zip",
}


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path / "cache"))
    with serve(SERVED) as url:
        yield url


@pytest.fixture
def served_ptb(monkeypatch):
    """The ptb source as published, its blob ids those of the files served here."""
    files = {
        s: (f"ptb.{s[:-4]}.txt", standard.blob_id(FILES[f"ptb.{s[:-4]}.txt"]))
        for s in standard.SPLITS
    }
    monkeypatch.setitem(
        standard.SOURCES,
        "ptb",
        standard.Source(standard.SOURCES["ptb"].base, files=files),
    )


def test_blob_id_is_gits(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"hello\n")
    want = subprocess.run(
        ["git", "hash-object", str(f)], capture_output=True, text=True
    ).stdout.strip()
    assert standard.blob_id(b"hello\n") == want
    assert standard.blob_id(b"hello\n") != hashlib.sha1(b"hello\n").hexdigest()


def test_every_standard_name_has_a_source():
    assert set(standard.SOURCES) == set(STANDARD_CORPORA)
    for src in standard.SOURCES.values():
        assert all(len(b) == 40 for _, b in src.files.values())
        assert src.archive or set(src.files) == set(standard.SPLITS)


def test_fetch_ptb_checks_ids_then_corpus_reads_the_cache(server, served_ptb, tmp_path):
    r = invoke("data", "fetch", "ptb", "--url", f"{server}/ptb")
    assert r.exit_code == 0, r.output
    dest = tmp_path / "cache" / "ptb"
    assert r.stdout.strip() == f"saved ptb to {dest}"
    assert (dest / "train.txt").read_bytes() == FILES["ptb.train.txt"]
    t = load_texts("ptb")
    assert (t.name, t.valid, t.test) == ("ptb", " the cat \n", " a b \n")


def test_a_file_that_is_not_the_published_one_writes_nothing(
    server, served_ptb, tmp_path
):
    one_line_error(
        invoke("data", "fetch", "ptb", "--url", f"{server}/bad"),
        "ptb.train.txt",
        "is not the published file",
    )
    assert not (tmp_path / "cache" / "ptb").exists()


def test_fetch_wikitext_103_unpacks_the_archive(server, tmp_path):
    path = standard.fetch_standard("wikitext-103", url=f"{server}/wt103.zip")
    assert sorted(p.name for p in path.iterdir()) == [
        "test.txt",
        "train.txt",
        "valid.txt",
    ]
    assert (path / "valid.txt").read_text() == " = valid = \n the <unk> .\n"
    with pytest.raises(CorpusError, match="not a zip archive"):
        standard.fetch_standard("wikitext-103", url=f"{server}/junk.zip")


def test_a_standard_corpus_not_fetched_says_how(server):
    one_line_error(
        invoke("train", "--corpus", "wikitext-2", "--level", "word"),
        "pytrnn data fetch wikitext-2",
    )
