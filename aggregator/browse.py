"""``aggregator browse``: the archive in Datasette, described by the shipped metadata.

The metadata (``aggregator/datasette/metadata.yaml``) gives the title, the table, view and
column descriptions, default facets and sort orders, full-text search on the views, and the
canned queries. The database is served under the name ``aggregator`` whatever its file is
called, so the metadata, the links inside it and the README's URLs always apply. Datasette
opens it read-only (``mode=ro``, not ``immutable``), which in WAL mode never blocks the
writer and always sees the last committed pass.

Datasette is an optional extra (``pip install 'aggregator[browse]'``): importing this module
without it raises :class:`ImportError`, which the CLI turns into that hint. This module only
builds objects; the CLI binds the socket and runs the server.
"""

from __future__ import annotations

import ipaddress
import weakref
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from datasette.app import Datasette
from datasette.plugins import pm
from datasette.utils import tilde_encode
from markupsafe import Markup
from pluggy import HookimplMarker

from aggregator import __version__

DATABASE = "aggregator"  # the name, and first URL segment, the archive is served under
PLUGIN = "aggregator-row-links"
STATIC = "aggregator-static"  # URL of aggregator/datasette/static (the metadata's CSS)
hookimpl = HookimplMarker("datasette")  # datasette.hookimpl, typed (pluggy has annotations)


def _shipped() -> Path:
    return Path(str(resources.files("aggregator").joinpath("datasette")))


def load_metadata() -> dict[str, Any]:
    """The shipped Datasette metadata, as a dict."""
    data: dict[str, Any] = yaml.safe_load((_shipped() / "metadata.yaml").read_text("utf-8"))
    return data


def build_datasette(path: str | Path) -> Datasette:
    """A Datasette serving the database at ``path`` as ``aggregator``, with the metadata."""
    ds = Datasette(
        files=[str(path)],
        metadata=load_metadata(),
        static_mounts=[(STATIC, str(_shipped() / "static"))],
        version_note=f"aggregator {__version__}",
    )
    # Datasette names a database after its file's stem; ours is always "aggregator"
    [db] = [db for name, db in ds.databases.items() if name != "_internal"]
    if db.name != DATABASE:
        ds.remove_database(db.name)
        ds.add_database(db, name=DATABASE)
    if not pm.has_plugin(PLUGIN):  # Datasette's plugin manager is global to the process
        pm.register(RowLinks(), name=PLUGIN)
    return ds


def close_datasette(ds: Datasette) -> None:
    """Close the SQLite connections ``ds`` opened on database files."""
    for db in ds.databases.values():
        db.close()


def make_server(ds: Datasette, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for ``ds``, to be run on sockets the caller binds."""
    config = uvicorn.Config(ds.app(), log_level=log_level, log_config=None, lifespan="on")
    return uvicorn.Server(config)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (no name is resolved)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_for(host: str, port: int) -> str:
    """The address of the archive's database page on ``host``:``port``."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}/{DATABASE}"


class RowLinks:
    """A Datasette plugin: on a row page a foreign key links to the row it points at, by its
    label (an entry to its feed's name and its story's headline).

    Datasette 0.65 does this on table pages only; a row page shows the bare value. Table
    pages hand ``render_cell`` the foreign key already expanded (a dict), which is left to
    Datasette; a bare value in a foreign-key column is one of a row page (or of a table page
    asked for ``_labels=off``, which then gets labels all the same: the hook cannot tell).
    """

    def __init__(self) -> None:
        self.__name__ = PLUGIN  # Datasette takes plugins for modules and lists them by name
        # per Datasette, per (database, table): foreign-key column -> table it points at
        self._targets: weakref.WeakKeyDictionary[Datasette, dict[tuple[str, str], dict[str, str]]]
        self._targets = weakref.WeakKeyDictionary()

    @hookimpl
    def render_cell(
        self, value: Any, column: str, table: str | None, database: str, datasette: Datasette
    ) -> Callable[[], Awaitable[Markup | None]] | None:
        if table is None or value is None or isinstance(value, dict):
            return None  # a query's cell, an empty one, or a label Datasette already shows
        known = self._targets.setdefault(datasette, {}).get((database, table))
        if known is not None and column not in known:
            return None

        async def link() -> Markup | None:
            targets = await self._foreign_keys(datasette, database, table)
            if column not in targets:
                return None
            other = targets[column]
            labels = await datasette.expand_foreign_keys(database, table, column, [value])
            label = labels.get((column, value))
            href = datasette.urls.row(database, other, tilde_encode(str(value)))
            if label is None or str(label) == str(value):
                return Markup('<a href="{}">{}</a>').format(href, value)
            return Markup('<a href="{}">{}</a>&nbsp;<em>{}</em>').format(href, label, value)

        return link

    async def _foreign_keys(
        self, datasette: Datasette, database: str, table: str
    ) -> dict[str, str]:
        cache = self._targets.setdefault(datasette, {})
        if (database, table) not in cache:
            keys = await datasette.get_database(database).foreign_keys_for_table(table)
            cache[(database, table)] = {fk["column"]: fk["other_table"] for fk in keys}
        return cache[(database, table)]
