"""mkdocs build hook: the command-line and configuration reference pages are generated from the code (the
argparse help of every command, the config schemas with their help texts), so they never drift from it."""

from __future__ import annotations

import contextlib
import io

MARKERS = {"<!-- cli-reference -->": "cli", "<!-- config-reference -->": "config"}


def _cli() -> str:
    from graphscale.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    parts = ["```text", parser.format_help().rstrip(), "```"]
    for name, sub in commands.choices.items():
        parts += [f"## graphscale {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def _config() -> str:
    from graphscale.config import RunConfig, dump
    from graphscale.embed.config import EmbedConfig
    from graphscale.kge.config import KGConfig

    parts = []
    for title, cfg in (("graphscale train", RunConfig()), ("graphscale kg", KGConfig()),
                       ("graphscale embed", EmbedConfig())):
        parts += [f"## {title}", "", "Every key with its default and meaning (`--print-config` prints the resolved "
                  "config of a command in this form):", "", "```yaml", dump(cfg, comments=True).rstrip(), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (mkdocs hook signature)
    for marker, kind in MARKERS.items():
        if marker in markdown:
            with contextlib.redirect_stdout(io.StringIO()):
                markdown = markdown.replace(marker, _cli() if kind == "cli" else _config())
    return markdown
