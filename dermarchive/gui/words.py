"""How the app writes dates and counts, the same on every screen (issue 22): "2 Dec 2026",
"1 photo", "3 photos" — never "2026-12-02" beside "02 Dec 2026", never "photo(s)"."""

from __future__ import annotations

from datetime import date, datetime


def day_text(iso: str | None, unknown: str = "") -> str:
    """'2026-12-02', '2015-04-10T20:12:23+10:00' → '2 Dec 2026' / '10 Apr 2015'; ``unknown`` if none."""
    if not iso:
        return unknown
    try:
        day = datetime.fromisoformat(iso).date() if "T" in iso else date.fromisoformat(iso[:10])
    except ValueError:
        return iso[:10]
    return f"{day.day} {day:%b %Y}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 photo', '3 photos', '2 patients'; ``many`` for irregular words ('2 pages')."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
