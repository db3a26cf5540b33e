"""The ``clipsearch`` command group, the options and printing its commands share, and ``main``.

Errors raised on purpose by the library (:class:`ClipsearchError`) become one line on stderr and
the error's exit code; only a bug shows a traceback. The library modules behind each command are
imported inside it: `clipsearch search` must not pay for SQLAlchemy before it has started embedding
the query on another thread. The commands live beside this module, by part (``indexing``,
``querying``, ``duplicates``, ``categories``, ``serving``), and register on :data:`cli`.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import ClipsearchError

if TYPE_CHECKING:
    from ..front.index import SearchResult


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClipsearchError as err:
            click.echo(f"clipsearch: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("clipsearch: interrupted (work already committed is kept)", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # `clipsearch map | head -1`: the reader has what it wanted
            _quiet_stdout()
            ctx.exit(0)
        except OSError as err:  # disk full, permission denied on the index folder, ...
            if err.errno == errno.ENOSPC:
                where = f" writing {err.filename}" if err.filename else ""
                click.echo(f"clipsearch: error: disk full{where}: free some space and run the command again", err=True)
            else:
                click.echo(f"clipsearch: error: {err}", err=True)
            ctx.exit(1)


def _quiet_stdout() -> None:
    """Point stdout at nothing, so the interpreter's last flush of a closed pipe says nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's runner): nothing to quiet
        pass


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clipsearch")
def cli() -> None:
    """Search your pictures by describing them, by example, and find duplicates."""


class ProgressBar:
    """tqdm on stderr with a files/s rate; off when stderr is not a terminal unless forced."""

    def __init__(self, enabled: bool | None, desc: str = "indexing", unit: str = "file") -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.desc, self.unit = desc, unit
        self.bar: Any = None

    def __enter__(self) -> ProgressBar:
        return self

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, unit=self.unit, desc=self.desc, smoothing=0.1, file=sys.stderr, dynamic_ncols=True
            )
        self.bar.n = done
        self.bar.refresh()
        if done >= total:  # this phase is over: its line stays, the next phase's bar goes below
            self.bar.close()

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def show(path: str) -> str:
    """A path safe to print on one line: undecodable bytes and control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def print_results(results: list[SearchResult], as_json: bool, preview: bool = False, first: int = 1) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results]))
        return
    if not results:
        click.echo("no results", err=True)
        return
    protocol = None
    if preview:
        from .preview import detect

        protocol = detect(is_terminal=sys.stdout.isatty()) or "blocks"  # asked for: draw even into a pipe
    click.echo(f"{'rank':>4}  {'score':>7} {'scale':<6}  {'match':<7}  {'taken':<10}  path")
    for rank, r in enumerate(results, first):
        labels = "  [" + ", ".join(r.categories.values()) + "]" if r.categories else ""
        taken = (r.taken or "")[:10]
        score = f"{r.score:7.3f} {r.score_kind:<6}" if r.score_kind != "none" else f"{'':>7} {'':<6}"
        click.echo(f"{rank:>4}  {score}  {r.match:<7}  {taken:<10}  {show(r.display_path)}{labels}")
        if r.text_snippet:
            click.echo(f"{'':>4}  {'':>7} {'':<6}  {'':<7}  {'':<10}  {show(r.text_snippet)}")
        if protocol:
            click.echo(_drawn(r, protocol), nl=False, color=True)  # color: keep the escape codes in a pipe


def _drawn(result: SearchResult, protocol: str) -> str:
    """A result's picture in ``protocol``, or a one-line note when its file can't be drawn now."""
    from ..errors import ImageLoadError
    from ..front import index as front
    from .preview import render

    try:
        image = front.item_picture(result.path, result.page, result.time)
    except (ImageLoadError, OSError) as err:
        return f"      (no preview: {getattr(err, 'reason', None) or err})\n"
    return render(image, protocol)


#: Commands that only read. Run as a program, they end with ``os._exit`` once their output is
#: flushed: tearing down ONNX Runtime, FAISS and the interpreter was a cost every cold query paid
#: (`make bench`: cold_query_s) and there is nothing to save or release (the OS drops locks and
#: mappings; SQLite readers hold none).
_QUICK_EXIT = frozenset({"search", "similar", "status"})


def main(argv: Sequence[str] | None = None) -> None:
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        cli.main(args=args, prog_name="clipsearch")
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        # A failed run, its error said: every `with` and `finally` has run on the way out, and what
        # is left is tearing down native threads (ONNX Runtime's, OpenVINO's) that may still run a
        # batch, which can abort the process ("terminate called...") after the one clean line.
        if argv is None and args and (args[0] in _QUICK_EXIT or code not in (0, None)):
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except BrokenPipeError:  # the reader of a pipe went away: it had what it wanted
                _quiet_stdout()
            except OSError:
                code = code or 1
            os._exit(code)
        if argv is None:
            # Every `with` and `finally` has run; what is left is the interpreter's own teardown,
            # whose garbage collections walked every object a run made (most of the time from an
            # `index`'s output to its exit; `make bench`: textpass). Frozen objects are
            # left out of those collections: the process still exits cleanly (atexit handlers,
            # buffers flushed, modules torn down), it only skips walking a heap about to vanish.
            gc.freeze()
        raise
