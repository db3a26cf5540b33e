"""Walking folders to find the files to index, with the reasons for any we had to pass over.

Directory symlinks are not followed (no loops, no escaping the folders the user named); file
symlinks are while their target stays inside the folders named (``follow_links`` lets them point
anywhere), and broken ones are reported. Hidden files and folders are skipped unless asked.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..errors import UsageError
from .images import is_image_path
from .pdf import is_pdf_path
from .video import is_video_path


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, not resolved through symlinks (the name the user knows)
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanProblem:
    path: str
    reason: str


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _excluded(path: str, name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns)


def indexable(name: str) -> bool:
    """Whether a file of this name is indexed: a picture, a PDF or a video."""
    return is_image_path(name) or is_pdf_path(name) or is_video_path(name)


def passed_over(path: str, root: str, exclude: Iterable[str] = (), include_hidden: bool = False) -> bool:
    """Whether :func:`scan` of ``root`` would skip ``path`` for being hidden or excluded, by ``path``
    or any folder between ``root`` and it (the same rule, for a single path met some other way)."""
    patterns = tuple(exclude)
    relative = os.path.relpath(path, root).split(os.sep) if path != root else []
    full = root
    for part in relative:
        full = os.path.join(full, part)
        if (not include_hidden and _is_hidden(part)) or _excluded(full, part, patterns):
            return True
    return False


def absolute(path: str | os.PathLike[str]) -> str:
    """Absolute and normalised, without resolving symlinks (so moved links are still found)."""
    return os.path.normpath(os.path.abspath(os.fspath(path)))


def check_roots(roots: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The roots as absolute paths; a root that does not exist is the user's mistake, said at once."""
    result = []
    for root in roots:
        path = absolute(root)
        if not os.path.exists(path):
            raise UsageError(f"no such file or folder: {root}")
        result.append(path)
    if not result:
        raise UsageError("give at least one folder or file to index")
    return result


def scan(
    roots: Iterable[str],
    *,
    exclude: Iterable[str] = (),
    include_hidden: bool = False,
    accept: Callable[[str], bool] = is_image_path,
    follow_links: bool = False,
    within: Iterable[str] | None = None,
) -> Iterator[FoundFile | ScanProblem]:
    """Yield every indexable file under ``roots`` (in a stable order) and every problem met.

    A file symlink whose target is outside ``within`` (default: ``roots``, so a file named itself
    passes) is a problem unless ``follow_links``."""
    patterns = tuple(exclude)
    seen: set[str] = set()
    roots = list(roots)
    inside = None if follow_links else real_roots(within if within is not None else roots)
    for root in roots:
        if os.path.isfile(root):
            yield from _file(root, seen, inside)
            continue
        for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
            keep = []
            for d in sorted(dirnames):
                full = os.path.join(dirpath, d)
                if (not include_hidden and _is_hidden(d)) or _excluded(full, d, patterns) or is_index_folder(full):
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if (not include_hidden and _is_hidden(name)) or _excluded(full, name, patterns):
                    continue
                if not accept(name):
                    continue
                yield from _file(full, seen, inside)


def is_index_folder(path: str) -> bool:
    """Whether ``path`` is a clipsearch index folder (its manifest beside its catalog, vectors or
    thumbnails): never indexed, its thumbnails would come back as copies of the originals."""
    if not os.path.isfile(os.path.join(path, "manifest.json")):
        return False
    return any(os.path.exists(os.path.join(path, name)) for name in ("catalog.sqlite", "vectors.faiss", "thumbnails"))


def real_roots(roots: Iterable[str]) -> list[str]:
    """The roots with every symlink resolved: where their files really are."""
    return [os.path.realpath(root) for root in roots]


def _file(path: str, seen: set[str], inside: list[str] | None) -> Iterator[FoundFile | ScanProblem]:
    path = absolute(path)
    if path in seen:
        return
    seen.add(path)
    if inside is not None and not is_under(os.path.realpath(path), inside):
        dangling = not os.path.exists(path)  # --follow-links would not help a link to nothing
        yield ScanProblem(path, "broken symlink" if dangling else
                          "symlink to a file outside the folders given (see --follow-links)")  # fmt: skip
        return
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        yield ScanProblem(path, "file name is not valid UTF-8 (rename the file to index it)")
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        reason = "broken symlink" if os.path.islink(path) else "file vanished during the run"
        yield ScanProblem(path, reason)
        return
    except OSError as err:
        yield ScanProblem(path, f"cannot stat: {err.strerror or err}")
        return
    if not stat.S_ISREG(st.st_mode):
        yield ScanProblem(path, "not a regular file")
        return
    if not os.access(path, os.R_OK):
        yield ScanProblem(path, "permission denied")
        return
    if st.st_size == 0:
        yield ScanProblem(path, "empty file (0 bytes)")
        return
    yield FoundFile(path, st.st_size, st.st_mtime_ns)


def is_under(path: str, roots: Iterable[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one of them (string-wise, both absolute)."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def content_hash(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """BLAKE2b of the file bytes: recognises a moved or copied file without running the model."""
    import hashlib

    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


__all__ = ["FoundFile", "ScanProblem", "absolute", "check_roots", "content_hash", "is_under", "real_roots", "scan"]
