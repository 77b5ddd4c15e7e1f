"""Checkpoints (atomic, checked, no pickle) and corpora (names, files, the downloader)."""

import http.server
import io
import struct
import threading
import zipfile
import zlib

import numpy as np
import pytest

import pytrnn
from pytrnn.data.corpora import Vocab, fetch, load_corpus, pydoc_text
from pytrnn.errors import CheckpointError, CorpusError
from pytrnn.graphs.params import init_params
from pytrnn.runtime import checkpoint as ck


@pytest.fixture
def saved(tmp_path):
    cfg = pytrnn.RNNConfig(vocab_size=4, hidden=3, window=5)
    c = ck.Checkpoint(
        cfg=cfg,
        params=init_params(cfg, np.random.default_rng(0)),
        vocab=list("abcd"),
        passes_done=2,
        window=7,
        iseq=30,
        history=[{"pass": 1, "loss": 3.5}],
    )
    path = tmp_path / "m.npz"
    ck.save(path, c)
    return path, c


def test_roundtrip_without_pickle(saved):
    path, c = saved
    back = ck.load(path)
    assert back.cfg == c.cfg and back.vocab == c.vocab and back.history == c.history
    assert (back.passes_done, back.window, back.iseq) == (2, 7, 30)
    for k in c.params:
        np.testing.assert_array_equal(back.params[k], c.params[k])
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        assert set(z.files) == {"meta", "Wxh", "Whh", "bh", "Why", "by"}


def test_failed_write_keeps_the_old_checkpoint(saved, monkeypatch):
    path, c = saved
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        ck.save(path, c)
    assert path.read_bytes() == before
    assert list(path.parent.glob(".*tmp")) == []


def test_truncated_is_rejected(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(CheckpointError, match="damaged|truncated"):
        ck.load(path)


def test_bit_flip_in_parameters_is_caught_by_the_checksum(saved, tmp_path):
    path, _ = saved
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["Whh"] = arrays["Whh"].copy()
    arrays["Whh"].reshape(-1).view(np.uint8)[3] ^= 0x10
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="checksum"):
        ck.load(path)


def flip_in_whh_data(path, expected_nbytes, repair_crc):
    """Flip one bit inside the bytes of Whh's array data in the file itself (not in
    the .npy header or the zip's records); with ``repair_crc`` also rewrite the zip's
    CRC-32 of that member (local header and central directory), so that the zip layer
    cannot see the change and only pytrnn's own SHA-256 can."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("Whh.npy")
        member = z.read("Whh.npy")
    name_len, extra_len = struct.unpack(
        "<HH", raw[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len  # the member's first byte
    assert bytes(raw[start : start + len(member)]) == member  # stored, uncompressed
    f = io.BytesIO(member)
    version = np.lib.format.read_magic(f)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }[version]
    read_header(f)
    data_at = f.tell()  # the .npy header ends here; the array's bytes follow
    assert len(member) - data_at == expected_nbytes
    raw[start + data_at + 3] ^= 0x10
    if repair_crc:
        crc = struct.pack("<I", zlib.crc32(bytes(raw[start : start + len(member)])))
        raw[info.header_offset + 14 : info.header_offset + 18] = crc
        i = raw.find(b"PK\x01\x02")
        while raw[i + 46 : i + 46 + len(info.filename)] != info.filename.encode():
            i = raw.find(b"PK\x01\x02", i + 1)
            assert i >= 0, "no central directory entry for Whh.npy"
        raw[i + 16 : i + 20] = crc
    path.write_bytes(bytes(raw))


def test_bit_flip_in_whh_data_is_caught_by_the_sha256(saved):
    path, c = saved
    flip_in_whh_data(path, c.params["Whh"].nbytes, repair_crc=True)
    with np.load(path, allow_pickle=False) as z:  # the zip itself reads cleanly ...
        changed = z["Whh"] != c.params["Whh"]
        assert changed.sum() == 1  # ... with exactly one element of Whh changed
        for k in ("Wxh", "bh", "Why", "by"):
            np.testing.assert_array_equal(z[k], c.params[k])
    with pytest.raises(CheckpointError, match="parameter checksum does not match"):
        ck.load(path)


def test_bit_flip_in_the_file_is_rejected(saved):
    """The same flip without repairing the zip's CRC: rejected as damaged."""
    path, c = saved
    flip_in_whh_data(path, c.params["Whh"].nbytes, repair_crc=False)
    with pytest.raises(CheckpointError, match="damaged"):
        ck.load(path)


def test_foreign_npz_and_text_files_are_rejected(tmp_path):
    foreign = tmp_path / "f.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(CheckpointError, match="not a pytrnn checkpoint"):
        ck.load(foreign)
    text = tmp_path / "t.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        ck.load(text)


def test_newer_format_is_named(saved):
    path, c = saved
    import json

    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["format_version"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="newer"):
        ck.load(path)


def test_pydoc_corpus_is_embedded_and_stable():
    name, text = load_corpus(None)
    assert name == "pydoc" and text == pydoc_text() and len(text) > 100_000
    v = Vocab.from_text(text)
    assert list(v.symbols) == sorted(set(text))
    assert v.decode(v.encode(text[:500])) == text[:500]
    assert v.encode(text[:10]).dtype == np.uint16  # compact: 103 symbols fit


def test_vocab_encode_names_unknown_chars():
    with pytest.raises(CorpusError, match="'z'"):
        Vocab(tuple("abc")).encode("abz")


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b"The Four Million\r\nby O. Henry\r\n" * 4000  # the book's size

    def do_GET(self):
        if self.path != "/pg2776.txt":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_fetch_from_a_local_server_then_load_offline(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))
    seen = []
    path = fetch(
        "four-million",
        url=f"{server}/pg2776.txt",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert path.read_bytes() == _Handler.body
    assert seen[-1] == (len(_Handler.body), len(_Handler.body))
    name, text = load_corpus("four-million")
    assert name == "four-million" and text == _Handler.body.decode()


def test_fetch_failure_says_how_to_go_offline(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))
    with pytest.raises(CorpusError, match="--corpus PATH"):
        fetch("four-million", url=f"{server}/missing.txt")
    assert not (tmp_path / "4millions.txt").exists()


def test_encoding_in_chunks_equals_one_chunk(monkeypatch):
    """Chunk edges (every 7 chars here) change nothing, also with characters outside
    the BMP on an edge; progress is reported once per chunk."""
    import pytrnn.data.corpora as data

    text = "héllo wörld 😀 a🐍b\n" * 5
    v = Vocab.from_text(text)
    whole = v.encode(text)
    assert v.decode(whole) == text
    monkeypatch.setattr(data, "ENCODE_CHUNK", 7)
    seen = []
    np.testing.assert_array_equal(v.encode(text, progress=seen.append), whole)
    assert seen == list(range(7, len(text), 7)) + [len(text)]


def test_batch_streams_are_contiguous_slices():
    """--batch B cuts the text into B contiguous streams, as char-rnn: stream b is
    chars [b*S, (b+1)*S) with S = N // B; the tail that does not fill a row is left."""
    from pytrnn.data.batches import split_streams, stack_windows

    data = np.arange(23)
    s = split_streams(data, 4)
    assert s.shape == (4, 5)
    for b in range(4):
        np.testing.assert_array_equal(s[b], np.arange(b * 5, (b + 1) * 5))
    X, Y = stack_windows(s, [0, 2], 2)  # (K, L, B): window k, position t, stream b
    assert X.shape == (2, 2, 4)
    assert X[1, 0, 3] == 17 and Y[1, 0, 3] == 18


# -- checkpoints written before the house moved ---------------------------------------

DATA = __import__("pathlib").Path(__file__).parents[1] / "fixtures"


def test_checkpoints_written_before_the_house_load_score_sample_and_resume(tmp_path):
    """tests/fixtures holds two checkpoints written by pytrnn 0.1.0 before its modules
    moved into groups and its run metadata became typed (commit fbfd746): a
    char-level tanh run with Adam, carried state in 2 streams and a validation
    split, and a word-level stream run. They load, score and sample as that code did (its
    figures and samples, recorded then), and resume."""
    from typer.testing import CliRunner

    from pytrnn.cli.main import app

    char, word = DATA / "char-0.1.0.npz", DATA / "word-0.1.0.npz"
    c, w = ck.load(char), ck.load(word)
    assert (
        c.cfg.optimizer == "adam" and c.run.carry_state and c.carry.shape == (1, 2, 8)
    )
    assert c.run.train["batch"] == 2 and c.run.lr_now == 0.001 and c.passes_done == 2
    assert w.level == "word" and w.run.layout("word") == "stream" and w.run.lower
    ctext, wtext = tmp_path / "c.txt", tmp_path / "w.txt"
    ctext.write_text("the cat sat on the mat; def f(x): return x + 1\n" * 5)
    wtext.write_text("the cat sat on the mat . the dog saw a cat .\n" * 3)
    # that code scored a carrying model as one stream: --batch 1 (the default now
    # cuts the text into wlm's 10)
    assert pytrnn.evaluate(char, ctext, batch=1)["loss_per_char"] == pytest.approx(
        3.434150347562097, rel=1e-12
    )
    assert pytrnn.evaluate(word, wtext)["loss_per_word"] == pytest.approx(
        1.555185895648031, rel=1e-12
    )
    runner = CliRunner()
    r = runner.invoke(app, ["sample", str(char), "--length", "40", "--seed", "3"])
    assert r.stdout == 's=rh(ee.p)bfcipy[mn[\nz]_thep na"nwAn]opAs\n'
    r = runner.invoke(app, ["sample", str(word), "--sentences", "2", "--seed", "3"])
    assert r.stdout == "The sat sat on the on the dog sat on the mat.\nA dog the mat.\n"
    copy = tmp_path / "c.npz"
    copy.write_bytes(char.read_bytes())
    r = runner.invoke(
        app, ["train", "--resume", str(copy), "--passes", "3", "--sample-length", "0"]
    )
    assert r.exit_code == 0, r.output
    again = ck.load(copy)
    assert again.passes_done == 3 and again.run.train["carry_state"] is True
