"""Data preparation: the offline mirror first, else the canonical download, sha256-checked either way."""

import hashlib
import io
import zipfile

import pytest

from keraslab.data.prepare import Dataset, prepare
from keraslab.errors import DataError

TRAIN, VALID, TEST = b"good\t1\n", b"bad\t0\n", b"meh\t0\n"


def sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def dataset(url: str = "file:///nonexistent.zip", archive_sha256: str = "0" * 64) -> Dataset:
    return Dataset(
        name="toy",
        files={"toy.train.data": sha(TRAIN), "toy.valid.data": sha(VALID)},
        optional_files={"toy.test.data": ""},
        url=url,
        archive_sha256=archive_sha256,
    )


def write_mirror(root, train=TRAIN):
    (root / "toy").mkdir(parents=True)
    (root / "toy" / "toy.train.data").write_bytes(train)
    (root / "toy" / "toy.valid.data").write_bytes(VALID)
    return root


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in (
            ("toy.train.data", TRAIN),
            ("toy.valid.data", VALID),
            ("toy.test.data", TEST),
        ):
            archive.writestr(f"toy/{name}", payload)
    return buffer.getvalue()


def test_mirror_is_copied_and_second_call_is_a_no_op(tmp_path):
    mirror = write_mirror(tmp_path / "mirror")
    dest = prepare(dataset(), mirror, tmp_path / "data")
    assert (dest / "toy.train.data").read_bytes() == TRAIN
    stamp = (dest / "toy.train.data").stat().st_mtime_ns
    (mirror / "toy" / "toy.train.data").unlink()  # a second call must not even look at the mirror
    prepare(dataset(), mirror, tmp_path / "data")
    assert (dest / "toy.train.data").stat().st_mtime_ns == stamp


def test_corrupt_mirror_file_is_refused(tmp_path):
    mirror = write_mirror(tmp_path / "mirror", train=b"tampered\t1\n")
    with pytest.raises(DataError, match=r"toy\.train\.data' does not match its sha256"):
        prepare(dataset(), mirror, tmp_path / "data")


def test_without_mirror_the_archive_is_downloaded_and_checked(tmp_path):
    archive = tmp_path / "toy.zip"
    archive.write_bytes(zipped())
    dest = prepare(
        dataset(archive.as_uri(), sha(zipped())), tmp_path / "no-mirror", tmp_path / "data"
    )
    assert (dest / "toy.valid.data").read_bytes() == VALID
    assert (dest / "toy.test.data").read_bytes() == TEST


def test_download_with_wrong_sha256_stops_with_a_clear_error(tmp_path):
    archive = tmp_path / "toy.zip"
    archive.write_bytes(zipped())
    with pytest.raises(DataError) as raised:
        prepare(dataset(archive.as_uri(), "f" * 64), tmp_path / "no-mirror", tmp_path / "data")
    message = str(raised.value)
    assert "the mirror" in message and "is absent" in message
    assert f"expected {'f' * 64}" in message
    assert not (tmp_path / "data" / "toy" / "toy.train.data").exists()
