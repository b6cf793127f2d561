"""One data folder the file tools may read and write, and nothing outside it.

Every path is relative to the folder. An absolute path, a ``..`` step, or a symlink anywhere on the way that
resolves outside the folder is refused with ``Forbidden``, before anything is read or written.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from core_client.errors import BadQuery, Forbidden, NotFound

MAX_READ_BYTES = 1_000_000


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
        """The real path of ``relative`` inside the folder; ``Forbidden`` if it would leave it."""
        if not relative or relative.strip() in (".", "/"):
            return self.root
        if "\x00" in relative:
            raise BadQuery("a path may not contain NUL bytes", source="files")
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
        real = candidate.resolve()
        if real != self.root and self.root not in real.parents:
            raise Forbidden(f"{relative!r} leads outside the data folder", source="files")
        return real

    def read(self, relative: str, *, max_bytes: int = MAX_READ_BYTES) -> FileContent:
        path = self.resolve(relative)
        if not path.is_file():
            raise NotFound(f"no file {relative!r} in the data folder", source="files")
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
        if not path.is_dir():
            raise NotFound(f"no directory {relative or '.'!r} in the data folder", source="files")
        entries = []
        for child in sorted(path.iterdir()):
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
        if path == self.root or path.is_dir():
            raise BadQuery(f"{relative!r} is a directory", source="files")
        if path.exists() and not overwrite:
            raise BadQuery(f"{relative!r} exists; pass overwrite=true to replace it", source="files")
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
