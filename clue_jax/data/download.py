"""Resumable, checked, atomic downloads (stdlib urllib + tqdm).

Bytes go to `dest + '.part'`; an interrupted transfer keeps that file and the
next call resumes it with an HTTP Range request. Only a complete file whose
size (and sha256, when given) checks out is renamed to `dest`, so `dest` never
holds a partial download.
"""

import hashlib
import http.client
import os
import re
import socket
import urllib.error
import urllib.request
from typing import Optional, Tuple

from tqdm import tqdm

CHUNK = 1 << 20


class DownloadError(IOError):
    """A download that failed or did not check out; the message says what to do."""


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(url: str, offset: int, timeout: float) -> Tuple[object, int, int]:
    """Open `url` from byte `offset`: (response or None, start offset, total size or -1)."""
    headers = {"User-Agent": "clue_jax", "Accept-Encoding": "identity"}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset > 0:  # nothing past `offset`: the .part may be complete
            match = re.search(r"/(\d+)", e.headers.get("Content-Range", ""))
            return None, offset, int(match.group(1)) if match else -1
        raise
    length = int(response.headers.get("Content-Length", -1))
    if response.status == 206:
        match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            response.close()
            raise DownloadError(f"{url}: the server answered the resume request at byte {offset} "
                                f"with Content-Range {response.headers.get('Content-Range')!r}.")
        if match.group(2) != "*":
            total = int(match.group(2))
        else:
            total = offset + length if length >= 0 else -1
        return response, offset, total
    return response, 0, length  # 200: the server sent the whole file (Range ignored or no offset)


def _transfer(response, part: str, start: int, total: int, progress: bool, url: str) -> int:
    """Stream `response` into `part` from byte `start`; returns the bytes now in `part`."""
    written = start
    with open(part, "r+b" if start > 0 else "wb") as f, \
            tqdm(total=total if total >= 0 else None, initial=start, unit="B", unit_scale=True,
                 desc=os.path.basename(part[:-5]), disable=not progress, leave=False) as bar:
        f.seek(start)
        f.truncate()
        try:
            for block in iter(lambda: response.read(CHUNK), b""):
                f.write(block)
                written += len(block)
                bar.update(len(block))
        except (OSError, http.client.HTTPException, socket.timeout) as e:
            f.flush()
            raise DownloadError(
                f"{url}: transfer interrupted after {written} of {total if total >= 0 else '?'} "
                f"bytes ({e}); the partial data is kept in {part}: run again to resume.") from e
        f.flush()
        os.fsync(f.fileno())
    return written


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def download(url: str, dest: str, expected_size: Optional[int] = None,
             sha256: Optional[str] = None, progress: bool = True, timeout: float = 60,
             retries: int = 0, signature: Optional[bytes] = None) -> str:
    """Download `url` to `dest`, resuming from `dest + '.part'` when one exists.

    Args:
        url: http(s) URL.
        dest: final path; its folder is created. If it already exists (and matches
            `sha256` when given) nothing is downloaded.
        expected_size: bytes the file must have (else the server's size is used).
        sha256: hex digest the file must have.
        progress: show a tqdm bar.
        timeout: seconds for connecting and for each read.
        retries: extra attempts (each resuming) after an interrupted transfer.
        signature: bytes the file must start with (e.g. HDF5_SIGNATURE); anything else
            (such as an HTML error page served with status 200) is deleted, never kept.

    Returns:
        `dest`.

    Raises:
        DownloadError: network failure or short transfer (the .part is kept for
            resuming), or a size/checksum mismatch (the .part is deleted).
    """
    if os.path.isfile(dest) and (sha256 is None or _sha256(dest) == sha256.lower()):
        return dest
    os.makedirs(os.path.dirname(os.path.abspath(dest)) or ".", exist_ok=True)
    part = dest + ".part"
    for attempt in range(retries + 1):
        try:
            size = _fetch_part(url, part, expected_size, progress, timeout)
            break
        except DownloadError:
            if attempt == retries:
                raise
    _verify(url, part, size, expected_size, sha256)
    _check_signature(url, part, signature)
    os.replace(part, dest)
    return dest


def _check_signature(url: str, part: str, signature: Optional[bytes]) -> None:
    if signature is None:
        return
    with open(part, "rb") as f:
        head = f.read(max(len(signature), 64))
    if head.startswith(signature):
        return
    os.remove(part)
    text = head.lstrip().lower()
    what = ("an HTML page" if text.startswith((b"<!doctype html", b"<html")) else
            f"data starting with {head[:16]!r}")
    raise DownloadError(f"{url}: the server sent {what}, not the expected file (it must start "
                        f"with {signature!r}); nothing was saved. Check the URL, or download "
                        "the file yourself and pass --dataset_path.")


def _fetch_part(url: str, part: str, expected_size: Optional[int], progress: bool,
                timeout: float) -> int:
    """Bring `part` to the full size of `url`; returns that size."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    if expected_size is not None and offset > expected_size:
        os.remove(part)  # longer than the file can be: start over
        offset = 0
    if expected_size is not None and offset == expected_size:
        return offset
    try:
        response, start, total = _open(url, offset, timeout)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{url}: the server answered HTTP {e.code} {e.reason}; check the URL"
                            " (or that the file is still hosted there).") from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        kept = f"; {offset} bytes kept in {part} for resuming." if offset else "."
        raise DownloadError(f"{url}: cannot connect ({e}); check the network and the URL"
                            + kept) from e
    if expected_size is not None and total >= 0 and total != expected_size:
        if response is not None:
            response.close()
        raise DownloadError(f"{url}: the server reports {total} bytes but {expected_size} were "
                            "expected; the URL may point to a different file.")
    if response is None:  # 416: the server has nothing past `offset`
        if total >= 0 and total != offset:
            os.remove(part)
            raise DownloadError(f"{url}: {part} held {offset} bytes but the file has {total}; "
                                "the stale partial file was deleted, run again to download "
                                "from scratch.")
        return offset
    with response:
        written = _transfer(response, part, start, total, progress, url)
    if total >= 0 and written < total:
        raise DownloadError(f"{url}: the connection closed after {written} of {total} bytes; "
                            f"the partial data is kept in {part}: run again to resume.")
    return written


def _verify(url: str, part: str, size: int, expected_size: Optional[int],
            sha256: Optional[str]) -> None:
    actual = os.path.getsize(part)
    want = expected_size if expected_size is not None else size
    if actual != want:
        os.remove(part)
        raise DownloadError(f"{url}: downloaded {actual} bytes, expected {want}; the partial file "
                            "was deleted, run again to download from scratch.")
    if sha256 is not None:
        got = _sha256(part)
        if got != sha256.lower():
            os.remove(part)
            raise DownloadError(f"{url}: sha256 {got} does not match the expected {sha256}; the "
                                "corrupt download was deleted. Run again, or check the checksum.")
