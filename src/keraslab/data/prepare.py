"""Prepare the project's git-ignored ``data/`` folder.

Source order: the team's offline mirror (``../shared/data``) when it exists, else the canonical
download, checked against its published sha256. Every file is checked against the sha256 in
``MANIFEST`` either way; if neither source works the command stops with an error saying so.

Usage: ``python -m keraslab.data.prepare [--mirror DIR] [--dest DIR]``
"""

import argparse
import hashlib
import io
import shutil
import sys
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from keraslab.errors import DataError


@dataclass(frozen=True)
class Dataset:
    """A data set: its files with their sha256, and where the canonical archive lives."""

    name: str
    files: dict[str, str]
    url: str | None = None  # None: only a mirror has it
    archive_sha256: str = ""
    optional_files: dict[str, str] = field(default_factory=dict)


SENTIMENT = Dataset(
    name="sentiment",
    files={
        "sentiment.train.data": "dd7da98cf6f37db9e8755a911377094c4cfbb7fa80932b036ebb5c9077122fb8",
        "sentiment.valid.data": "b689b85813c79ff40524ac37f5e4a3300fb8d1046e411d6dbd1d88cbc4a043e7",
    },
    # The archive also holds the test split, which the mirror lacks; its hash is checked through
    # the archive's own sha256.
    optional_files={"sentiment.test.data": ""},
    url="https://github.com/bojone/bert4keras/raw/master/examples/datasets/sentiment.zip",
    archive_sha256="866256a80e4019e538d2681b5f4bf2f21be3c24139b4100ca266c2fca8be86c9",
)
# Synthetic, made for this project: the team's mirror is its only source.
SPO = Dataset(
    name="spo",
    files={
        "train.json": "4f70989a19910c9c663f03ae88a99be15dbe669682ce7fad0dff4a241f75960d",
        "valid.json": "0112962f85b27be6cd57a489efc71c3c6564d77e73c61a10ae3bea0758ed2245",
        "all_schemas.json": "1fc33441ff339370c4dda27ebd07b4407659559e2bc6fb6c05f7129c7b2da7e4",
    },
    optional_files={"test.json": ""},
)
MANIFEST = {dataset.name: dataset for dataset in (SENTIMENT, SPO)}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_prepared(dataset: Dataset, dest: Path) -> bool:
    return all(
        (dest / name).is_file() and sha256_of(dest / name) == digest
        for name, digest in dataset.files.items()
    )


def copy_from_mirror(dataset: Dataset, mirror: Path, dest: Path) -> None:
    source = mirror / dataset.name
    for name, digest in {**dataset.files, **dataset.optional_files}.items():
        if not (source / name).is_file():
            if name in dataset.optional_files:
                continue
            raise DataError(f"mirror {str(source)!r} lacks {name}")
        if digest and sha256_of(source / name) != digest:
            raise DataError(
                f"mirror file {str(source / name)!r} does not match its sha256 {digest}"
            )
        shutil.copyfile(source / name, dest / name)


def download(dataset: Dataset, dest: Path, timeout: float = 60.0) -> None:
    if dataset.url is None:
        raise DataError("it has no public source; only the team's mirror holds it")
    with urllib.request.urlopen(dataset.url, timeout=timeout) as response:
        payload = response.read()
    actual = hashlib.sha256(payload).hexdigest()
    if actual != dataset.archive_sha256:
        raise DataError(
            f"download {dataset.url} has sha256 {actual}, expected {dataset.archive_sha256}"
        )
    wanted = {**dataset.files, **dataset.optional_files}
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for member in archive.namelist():
            name = Path(member).name
            if name in wanted:
                (dest / name).write_bytes(archive.read(member))


def prepare(dataset: Dataset, mirror: Path, dest_root: Path) -> Path:
    """Make ``dest_root/<name>`` hold the verified files; quick when already prepared."""
    dest = dest_root / dataset.name
    if is_prepared(dataset, dest):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    if (mirror / dataset.name).is_dir():
        copy_from_mirror(dataset, mirror, dest)
    else:
        try:
            download(dataset, dest)
        except (OSError, DataError) as error:
            raise DataError(
                f"cannot prepare data set {dataset.name!r}: the mirror {str(mirror)!r} is absent "
                f"and the download from {dataset.url or 'nowhere'} failed ({error}). Put a copy of the files "
                f"{', '.join(dataset.files)} in {str(dest)!r}, or pass --mirror DIR."
            ) from error
    if not is_prepared(dataset, dest):
        raise DataError(
            f"data set {dataset.name!r} in {str(dest)!r} does not match its sha256 manifest"
        )
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dest", type=Path, default=Path("data"))
    parser.add_argument("datasets", nargs="*", default=list(MANIFEST))
    args = parser.parse_args(argv)
    try:
        for name in args.datasets:
            print(f"data: {name} ready in {prepare(MANIFEST[name], args.mirror, args.dest)}")
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
