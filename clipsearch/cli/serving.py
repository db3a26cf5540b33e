"""``clipsearch serve``: the HTTP API and the web page for one index."""

from __future__ import annotations

import click

from .app import cli, index_options


@cli.command("serve")
@index_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar="CLIPSEARCH_TOKEN", default=None, help="Require this bearer token.")
@click.option("--device", default=None)
def serve_cmd(
    index_name: str | None, home: str | None, host: str, port: int, token: str | None, device: str | None
) -> None:
    """Serve the HTTP API and the web page for one index."""
    import uvicorn

    from .. import api
    from ..server import create_app, is_loopback

    if not is_loopback(host) and not token:
        click.echo(f"clipsearch: warning: serving on {host} without --token: anyone who can reach it can "
                   "search the index and read the indexed files", err=True)  # fmt: skip
    app = create_app(api.locate(index_name, home), token=token, device=device)
    click.echo(
        f"clipsearch: serving index {app.state.clipsearch.store.location.name!r} on http://{host}:{port}/", err=True
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
