"""The corpora the course uses: a registry, verified downloads and a local cache.

Every corpus is described once, in ``REGISTRY``: its canonical URL, the file name and
the SHA-1 of the file (and, for archives that get repackaged, of the member we read).
``fetch(name)`` returns a verified local path and never hands out a file whose checksum
is wrong.

Where things live
-----------------
* The **data folder** holds the downloaded files exactly as published. It is
  ``$RNNCOURSE_DATA_DIR`` when that variable is set, otherwise the ``data/`` folder of
  the repository checkout (or ``~/.cache/rnncourse/data`` for an installed package).
  It may be read-only: CI points it at the verified copies in ``../shared/data``.
* The **cache folder** holds what we extract from archives. It is
  ``$RNNCOURSE_CACHE_DIR`` when set, otherwise ``~/.cache/rnncourse``. Nothing is ever
  written into the data folder except a completed, verified download.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass

__all__ = ["Corpus", "REGISTRY", "DataError", "data_dir", "cache_dir", "fetch",
           "extract", "sha1sum", "status"]


@dataclass(frozen=True)
class Corpus:
    """One downloadable file and, for an archive, the member the course reads."""

    url: str
    filename: str
    sha1: str
    member: str | None = None        # the file inside the archive that we read
    member_sha1: str | None = None   # its checksum, where the archive may be repackaged


REGISTRY: dict[str, Corpus] = {
    "time_machine": Corpus(
        url="http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
        filename="timemachine.txt",
        sha1="090b5e7e70c295757f55df93cb0a180b9691891a",
    ),
    "jay_lyrics": Corpus(
        url="https://github.com/d2l-ai/d2l-zh/raw/592fbef84a684e752393edbf267c07dbc53e082b/data/jaychou_lyrics.txt.zip",
        filename="jaychou_lyrics.txt.zip",
        sha1="aea46bd5d5fb2f05d6cd38d8e6b461d679fa4f00",
        member="jaychou_lyrics.txt",
    ),
    "fra_eng": Corpus(
        url="http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip",
        filename="fra-eng.zip",
        sha1="73848f36c17cc9c0187a058d6f7f315e68cdd61f",
        member="fra-eng/fra.txt",
        member_sha1="c43f99dce27311d3afd4d3e0716848194cfcc103",
    ),
}


class DataError(RuntimeError):
    """A corpus is missing, cannot be downloaded, or fails its checksum."""


_REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def data_dir() -> pathlib.Path:
    """The folder that holds the downloaded corpora (see the module docstring)."""
    env = os.environ.get("RNNCOURSE_DATA_DIR")
    if env:
        return pathlib.Path(env).expanduser()
    if (_REPO_ROOT / "data" / "README.md").exists():  # running from a checkout
        return _REPO_ROOT / "data"
    return pathlib.Path.home() / ".cache" / "rnncourse" / "data"


def cache_dir() -> pathlib.Path:
    """A writable folder for files extracted from archives."""
    env = os.environ.get("RNNCOURSE_CACHE_DIR")
    if env:
        return pathlib.Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache") / "rnncourse"


def sha1sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-1 of a file, read in chunks."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _lookup(name: str) -> Corpus:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; known corpora: "
                         f"{sorted(REGISTRY)}") from None


def _checksum_error(path: pathlib.Path, expected: str, actual: str,
                    what: str) -> DataError:
    return DataError(
        f"checksum mismatch for {what} {path}: expected SHA-1 {expected}, got "
        f"{actual}. The file is corrupt or a different version; delete it and download "
        "it again."
    )


def _download(corpus: Corpus, dest: pathlib.Path, timeout: float) -> None:
    """Download to a temporary file in ``dest``'s folder, verify it, then rename
    (atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.",
                                    suffix=".part")
    tmp = pathlib.Path(tmp_name)
    try:
        with (os.fdopen(fd, "wb") as out,
              urllib.request.urlopen(corpus.url, timeout=timeout) as response):
            shutil.copyfileobj(response, out)
        actual = sha1sum(tmp)
        if actual != corpus.sha1:
            # corpus.url verbatim: a pathlib.Path would collapse its "//"
            # (http:/d2l-data...)
            raise DataError(
                f"checksum mismatch: the download from {corpus.url} has SHA-1 "
                f"{actual}, not the registered {corpus.sha1}: it was discarded and "
                f"nothing was saved (no {dest.name} in {dest.parent}). The server may "
                "hold a different version of the file, or the transfer was corrupted: "
                f"try again, or put a verified copy of {dest.name} in {dest.parent} "
                "(checksums in data/README.md).")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(name: str, *, download: bool = True, timeout: float = 30.0) -> pathlib.Path:
    """Return the verified local path of corpus ``name`` (a key of ``REGISTRY``).

    Looks in ``data_dir()``; downloads the file there when it is missing (unless
    ``download=False``). Raises ``DataError`` when the file cannot be had, saying which
    file, from which URL, into which folder; and when its SHA-1 is not the registered
    one.
    """
    corpus = _lookup(name)
    folder = data_dir()
    path = folder / corpus.filename
    if not path.exists():
        if not download:
            raise DataError(_missing_message(name, corpus, folder,
                                             reason="downloads are switched off"))
        try:
            _download(corpus, path, timeout)
        except DataError:
            raise
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DataError(_missing_message(
                name, corpus, folder, reason=f"the download failed ({exc})")) from exc
    actual = sha1sum(path)
    if actual != corpus.sha1:
        raise _checksum_error(path, corpus.sha1, actual, "file")
    return path


def _missing_message(name: str, corpus: Corpus, folder: pathlib.Path,
                     reason: str) -> str:
    return (
        f"corpus {name!r} is not available: {folder / corpus.filename} does not exist "
        f"and {reason}. Download {corpus.url} and put it in {folder} as "
        f"{corpus.filename} (or set RNNCOURSE_DATA_DIR to a folder that holds it)."
    )


def extract(name: str) -> pathlib.Path:
    """Return the path of the member the course reads from archive corpus ``name``.

    The member is extracted once into ``cache_dir()/<name>/`` (atomically, via a
    temporary file), and re-extracted if the cached copy fails its checksum.
    """
    corpus = _lookup(name)
    if corpus.member is None:
        raise ValueError(f"corpus {name!r} is not an archive; use fetch({name!r})")
    archive = fetch(name)
    target = cache_dir() / name / corpus.member
    if target.exists() and _member_ok(corpus, target, archive):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".part")
    tmp = pathlib.Path(tmp_name)
    try:
        with zipfile.ZipFile(archive) as zf, os.fdopen(fd, "wb") as out:
            try:
                info = zf.getinfo(corpus.member)
            except KeyError:
                raise DataError(f"archive {archive} has no member "
                                f"{corpus.member!r}") from None
            with zf.open(info) as src:
                shutil.copyfileobj(src, out)
        if corpus.member_sha1 is not None:
            actual = sha1sum(tmp)
            if actual != corpus.member_sha1:
                raise _checksum_error(archive, corpus.member_sha1, actual,
                                      f"member {corpus.member} of")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _member_ok(corpus: Corpus, target: pathlib.Path, archive: pathlib.Path) -> bool:
    if corpus.member_sha1 is not None:
        return sha1sum(target) == corpus.member_sha1
    # No registered member checksum: compare with the CRC-32 the (verified) archive
    # records.
    with zipfile.ZipFile(archive) as zf:
        expected_crc = zf.getinfo(corpus.member).CRC
    crc = 0
    with open(target, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc == expected_crc


def status(name: str) -> dict:
    """Where corpus ``name`` is looked for and in what state it is; downloads nothing.

    Returns ``{"name", "url", "path", "state", "sha1"}``: ``path`` is where ``fetch``
    looks (``data_dir() / filename``); ``state`` is ``"verified"`` (present, registered
    SHA-1), ``"missing"`` or ``"checksum mismatch"``; ``sha1`` is the file's actual
    SHA-1 (None when missing). Archives add ``"member"``, the cached extracted file, and
    ``"member_cached"``.
    """
    corpus = _lookup(name)
    path = data_dir() / corpus.filename
    actual = sha1sum(path) if path.is_file() else None
    state = ("missing" if actual is None
             else "verified" if actual == corpus.sha1 else "checksum mismatch")
    info = {"name": name, "url": corpus.url, "path": path, "state": state,
            "sha1": actual}
    if corpus.member is not None:
        member = cache_dir() / name / corpus.member
        info.update(member=member, member_cached=member.is_file())
    return info
