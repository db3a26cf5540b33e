"""``clipsearch serve``: the HTTP API and the web page for one index, optionally kept current."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from .app import cli
from .options import Where, location_options, runtime_options

if TYPE_CHECKING:
    from ..config import RuntimeChoice
    from ..front.index import IndexReport


@cli.command("serve")
@location_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="CLIPSEARCH_TOKEN", default=None, help="Require this bearer token.")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests naming this host (repeatable; '*' for any). Loopback names always are.",
)
@click.option("--follow-links", "serve_links", is_flag=True,
              help="Serve files whose real path lies outside the indexed folders.")  # fmt: skip
@click.option("--watch", "watch_paths", multiple=True, type=click.Path(exists=True), metavar="PATH",
              help="Keep the index current with PATH while serving (repeatable; as `watch` does).")  # fmt: skip
@click.option("--allow-changes", "changes_to", type=click.Path(file_okay=False), metavar="DIR", default=None,
              help="Let the page dismiss duplicate groups, move their copies into DIR (a plan shown first, "
                   "as `duplicates --move-to DIR`) and undo. Without it the server changes nothing.")  # fmt: skip
@runtime_options
def serve_cmd(where: Where, host: str, port: int, token: str | None, allow_hosts: Sequence[str], serve_links: bool,
              watch_paths: Sequence[str], changes_to: str | None, run: RuntimeChoice) -> None:  # fmt: skip
    """Serve the HTTP API and the web page for one index (--runtime and --precision: for --watch)."""
    import uvicorn

    from ..front.index import Index
    from ..server import create_app, is_loopback

    if not is_loopback(host) and not token:
        click.echo(f"clipsearch: warning: serving on {host} without --token: anyone who can reach it can "
                   "search the index and read the indexed files", err=True)  # fmt: skip
    sock = _bound(host, port)  # first: a busy port is said before anything is indexed or printed
    stop = threading.Event()
    if watch_paths:
        with Index.create(*where, run=run, roots=watch_paths) as ix:
            ix.add(watch_paths)  # catch up (or create) before serving
        thread = threading.Thread(target=_watch, args=(watch_paths, where, run, stop), name="clipsearch-watch",
                                  daemon=True)  # fmt: skip
        thread.start()
    bound = () if host in ("0.0.0.0", "::", "") else (host,)  # the address it was asked to answer on
    app = create_app(Index.locate(*where), token=token, device=run.device,
                     allow_hosts=(*bound, *allow_hosts), follow_links=serve_links,
                     changes_to=changes_to)  # fmt: skip
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if not bound else f"[{host}]" if ":" in host else host
    click.echo(f"clipsearch: serving index {app.state.clipsearch.index.name!r} on http://{shown}:{port}/", err=True)
    if not bound and not allow_hosts:
        click.echo("clipsearch: listening on every address: other machines reach it by a name or address given "
                   "with --allow-host (requests naming any other host get 421)", err=True)  # fmt: skip
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    finally:
        stop.set()  # the watcher ends between runs: nothing half-written


def _bound(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port, printed as the real one)."""
    from ..errors import AddressInUseError, UsageError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise AddressInUseError(f"{host}:{port} is already in use (another server?): choose --port") from err
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err


def _watch(paths: Sequence[str], where: Where, run: RuntimeChoice, stop: threading.Event) -> None:
    from ..front.index import Index

    def log(r: IndexReport) -> None:
        if r.added or r.updated or r.moved or r.removed:
            click.echo(f"clipsearch: watch: {r.added} added, {r.updated} updated, {r.moved} moved, {r.removed} removed",
                       err=True)  # fmt: skip

    try:
        with Index.create(*where, run=run, roots=paths) as ix:
            ix.watch(paths, on_batch=log, stop=stop)
    except Exception as err:  # the server keeps serving what is indexed; say why watching ended
        click.echo(f"clipsearch: watch stopped: {err}", err=True)


@cli.command("mcp")
@location_options
@click.option("--allow-index", "allow_index", multiple=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, resolve_path=True),
              help="Also offer the `index` tool, which adds folders under DIR (repeatable) to the index "
              "(read-only without it).")  # fmt: skip
@click.option("--device", default=None, help="auto, cpu, cuda, mps.")
def mcp_cmd(where: Where, allow_index: tuple[str, ...], device: str | None) -> None:
    """Offer one index to an AI assistant over the Model Context Protocol (stdio).

    Tools: search (meaning, text and filters), similar, status, duplicates; results are paths with
    scores, and thumbnails. Add it to an assistant as the command `clipsearch mcp --index NAME`."""
    from ..front.index import Index
    from ..mcp.server import create_server

    create_server(Index.locate(*where), allow_index=allow_index, device=device).run("stdio")
