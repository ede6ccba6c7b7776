"""A throwaway Dovecot IMAP server on 127.0.0.1 for the inbox tests.

`dovecot(tmp_path)` writes a config into the test's folder (a passwd-file user, Maildir mail,
its own base, state and log paths), a CA and a server certificate for 127.0.0.1 made with
`cryptography`, starts `dovecot -F -c CONF` with one TLS port and one plain port (for
STARTTLS), waits until both accept connections, and stops it at the end. Clients trust the CA
through `ImapServer.context()` (in this process) or `SSL_CERT_FILE` (a command run by a test);
nothing of it is a config key.

As root (the CI), Dovecot's own users run it: `dovenull` logs in, `dovecot` owns the mail and
is chrooted into the mail folder (Dovecot refuses mail as root, and the pytest folder above is
closed to other users). As any other user, everything runs as that user. The tests are skipped
only when Dovecot is not installed (Debian: `dovecot-imapd`) or does not start; the reason is
printed.
"""

from __future__ import annotations

import getpass
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "bounces"
PASSWORD = "canary-Imap-Pa55w0rd-never-printed"
START_SECONDS = 20.0


@dataclass
class ImapServer:
    tls_port: int
    plain_port: int
    cafile: Path
    log: Path

    def context(self) -> ssl.SSLContext:
        """A verifying context that trusts this server's CA (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.cafile))

    @contextmanager
    def client(self) -> Iterator[imaplib.IMAP4_SSL]:
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=self.context(), timeout=10)
        imap.login(USER, PASSWORD)
        try:
            yield imap
        finally:
            imap.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as imap:
            kind, data = imap.append(folder, None, None, raw)
            assert kind == "OK", data

    def folder(self, folder: str = "INBOX") -> list[tuple[bytes, bytes]]:
        """Every message of a folder as (flags, bytes), oldest first; [] if it does not exist."""
        with self.client() as imap:
            kind, _ = imap.select(f'"{folder}"', readonly=True)
            if kind != "OK":
                return []
            kind, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            return [(part[0], part[1]) for part in data if isinstance(part, tuple)]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost: (ca, cert, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inbox test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    paths[2].chmod(0o600)
    return paths


def _config(root: Path, base: Path, tls: int, plain: int, capability: str | None) -> str:
    ca, cert, key = make_certificates(root)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
    mail = root / "mail"
    (mail / USER).mkdir(parents=True)
    if os.geteuid() == 0:  # Dovecot's own users; the mail user chrooted into `mail`
        owner = pwd.getpwnam("dovecot")
        mail.chmod(0o755)
        os.chown(mail / USER, owner.pw_uid, owner.pw_gid)
        users = (f"default_internal_user = dovecot\ndefault_login_user = dovenull\n"
                 f"valid_chroot_dirs = {mail}\nservice auth {{\n  user = root\n}}\n")  # fmt: skip
        userdb = f"uid=dovecot gid=dovecot home={mail}/./%u"
    else:  # an unprivileged run: every process as this user, no chroot
        me, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
        users = (f"default_internal_user = {me}\ndefault_login_user = {me}\n"
                 f"default_internal_group = {group}\n"
                 "service imap-login {\n  chroot =\n}\n"
                 "service anvil {\n  chroot =\n}\n")  # fmt: skip
        userdb = f"uid={os.getuid()} gid={os.getgid()} home={mail}/%u"
    extra = f"imap_capability = {capability}\n" if capability else ""
    return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {base}
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_ca = <{ca}
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
first_valid_uid = 1
{users}{extra}passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = {userdb}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls}
    ssl = yes
  }}
}}
"""


@contextmanager
def dovecot(tmp_path: Path, *, capability: str | None = None) -> Iterator[ImapServer]:
    """A running Dovecot with an empty mailbox for `USER`; `capability` replaces what it
    announces after login (to take MOVE away, say)."""
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    root = tmp_path / "dovecot"
    root.mkdir()
    # unix socket paths are limited to 107 bytes: a long pytest folder gets a short base_dir
    short = len(str(root / "base" / "login" / "imap-urlauth-worker")) > 100
    base = Path(tempfile.mkdtemp(prefix="dv")) if short else root / "base"
    tls, plain = free_port(), free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, base, tls, plain, capability), encoding="utf-8")
    server = ImapServer(tls, plain, root / "ca.pem", root / "dovecot.log")
    with (root / "stderr").open("wb") as stderr:
        process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=stderr, stderr=stderr)
    try:
        _wait_for(process, server, root)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if short:
            shutil.rmtree(base, ignore_errors=True)


def _wait_for(process: subprocess.Popen[bytes], server: ImapServer, root: Path) -> None:
    """Until both ports accept connections (polling, within `START_SECONDS`)."""
    deadline = time.monotonic() + START_SECONDS
    pending = {server.tls_port, server.plain_port}
    while pending and time.monotonic() < deadline and process.poll() is None:
        for port in sorted(pending):
            with closing(socket.socket()) as sock:
                sock.settimeout(1)
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    pending.discard(port)
        time.sleep(0.05)  # a poll interval, not a wait for readiness
    if pending:
        said = b""
        for name in ("stderr", "dovecot.log"):
            if (root / name).exists():
                said += (root / name).read_bytes()[-2000:]
        reason = said.decode("utf-8", "replace").strip() or f"exit status {process.poll()}"
        pytest.skip(f"dovecot did not start: {reason}")
