"""One data folder the file tools may read and write, and nothing outside it.

Every path is relative to the folder. An absolute path, a ``..`` step, or a symlink anywhere on the way that
resolves outside the folder is refused with ``Forbidden``, before anything is read or written. A path that is no
text a file system takes (a NUL, a lone surrogate, a name over 255 bytes, over 1,024 characters) is refused with
``BadQuery``, and so is whatever else the operating system refuses: each refusal names the path, never a traceback.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from core_client.errors import BadQuery, Forbidden, NotFound

MAX_READ_BYTES = 1_000_000
MAX_PATH_CHARS = 1_024
MAX_NAME_BYTES = 255
SHOWN_PATH_CHARS = 80


class FolderEntry(BaseModel):
    path: str
    kind: str  # "file" | "directory"
    size: int
    modified_at: datetime


class FileContent(BaseModel):
    path: str
    content: str
    size: int
    truncated: bool = False


class DataFolder:
    """Files confined to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, relative: str) -> Path:
        """The real path of ``relative`` inside the folder; ``Forbidden`` if it would leave it, ``BadQuery`` if it
        is no path a file system takes."""
        if not relative or relative.strip() in (".", "/"):
            return self.root
        _check_text(relative)
        pure = PurePosixPath(relative.replace("\\", "/"))
        if (
            pure.is_absolute()
            or relative.startswith(("/", "\\"))
            or (len(relative) > 1 and relative[1] == ":")
        ):
            raise Forbidden(
                f"{relative!r}: absolute paths are not allowed; give a path inside the data folder",
                source="files",
            )
        if ".." in pure.parts:
            raise Forbidden(
                f"{relative!r}: '..' is not allowed; give a path inside the data folder", source="files"
            )
        candidate = self.root.joinpath(*pure.parts)
        # resolve() follows every symlink on the way, so a link pointing outside is caught here.
        with refused(relative):
            real = candidate.resolve()
        if real != self.root and self.root not in real.parents:
            raise Forbidden(f"{relative!r} leads outside the data folder", source="files")
        return real

    def read(self, relative: str, *, max_bytes: int = MAX_READ_BYTES) -> FileContent:
        path = self.resolve(relative)
        with refused(relative):
            if not path.is_file():
                raise NotFound(f"path {shown(relative)}: no such file in the data folder", source="files")
            size = path.stat().st_size
            with path.open("rb") as handle:
                data = handle.read(max_bytes)
        return FileContent(
            path=self._relative(path),
            content=data.decode("utf-8", errors="replace"),
            size=size,
            truncated=size > max_bytes,
        )

    def list(self, relative: str = "") -> list[FolderEntry]:
        path = self.resolve(relative)
        with refused(relative):
            if not path.is_dir():
                raise NotFound(
                    f"path {shown(relative or '.')}: no such directory in the data folder", source="files"
                )
            children = sorted(path.iterdir())
        entries = []
        for child in children:
            try:
                real = child.resolve()
            except OSError:
                continue
            if real != self.root and self.root not in real.parents:
                continue  # a symlink leading out is not shown, let alone followed
            stat = real.stat()
            entries.append(
                FolderEntry(
                    path=self._relative(child),
                    kind="directory" if real.is_dir() else "file",
                    size=stat.st_size,
                    modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                )
            )
        return entries

    def write(self, relative: str, content: str, *, overwrite: bool = False) -> FolderEntry:
        """Write a text file; refuses to replace an existing one unless ``overwrite``."""
        path = self.resolve(relative)
        if "\x00" in content or any("\ud800" <= char <= "\udfff" for char in content):
            raise BadQuery("content: not text (a NUL or a lone surrogate); send UTF-8 text", source="files")
        with refused(relative):
            if path == self.root or path.is_dir():
                raise BadQuery(f"path {shown(relative)} is a directory", source="files")
            if path.exists() and not overwrite:
                raise BadQuery(
                    f"path {shown(relative)} exists; pass overwrite=true to replace it", source="files"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temporary.write_text(content, encoding="utf-8")
            temporary.replace(path)
            stat = path.stat()
        return FolderEntry(
            path=self._relative(path),
            kind="file",
            size=stat.st_size,
            modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.resolve().relative_to(self.root).as_posix()


def shown(relative: str) -> str:
    """``relative`` as a refusal quotes it: in quotes, cut to :data:`SHOWN_PATH_CHARS`."""
    cut = relative if len(relative) <= SHOWN_PATH_CHARS else relative[: SHOWN_PATH_CHARS - 1] + "\u2026"
    return repr(cut)


def _check_text(relative: str) -> None:
    """``BadQuery`` naming the path unless it is text a file system takes, of a length it takes."""
    if "\x00" in relative:
        raise BadQuery(f"path {shown(relative)} contains a NUL character", source="files")
    try:
        parts = [part.encode("utf-8") for part in relative.replace("\\", "/").split("/")]
    except UnicodeEncodeError:
        raise BadQuery(
            f"path {shown(relative)} is not valid UTF-8 text (it has a lone surrogate)", source="files"
        ) from None
    if len(relative) > MAX_PATH_CHARS:
        raise BadQuery(
            f"path is {len(relative):,} characters long; at most {MAX_PATH_CHARS:,} are allowed",
            source="files",
        )
    if any(len(part) > MAX_NAME_BYTES for part in parts):
        raise BadQuery(
            f"path {shown(relative)} has a name over {MAX_NAME_BYTES} bytes, more than file systems allow",
            source="files",
        )


@contextmanager
def refused(relative: str) -> Iterator[None]:
    """Turns what the operating system refuses about ``relative`` into a ``BadQuery`` (or ``Forbidden``) that
    names it."""
    try:
        yield
    except (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError) as error:
        kind: Callable[..., Exception] = Forbidden if isinstance(error, PermissionError) else NotFound
        raise kind(f"path {shown(relative)}: {error.strerror or error}", source="files") from None
    except OSError as error:
        reason = error.strerror or errno.errorcode.get(error.errno or 0, str(error))
        raise BadQuery(f"path {shown(relative)}: {reason}", source="files") from None
