"""``clipsearch serve``: the HTTP API and the web page for one index, optionally kept current."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import click

from .app import cli, index_options

if TYPE_CHECKING:
    from ..ingest.options import IndexReport


@cli.command("serve")
@index_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="CLIPSEARCH_TOKEN", default=None, help="Require this bearer token.")
@click.option("--device", default=None)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests naming this host (repeatable; '*' for any). Loopback names always are.",
)
@click.option("--follow-links", is_flag=True, help="Serve files whose real path lies outside the indexed folders.")
@click.option("--watch", "watch_paths", multiple=True, type=click.Path(exists=True), metavar="PATH",
              help="Keep the index current with PATH while serving (repeatable; as `watch` does).")  # fmt: skip
def serve_cmd(
    index_name: str | None,
    home: str | None,
    host: str,
    port: int,
    token: str | None,
    device: str | None,
    allow_hosts: Sequence[str],
    follow_links: bool,
    watch_paths: Sequence[str],
) -> None:
    """Serve the HTTP API and the web page for one index."""
    import uvicorn

    from .. import api
    from ..server import create_app, is_loopback

    if not is_loopback(host) and not token:
        click.echo(f"clipsearch: warning: serving on {host} without --token: anyone who can reach it can "
                   "search the index and read the indexed files", err=True)  # fmt: skip
    stop = threading.Event()
    if watch_paths:
        api.index(watch_paths, index=index_name, home=home)  # catch up (or create) before serving
        thread = threading.Thread(
            target=_watch, args=(api, watch_paths, index_name, home, stop), name="clipsearch-watch", daemon=True
        )
        thread.start()
    bound = () if host in ("0.0.0.0", "::", "") else (host,)  # the address it was asked to answer on
    app = create_app(api.locate(index_name, home), token=token, device=device,
                     allow_hosts=(*bound, *allow_hosts), follow_links=follow_links)  # fmt: skip
    click.echo(
        f"clipsearch: serving index {app.state.clipsearch.store.location.name!r} on http://{host}:{port}/", err=True
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()  # the watcher ends between runs: nothing half-written


def _watch(api: ModuleType, paths: Sequence[str], index_name: str | None, home: str | None,
           stop: threading.Event) -> None:  # fmt: skip
    def log(r: IndexReport) -> None:
        if r.added or r.updated or r.moved or r.removed:
            click.echo(f"clipsearch: watch: {r.added} added, {r.updated} updated, {r.moved} moved, {r.removed} removed",
                       err=True)  # fmt: skip

    try:
        api.watch(paths, index=index_name, home=home, on_batch=log, stop=stop)
    except Exception as err:  # the server keeps serving what is indexed; say why watching ended
        click.echo(f"clipsearch: watch stopped: {err}", err=True)
