"""docs/cli.md, written from the commands' own ``--help``: the reference cannot drift from the code
(``tests/unit/test_docs.py`` fails when the file is stale; ``make docs`` writes it again)."""

from __future__ import annotations

import click

from . import cli  # the package: every command registered

WIDTH = 100


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    return click.Context(command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH,
                         help_option_names=["-h", "--help"])  # fmt: skip


def _sections(command: click.Command, path: list[str], parent: click.Context | None) -> list[str]:
    ctx = _context(command, path[-1], parent)
    title = "#" * (len(path) + 1) + " `" + " ".join(path) + "`"
    out = [f"{title}\n\n```\n{command.get_help(ctx)}\n```\n"]
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _sections(sub, [*path, name], ctx)
    return out


def reference() -> str:
    """The whole command-line reference as Markdown, every command's ``--help`` in turn."""
    head = (
        "# Command-line reference\n\n"
        "Every command's `--help`, as the installed `clipsearch` prints it (written by `make docs`;\n"
        "a test fails when this file and the code disagree). The tour: [guide.md](guide.md).\n\n"
    )
    return head + "\n".join(_sections(cli, ["clipsearch"], None))


def main() -> None:
    click.echo(reference(), nl=False)


if __name__ == "__main__":
    main()
