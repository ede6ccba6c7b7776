"""The web app's operations docs stay true: the systemd unit runs `newsletter serve` with options
the command has, hardened like the scheduler's; the nginx and Caddy configs proxy the public
host to the address the app listens on by default, with the client's address and scheme; no
file holds a secret."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from newsletter.cli_options import verbosity_options
from newsletter.cli_serve import serve
from newsletter.tokens import LEGACY_SECRET_ENV, PREVIOUS_SECRET_ENV, SECRET_ENV
from newsletter.web.forms import MAX_BODY
from newsletter.web.settings import DEFAULT_HOST, DEFAULT_PORT
from tests.conftest import REPO
from tests.test_ops_docs import install_problems, invocations, unit, verify_unit

DOCS = REPO / "docs"
SERVICE = DOCS / "newsletter-web.service"
SCHEDULER = DOCS / "newsletter.service"
NGINX = DOCS / "nginx.conf"
CADDY = DOCS / "Caddyfile"
WEB_DOCS = [SERVICE, NGINX, CADDY]
UPSTREAM = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


def options(command: click.Command) -> set[str]:
    """Every option of a command as the `newsletter` group gives it (its own, -v, -q...)."""
    params = [*command.params, *verbosity_options()]
    found = {opt for p in params for opt in (*p.opts, *getattr(p, "secondary_opts", ()))}
    return found | {"-h", "--help"}


def known_commands() -> dict[str, click.Command]:
    from newsletter.cli import cli

    return {**cli.commands, "serve": serve}


def _one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{SERVICE.name}: expected one {key}=, found {values}"
    return values[0]


# --- the systemd unit ------------------------------------------------------------------------


@pytest.mark.parametrize("path", WEB_DOCS, ids=lambda p: p.name)
def test_every_command_line_uses_real_commands_and_options(path: Path) -> None:
    commands = known_commands()
    found = invocations(path.read_text(encoding="utf-8").splitlines())
    assert any(command == "serve" for command, _, _ in found), f"{path.name}: no serve"
    for command, _global_options, used in found:
        assert command in commands, f"{path.name}: `newsletter {command}`: no such command"
        unknown = set(used) - options(commands[command])
        assert not unknown, f"{path.name}: `newsletter {command}`: no such option {unknown}"


def test_the_unit_serves_on_the_default_address_and_stops_with_sigterm() -> None:
    service = unit(SERVICE)["Service"]
    assert _one(service, "Type") == "simple"
    argv = shlex.split(_one(service, "ExecStart"))
    assert Path(argv[0]).is_absolute() and Path(argv[0]).name == "newsletter", argv
    assert argv[1:3] == ["serve", "-c"] and Path(argv[3]).is_absolute(), argv
    flags = dict(zip(argv[4::2], argv[5::2], strict=True))
    assert flags.get("--host", DEFAULT_HOST) == DEFAULT_HOST
    assert int(flags.get("--port", DEFAULT_PORT)) == DEFAULT_PORT
    assert _one(service, "KillSignal") == "SIGTERM"
    assert _one(service, "Restart") == "on-failure"


def test_the_unit_runs_unprivileged_beside_the_scheduler_and_sandboxed() -> None:
    service = unit(SERVICE)["Service"]
    scheduler = unit(SCHEDULER)["Service"]
    assert _one(service, "User") not in ("", "root", "0")
    # one state database: the scheduler's user, directory and config
    for key in ("User", "Group", "WorkingDirectory", "StateDirectory", "EnvironmentFile"):
        assert service.get(key) == scheduler.get(key), key
    config = shlex.split(_one(service, "ExecStart"))[3]
    assert config in _one(scheduler, "ExecStart")
    assert Path(_one(service, "EnvironmentFile").lstrip("-")).is_absolute()
    for key, value in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
        ("IPAddressDeny", "any"),
    ]:
        assert _one(service, key) == value, key
    assert f"/var/lib/{_one(service, 'StateDirectory')}" in " ".join(service["ReadWritePaths"])
    assert "localhost" in " ".join(service.get("IPAddressAllow", []))


def test_the_unit_installs_the_released_tool_with_its_web_extra() -> None:
    lines = SERVICE.read_text(encoding="utf-8").splitlines()
    installs = [line for line in lines if "pip install" in line]
    assert installs and not install_problems(lines), install_problems(lines)
    assert any("[web]" in line for line in installs)


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    verify_unit(SERVICE, tmp_path)


def test_nginx_proxies_the_public_host_to_the_app_with_the_clients_address() -> None:
    text = NGINX.read_text(encoding="utf-8")
    assert re.findall(r"^\s*proxy_pass\s+(\S+);", text, re.M) == [f"http://{UPSTREAM}"]
    headers = dict(re.findall(r"^\s*proxy_set_header\s+(\S+)\s+(\S+);", text, re.M))
    assert headers["X-Forwarded-For"] == "$remote_addr"  # set: a client's own cannot pass
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["Host"] == "$host"
    assert re.search(r"^\s*listen 443 ssl( http2)?;", text, re.M)
    size = re.search(r"^\s*client_max_body_size\s+(\d+)k;", text, re.M)
    assert size and int(size.group(1)) * 1024 <= MAX_BODY
    # the access log of a proxied request leaves the path (and its token) out
    formats = re.findall(r"log_format\s+\w+\s+'([^']*)'", text)
    logs = re.findall(r"^\s*access_log\s+([^;]+);", text, re.M)
    assert logs and all(line.strip() == "off" or len(line.split()) == 2 for line in logs)
    assert formats and not [f for f in formats if re.search(r"\$(request|request_uri|uri)\b", f)]


def test_caddy_proxies_the_public_host_to_the_app_with_the_clients_address() -> None:
    text = CADDY.read_text(encoding="utf-8")
    sites = re.findall(r"^(\S+) \{$", text, re.M)
    nginx_hosts = re.findall(r"server_name\s+(\S+);", NGINX.read_text(encoding="utf-8"))
    assert sites and set(sites) <= set(nginx_hosts)  # the same public host in both
    assert re.findall(r"^\s*reverse_proxy\s+(\S+)", text, re.M) == [UPSTREAM]
    assert re.search(r"header_up X-Forwarded-For \{remote_host\}", text)
    assert re.search(r"header_up X-Forwarded-Proto \{scheme\}", text)
    assert re.search(r"^\s*max_size 4KB$", text, re.M)
    assert not re.search(r"^\s*log\b", text, re.M)  # no access log: paths carry tokens
    caddy = shutil.which("caddy")
    if caddy:
        result = subprocess.run([caddy, "adapt", "--config", str(CADDY)], capture_output=True,
                                text=True, timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr


def test_nginx_accepts_the_config_when_installed(tmp_path: Path) -> None:
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.skip("nginx is not installed")
    text = NGINX.read_text(encoding="utf-8")
    text = re.sub(r"ssl_certificate(_key)?\s+\S+;", "", text)
    text = re.sub(r" ssl( http2)?;", ";", text)  # no certificate here: plain listeners
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr;\nevents {{}}\nhttp {{\n{text}\n}}\n",
        encoding="utf-8",
    )
    result = subprocess.run([nginx, "-t", "-c", str(main)], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr


# --- no secret anywhere ----------------------------------------------------------------------


@pytest.mark.parametrize("path", WEB_DOCS, ids=lambda p: p.name)
def test_no_doc_holds_a_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    names = "|".join(re.escape(n) for n in (SECRET_ENV, PREVIOUS_SECRET_ENV, LEGACY_SECRET_ENV))
    for match in re.finditer(rf"(?:{names})\s*=\s*['\"]?([^'\"\s]*)", text):
        assert match.group(1) in ("", "..."), f"{path.name}: a secret's value: {match.group(0)}"
    assert "Environment=NEWSLETTER_SECRET" not in text
    assert not re.search(r"^\s*Environment=.*SECRET", text, re.M)
