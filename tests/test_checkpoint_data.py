"""Checkpoints (atomic, checked, no pickle) and corpora (names, files, the downloader)."""

import http.server
import threading
import zipfile

import numpy as np
import pytest

import pytrnn
from pytrnn import checkpoint as ck
from pytrnn.data import Vocab, fetch, load_corpus, pydoc_text
from pytrnn.errors import CheckpointError, CorpusError
from pytrnn.params import init_params


@pytest.fixture
def saved(tmp_path):
    cfg = pytrnn.RNNConfig(vocab_size=4, hidden=3, window=5)
    c = ck.Checkpoint(cfg=cfg, params=init_params(cfg, np.random.default_rng(0)),
                      vocab=list("abcd"), passes_done=2, window=7, iseq=30,
                      history=[{"pass": 1, "loss": 3.5}])
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


def test_bit_flip_in_the_file_is_rejected(saved):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("Whh.npy")
    raw[info.header_offset + 30 + len(info.filename) + 140] ^= 0x01  # inside Whh's data
    path.write_bytes(bytes(raw))
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
    body = "The Four Million\r\nby O. Henry\r\n".encode() * 50

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
    path = fetch("four-million", url=f"{server}/pg2776.txt",
                 progress=lambda d, t: seen.append((d, t)))
    assert path.read_bytes() == _Handler.body
    assert seen[-1] == (len(_Handler.body), len(_Handler.body))
    name, text = load_corpus("four-million")
    assert name == "four-million" and text == _Handler.body.decode()


def test_fetch_failure_says_how_to_go_offline(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))
    with pytest.raises(CorpusError, match="--corpus PATH"):
        fetch("four-million", url=f"{server}/missing.txt")
    assert not (tmp_path / "4millions.txt").exists()
