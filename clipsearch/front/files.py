"""Reading an indexed item's file for someone else (the server, the MCP server): never a file
outside the indexed folders, never one swapped for a symlink, never one that changed since it
was indexed."""

from __future__ import annotations

import io
import os
import stat
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_path
from ..errors import IndexNotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ..query.search import SearchResult
    from ..store.catalog import ItemRow
    from ..store.folder import IndexStore

THUMBNAIL_SIZE = 256
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not hang the request


def open_without_links(path: str) -> int:
    """Open the absolute ``path`` for reading with no symlink followed anywhere along it: each
    folder is opened relative to the one before with ``O_NOFOLLOW``, then the file. Raises OSError
    (ELOOP, ENOTDIR, ENOENT) when any part of it is a symlink, or is gone."""
    parts = [p for p in path.split(os.sep) if p]
    if not os.path.isabs(path) or any(p in (".", "..") for p in parts) or not parts:
        raise FileNotFoundError(path)
    folder = os.open(os.sep, os.O_RDONLY | _DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
        return os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=folder)
    finally:
        os.close(folder)


def descriptor_path(fd: int) -> str:
    """A path that opens the very file behind ``fd`` again, whatever its name now points to."""
    return f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else f"/dev/fd/{fd}"


def open_item_file(store: IndexStore, row: ItemRow, *, follow_links: bool = False) -> tuple[int, os.stat_result]:
    """The item's file opened once for reading, and its ``fstat``, if it is still the regular
    file that was indexed and lies inside the folders the index was asked to index (anywhere,
    with ``follow_links``).

    No name is looked up twice: the file's real path is opened component by component with
    ``O_NOFOLLOW`` (a symlink swapped in anywhere along it, at any moment, fails the open), then
    the opened descriptor itself is compared with the catalog. Whatever is served or drawn is read
    from that descriptor."""
    try:
        real = os.path.realpath(row.path)
    except OSError as err:  # a link swapped in or out while it was being read
        raise IndexNotFoundError(f"item {row.id}: its file is being replaced") from err
    if not follow_links and not _inside(store, real, row.path):
        raise IndexNotFoundError(f"item {row.id}: its file lies outside the indexed folders (see --follow-links)")
    try:
        fd = open_without_links(real)
    except OSError as err:
        raise IndexNotFoundError(f"item {row.id}: its file is gone or was replaced") from err
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (row.size, row.mtime_ns):
        os.close(fd)
        raise IndexNotFoundError(f"item {row.id}: its file changed since it was indexed; run index again")
    return fd, st


def _inside(store: IndexStore, real: str, path: str) -> bool:
    """Whether ``real`` (a resolved path) is inside the index's roots, resolved. An index made
    before roots were recorded serves only files whose path involves no symlink at all."""
    from ..ingest.scan import is_under, real_roots

    roots = store.roots
    if not roots:
        return real == os.path.abspath(path)
    return is_under(real, real_roots(roots))


def thumbnail(store: IndexStore, row: ItemRow, *, follow_links: bool = False) -> bytes:
    """A WebP of at most :data:`THUMBNAIL_SIZE` px, cached in the index folder by item and version."""
    cached = store.path / "thumbnails" / f"{row.id}-{row.mtime_ns}-{row.page}.webp"
    data, drawn = _webp(store, row, THUMBNAIL_SIZE, 80, follow_links=follow_links, cached=cached)
    if drawn:
        try:
            with atomic_path(cached) as tmp:
                tmp.write_bytes(data)
        except OSError:  # a cache that cannot be written (full, read-only, a folder in the way) still serves
            pass
    return data


#: Sizes a viewer may ask for (longest side, px): a screen's width, rounded up to one of these so
#: the browser caches a few renderings, never one per window size.
VIEW_SIZES = (800, 1200, 1600, 2400)


def view(store: IndexStore, row: ItemRow, size: int, *, follow_links: bool = False) -> bytes:
    """The item drawn for a viewer: at most ``size`` px (rounded up to a :data:`VIEW_SIZES`), a
    PDF's page rendered at that size, a video's frame, a photo scaled down (a WebP, not cached:
    the browser keeps it)."""
    size = next((s for s in VIEW_SIZES if s >= size), VIEW_SIZES[-1])
    return _webp(store, row, size, 85, follow_links=follow_links)[0]


def _webp(
    store: IndexStore, row: ItemRow, size: int, quality: int, *, follow_links: bool, cached: Path | None = None
) -> tuple[bytes, bool]:
    """The item's picture as a WebP of at most ``size`` px, read from its checked file (the file is
    opened first even when ``cached`` holds a whole copy: a file changed or gone is not served from
    a cache). Returns (bytes, whether they were drawn now)."""
    from ..ingest.picture import item_picture

    fd, _ = open_item_file(store, row, follow_links=follow_links)
    try:
        data = cached.read_bytes() if cached is not None and cached.is_file() else b""
        if whole_webp(data):  # a copy cut short (a full disk, a crash past the rename) is drawn again
            return data, False
        image = item_picture(row.path, row.page, row.time, size, source=descriptor_path(fd))
    finally:
        os.close(fd)
    image.thumbnail((size, size))
    buf = io.BytesIO()
    image.save(buf, "WEBP", quality=quality)
    return buf.getvalue(), True


def whole_webp(data: bytes) -> bool:
    """Whether ``data`` is a whole WebP file: its RIFF header's length is the length there is."""
    return len(data) > 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP" and (
        int.from_bytes(data[4:8], "little") + 8 == len(data))  # fmt: skip


def present(ranked: Callable[[int], list[SearchResult]], k: int) -> list[SearchResult]:
    """The first ``k`` of ``ranked(n)`` whose files are still there: a file deleted since it was
    indexed is not shown (``check`` names it, the next ``index`` forgets it). When none of them is
    there (a drive not mounted, a catalog shared with another machine), they are all shown."""
    hits = ranked(k)
    gone = [h for h in hits if not os.path.exists(h.path)]
    if not gone or len(gone) == len(hits):
        return hits
    more = ranked(k + 2 * len(gone))
    kept = [h for h in more if os.path.exists(h.path)]
    return kept[:k]


#: Characters of an item's text the viewer is sent (a PDF page's text layer can be a book's page).
FACTS_TEXT_CHARS = 20_000


def item_facts(store: IndexStore, row: ItemRow) -> dict[str, Any]:
    """What a viewer shows beside an item's picture: its name and folder, type, size, when and
    where it was taken and with what, and the text read from it (``text_source``: pdf or ocr).
    Only the facts known are given."""
    extra = store.catalog.extras([row.id]).get(row.id)
    known = vars(extra) if extra is not None else {}
    text = known.get("text")
    facts = {
        "name": os.path.basename(row.path), "folder": os.path.dirname(row.path),
        "type": known.get("file_type") or os.path.splitext(row.path)[1].lstrip(".").lower(),
        "bytes": row.size, "width": row.width, "height": row.height,
        "taken": known.get("taken"), "taken_source": known.get("taken_source"), "camera": known.get("camera"),
        "place": known.get("place"), "lat": known.get("lat"), "lon": known.get("lon"),
        "text": text[:FACTS_TEXT_CHARS] if text else None, "text_source": known.get("text_source") if text else None,
    }  # fmt: skip
    return {k: v for k, v in facts.items() if v not in (None, "")}


class FilesView:
    """The files of one open index, reached by item id (``ix.files``): a client is handed ids,
    never paths it could change."""

    def __init__(self, store: IndexStore) -> None:
        self._store = store

    def item(self, item_id: int) -> ItemRow:
        """The catalog row of item ``item_id`` (raises :class:`IndexNotFoundError` if there is none)."""
        row = self._store.catalog.get([item_id]).get(item_id)
        if row is None:
            raise IndexNotFoundError(f"no item {item_id}")
        return row

    def named(self, ref: str, *, page: int | None = None) -> ItemRow:
        """The indexed item a result's path names (``doc.pdf#page=3``), from the catalog alone: the
        file is not opened (see :func:`~.refs.indexed_item`)."""
        from .refs import indexed_item

        return indexed_item(self._store.catalog, ref, page)

    def open(self, row: ItemRow, *, follow_links: bool = False) -> tuple[int, os.stat_result]:
        """The item's file opened for reading, if it is still the regular file that was indexed and
        lies inside the indexed folders (:func:`open_item_file`); the caller closes it."""
        return open_item_file(self._store, row, follow_links=follow_links)

    def thumbnail(self, row: ItemRow, *, follow_links: bool = False) -> bytes:
        """A WebP thumbnail of the item, cached in the index folder, drawn from the checked file."""
        return thumbnail(self._store, row, follow_links=follow_links)

    def view(self, row: ItemRow, size: int, *, follow_links: bool = False) -> bytes:
        """The item's picture as WebP, ``size`` on its longest side at most (a viewer's)."""
        return view(self._store, row, size, follow_links=follow_links)

    def facts(self, row: ItemRow) -> dict[str, Any]:
        """What is known of the item, for a viewer (:func:`item_facts`)."""
        return item_facts(self._store, row)
