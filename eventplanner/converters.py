"""URL converters shared by the apps."""

from __future__ import annotations

from django.urls import register_converter

from eventplanner.domain import MAX_ID


class IdConverter:
    """A row id in a URL: digits that fit the database's id column. A longer number is not
    a match (404) instead of reaching the database driver, which cannot even send it
    ("Python int too large to convert to SQLite INTEGER")."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(f"{value} is not an id")
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(IdConverter, "id")
