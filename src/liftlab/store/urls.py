"""Reading a database URL for the event store, before any driver is imported.

One place decides what `--db` accepts: SQLAlchemy URLs of SQLite or PostgreSQL. A bare path
is refused with the URL it probably meant; any other dialect is refused by name (not with
the import error of a driver nobody installed); a password never appears in a message.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from liftlab.errors import StoreError

#: The backends the store's SQL (upserts, the first-exposure trigger) is written for.
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def shown(url: URL) -> str:
    """The URL as it may be printed: the password masked."""
    return url.render_as_string(hide_password=True)


def parse_store_url(url: str | URL) -> URL:
    """The SQLAlchemy URL of an event store; StoreError naming what is wrong otherwise.

    `liftlab.db` → "did you mean sqlite:///liftlab.db?"; `mysql://…` → refused by name;
    the password is masked in every message.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        text = str(url).strip()
        if "://" not in text:
            raise StoreError(
                f"{text!r} is not a database URL: did you mean sqlite:///{text}? "
                "(SQLite: sqlite:///PATH; PostgreSQL: postgresql+psycopg://USER@HOST/DB)",
                field="db",
            )
        try:
            parsed = make_url(text)
        except ArgumentError:
            scheme = text.split("://", 1)[0]
            raise StoreError(f"cannot read the database URL (scheme {scheme!r}): expected "
                             "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB", field="db") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise StoreError(
            f"cannot open event store {shown(parsed)}: liftlab's store runs on SQLite or "
            f"PostgreSQL, not {backend}",
            field="db",
        )
    return parsed
