"""Resumable downloads against a local HTTP server on 127.0.0.1 (loopback only).

The server serves one payload at /file.bin, honours `Range: bytes=N-` (206 with
Content-Range, 416 past the end) unless told not to, and can be told to cut
the connection after a number of body bytes, once.
"""

import hashlib
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from clue_jax.data import d4rl_io
from clue_jax.data.d4rl_io import save_hdf5
from clue_jax.data.download import DownloadError, download
from clue_jax.data.factory import load_dataset

PAYLOAD = np.random.default_rng(0).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        cfg = self.server.cfg
        cfg["ranges_seen"].append(self.headers.get("Range"))
        if self.path != "/file.bin":
            self.send_error(404)
            return
        payload, start = cfg["payload"], 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        if match and cfg["honor_range"]:
            start = int(match.group(1))
            if start >= len(payload):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(payload)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            self.send_response(200)
        body = payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = cfg.pop("cut_after", None)
        if cut is not None:  # send part of the body, then drop the connection
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.cfg = {"payload": PAYLOAD, "honor_range": True, "ranges_seen": []}
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_full_download_checks_size_and_sha(server, tmp_path):
    dest = str(tmp_path / "d" / "file.bin")
    got = download(server.url, dest, expected_size=len(PAYLOAD), sha256=SHA, progress=False)
    assert got == dest
    assert read(dest) == PAYLOAD and not os.path.exists(dest + ".part")
    assert server.cfg["ranges_seen"] == [None]
    download(server.url, dest, sha256=SHA, progress=False)  # already there: no request
    assert len(server.cfg["ranges_seen"]) == 1


def test_interrupted_transfer_keeps_part_then_resumes(server, tmp_path):
    dest = str(tmp_path / "file.bin")
    server.cfg["cut_after"] = 100_000
    with pytest.raises(DownloadError, match=r"after 100000 of 300000 bytes.*run again to resume"):
        download(server.url, dest, progress=False)
    assert not os.path.exists(dest)
    assert read(dest + ".part") == PAYLOAD[:100_000]
    download(server.url, dest, sha256=SHA, progress=False)
    assert server.cfg["ranges_seen"] == [None, "bytes=100000-"]
    assert read(dest) == PAYLOAD and not os.path.exists(dest + ".part")


def test_retries_resume_within_one_call(server, tmp_path):
    dest = str(tmp_path / "file.bin")
    server.cfg["cut_after"] = 123_456
    download(server.url, dest, sha256=SHA, progress=False, retries=1)
    assert read(dest) == PAYLOAD
    assert server.cfg["ranges_seen"] == [None, "bytes=123456-"]


def test_server_without_range_support_restarts_from_zero(server, tmp_path):
    dest = str(tmp_path / "file.bin")
    with open(dest + ".part", "wb") as f:
        f.write(b"\0" * 5000)  # stale bytes that must not survive
    server.cfg["honor_range"] = False
    download(server.url, dest, sha256=SHA, progress=False)
    assert read(dest) == PAYLOAD


def test_complete_part_is_finished_on_416(server, tmp_path):
    dest = str(tmp_path / "file.bin")
    with open(dest + ".part", "wb") as f:
        f.write(PAYLOAD)
    download(server.url, dest, sha256=SHA, progress=False)
    assert server.cfg["ranges_seen"] == ["bytes=300000-"] and read(dest) == PAYLOAD


def test_checksum_mismatch_raises_and_leaves_no_file(server, tmp_path):
    dest = str(tmp_path / "file.bin")
    with pytest.raises(DownloadError, match="sha256 .* does not match"):
        download(server.url, dest, sha256="0" * 64, progress=False)
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")


def test_size_mismatch_and_http_error(server, tmp_path):
    dest = str(tmp_path / "file.bin")
    with pytest.raises(DownloadError, match="reports 300000 bytes but 299999 were expected"):
        download(server.url, dest, expected_size=299_999, progress=False)
    with pytest.raises(DownloadError, match="missing.bin.*404"):
        download(server.url.replace("file.bin", "missing.bin"), dest, progress=False)
    assert os.listdir(tmp_path) == []


def test_load_dataset_download_into_d4rl_cache(server, tmp_path, monkeypatch):
    n = 5
    raw = {"observations": np.arange(2 * n, dtype=np.float32).reshape(n, 2),
           "actions": np.zeros((n, 1), np.float32), "rewards": np.ones(n, np.float32),
           "terminals": np.zeros(n, bool), "timeouts": np.zeros(n, bool)}
    server.cfg["payload"] = read(save_hdf5(str(tmp_path / "src.hdf5"), raw))
    monkeypatch.setitem(d4rl_io.D4RL_URLS, "hopper-medium-v2", server.url)
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "cache"))
    ds = load_dataset("hopper-medium-v2", download=True)
    assert ds.size == n - 1
    assert os.listdir(tmp_path / "cache") == ["file.bin"]  # basename of the URL, as d4rl does


def test_html_body_is_rejected_and_never_cached(server, tmp_path, monkeypatch):
    server.cfg["payload"] = b"<!DOCTYPE html><html><body>Moved. Please log in.</body></html>"
    monkeypatch.setitem(d4rl_io.D4RL_URLS, "hopper-medium-v2", server.url)
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "cache"))
    with pytest.raises(DownloadError, match="an HTML page, not the expected file"):
        load_dataset("hopper-medium-v2", download=True)
    assert os.listdir(tmp_path / "cache") == []  # neither the file nor a .part


def test_offline_switch_stops_the_download(server, tmp_path, monkeypatch):
    from clue_jax.data.d4rl_io import DatasetNotFoundError
    monkeypatch.setitem(d4rl_io.D4RL_URLS, "hopper-medium-v2", server.url)
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CLUE_JAX_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="Downloads are off"):
        load_dataset("hopper-medium-v2", download=True)
    assert server.cfg["ranges_seen"] == []  # nothing was requested
