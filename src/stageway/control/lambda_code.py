"""Function code uploaded through Lambda's API: zips unpacked safely into `root/<function>/<revision>/`.

Each upload gets a directory of its own, written under a temporary name and renamed into place, so a
worker never sees half a package. A zip may not write outside its directory: absolute names, `..`
components and symlinks that lead out are refused the way Lambda refuses a broken package.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_UNZIPPED_BYTES = 262_144_000
"""Lambda's quota for a function's unzipped deployment package (250 MB)."""

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
UNZIPPED_TOO_LARGE = f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"

_COPY_CHUNK = 1024 * 1024


class PackageError(ValueError):
    """The zip cannot become a function's code; the message is Lambda's InvalidParameterValueException."""


@dataclass(frozen=True, slots=True)
class StoredCode:
    directory: Path
    sha256: str
    """Base64 of the zip's SHA-256: Lambda's `CodeSha256`."""
    size: int
    """Bytes of the zip: Lambda's `CodeSize`."""


class CodeStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def function_directory(self, function_name: str) -> Path:
        return self.root / function_name

    def store(self, function_name: str, revision: str, zip_bytes: bytes) -> StoredCode:
        """Unpack `zip_bytes` as revision `revision` of the function's code."""
        final = self.function_directory(function_name) / revision
        staging = final.with_name(f".unpacking-{revision}")
        staging.mkdir(parents=True)
        try:
            extract_zip(zip_bytes, staging)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                staging.parent.rmdir()  # only if empty: the function's first upload failed
            raise
        digest = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
        return StoredCode(final, digest, len(zip_bytes))

    def remove_revisions(self, function_name: str, *, keep: set[Path]) -> None:
        """Remove every stored revision of the function but the directories in `keep`."""
        folder = self.function_directory(function_name)
        if not folder.is_dir():
            return
        kept = {path.resolve() for path in keep}
        for child in folder.iterdir():
            if child.resolve() not in kept:
                _remove(child)
        if not any(folder.iterdir()):
            folder.rmdir()

    def owns(self, directory: Path) -> bool:
        """Whether `directory` is code this store unpacked (never delete a YAML function's own folder)."""
        return directory.resolve().parent.parent == self.root


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def extract_zip(zip_bytes: bytes, destination: Path) -> None:
    """Unpack into `destination` (an empty directory), refusing anything that would land outside it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise PackageError(UNZIP_FAILED) from error
    root = destination.resolve()
    with archive:
        entries = archive.infolist()
        # Declared sizes bound what zipfile will write for each entry, so this also stops zip bombs.
        if sum(entry.file_size for entry in entries) > MAX_UNZIPPED_BYTES:
            raise PackageError(UNZIPPED_TOO_LARGE)
        try:
            for entry in entries:
                _extract_entry(archive, entry, root)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError) as error:
            # A corrupt entry, an unsupported compression, a symlink loop, a name the file system refuses.
            raise PackageError(UNZIP_FAILED) from error


def _extract_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, root: Path) -> None:
    relative = _safe_relative(entry.filename)
    if relative is None:
        return  # the archive's root itself ("./")
    target = root.joinpath(*relative.parts)
    mode = entry.external_attr >> 16
    if entry.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        _ensure_inside(target, root)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _ensure_inside(target.parent, root)
    if stat.S_ISLNK(mode):
        link = archive.read(entry).decode("utf-8", "replace")
        link_path = PurePosixPath(link)
        # A link may only point down from where it sits, so every path through links stays inside.
        if not link or link_path.is_absolute() or ".." in link_path.parts:
            raise PackageError(UNZIP_FAILED)
        if target.exists() or target.is_symlink():
            _remove(target)
        os.symlink(link, target)
        return
    if target.is_symlink():
        target.unlink()
    with archive.open(entry) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, _COPY_CHUNK)
    # Lambda runs code read-only; keep the executable bit (scripts, binaries) and nothing else.
    os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def _safe_relative(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise PackageError(UNZIP_FAILED)
    parts = [part for part in path.parts if part not in ("", ".")]
    if ".." in parts:
        raise PackageError(UNZIP_FAILED)
    return PurePosixPath(*parts) if parts else None


def _ensure_inside(path: Path, root: Path) -> None:
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise PackageError(UNZIP_FAILED)


def zip_directory(directory: Path) -> bytes:
    """The directory as a zip (for GetFunction's `Code.Location` download), symlinks kept as links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, folders, files in os.walk(directory):  # does not follow links to directories
            folders.sort()
            for name in sorted(files + [sub for sub in folders if os.path.islink(os.path.join(folder, sub))]):
                path = Path(folder, name)
                relative = path.relative_to(directory).as_posix()
                if path.is_symlink():
                    info = zipfile.ZipInfo(relative)
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    archive.writestr(info, os.readlink(path))
                elif path.is_file():
                    archive.write(path, relative)
    return buffer.getvalue()
