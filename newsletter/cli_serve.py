"""`newsletter serve`: the readers' web app (one-click unsubscribe, "more / less like this",
the issue on the web). Registered on the `newsletter` group by `cli.py`.

Starlette and uvicorn are the `web` extra: they are imported only when the command runs."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from newsletter.cli_options import config_option, is_quiet, load


@click.command()
@config_option
@click.option("--host", default=None, metavar="HOST",
              help="Address to listen on. Default: from newsletter.web.listen, else "
              "127.0.0.1.")  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on (0: any free port). Default: from newsletter.web.listen, "
              "else 8080.")  # fmt: skip
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Comma-separated addresses of the reverse proxies whose X-Forwarded-For "
              "gives the client's address (for the rate limit); '*' trusts any.")  # fmt: skip
def serve(config_path: Path, host: str | None, port: int | None, forwarded_allow_ips: str) -> None:
    """Serve the readers' web app behind a reverse proxy that publishes newsletter.web_url:
    one-click unsubscribe (RFC 8058), subscribing again, "more / less like this" and each
    reader's issue on the web, all behind the signed links of the issues.

    Needs `web_url` in the config and $NEWSLETTER_SECRET (the secret the links were signed
    with). Logs one line per request to stderr (tokens shortened, no address); stops on
    Ctrl-C or SIGTERM. `newsletter run` starts the same app itself when
    newsletter.web.listen is set.

    \b
    Examples:
      newsletter serve -c /etc/paper-digest/subscribers.yaml
      newsletter serve --host 127.0.0.1 --port 8080
      curl -fsS http://127.0.0.1:8080/healthz     # ok
    """
    from newsletter.errors import ConfigError
    from newsletter.web import require_extra
    from newsletter.web.settings import DEFAULT_HOST, DEFAULT_PORT, problems

    config = load(config_path)
    found = problems(config)
    if found:
        raise ConfigError(found)
    require_extra()
    from newsletter.web.server import parse_listen
    from newsletter.web.server import serve as serve_app

    listen = config.newsletter.web.listen
    listen_host, listen_port = parse_listen(listen) if listen else (DEFAULT_HOST, DEFAULT_PORT)
    if not is_quiet() and logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a server's log is its report
    serve_app(
        config,
        host or listen_host,
        listen_port if port is None else port,
        forwarded_allow_ips=forwarded_allow_ips,
    )
