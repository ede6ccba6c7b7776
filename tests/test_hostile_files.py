"""Hostile local sources: a path to `/dev/zero`, `/dev/urandom`, a FIFO, a socket, a directory
or a file over the size cap fails its own source at once, with a reason; the good listing
beside it is read. Nothing blocks (a FIFO without a writer) and nothing fills the memory."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsletter.config import load_config
from newsletter.errors import FetchError
from newsletter.fetching import FetchStatus, fetch_day
from newsletter.sources.http import Fetcher
from newsletter.sources.limits import Deadline, read_file
from newsletter.store import Store
from tests.feeds import LISTING, MONDAY, arxiv_source, feed_source, write_sources

pytestmark = pytest.mark.skipif(os.name != "posix", reason="devices and FIFOs are POSIX")


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with httpx.Client() as client:
        yield Fetcher(client, max_body=64 * 1024, deadline=5.0)


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "feed.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        yield path


def hostile_paths(tmp_path: Path, unix_socket: Path) -> dict[str, tuple[str, str]]:
    fifo = tmp_path / "feed.fifo"
    os.mkfifo(fifo)
    (tmp_path / "folder").mkdir()
    (tmp_path / "big.xml").write_bytes(LISTING + b"<!--" + b"x" * 70_000 + b"-->")
    (tmp_path / "zero.xml").symlink_to("/dev/zero")
    return {
        "zero": ("/dev/zero", "a character device"),
        "urandom": ("/dev/urandom", "a character device"),
        "fifo": (str(fifo), "a FIFO"),
        "socket": (str(unix_socket), "a socket"),
        "folder": ("folder", "a directory"),
        "link": ("zero.xml", "a character device"),
        "big": ("big.xml", "larger than 65536 bytes"),
        "file url": ((tmp_path / "feed.fifo").as_uri(), "a FIFO"),
        "nul": ("bad\x00name.xml", "cannot read"),
    }


@pytest.mark.timeout(30)
def test_only_regular_files_within_the_cap_are_read(
    tmp_path: Path, unix_socket: Path, fetcher: Fetcher
) -> None:
    paths = hostile_paths(tmp_path, unix_socket)
    sources = [feed_source(path, name) for name, (path, _) in paths.items() if name != "nul"]
    config = load_config(write_sources(tmp_path, *sources, arxiv_source("good.xml", "good")))
    started = time.monotonic()
    with Store(tmp_path / "state.db") as store:
        report = fetch_day(config, MONDAY, store, fetcher)
    assert time.monotonic() - started < 5
    by_name = {outcome.source: outcome for outcome in report.outcomes}
    for name, (_, reason) in paths.items():
        if name == "nul":
            continue
        assert by_name[name].status is FetchStatus.FAILED, name
        assert reason in by_name[name].detail, (name, by_name[name].detail)
    assert by_name["good"].status is FetchStatus.OK and len(by_name["good"].papers) == 2


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["zero", "urandom", "fifo", "socket", "folder", "big", "nul"])
def test_fetcher_get_refuses_each_with_a_fetch_error(
    tmp_path: Path, unix_socket: Path, fetcher: Fetcher, name: str
) -> None:
    path, reason = hostile_paths(tmp_path, unix_socket)[name]
    with pytest.raises(FetchError, match=reason):
        fetcher.get(path, source="hostile", base_dir=tmp_path)


def test_a_regular_file_is_read_whole_and_the_deadline_applies(tmp_path: Path) -> None:
    path = tmp_path / "listing.xml"
    path.write_bytes(LISTING * 3)
    assert read_file(path, "s", 1024 * 1024, Deadline(time.monotonic, 5.0)) == LISTING * 3
    ticks = iter(range(1000))
    with pytest.raises(FetchError, match="timed out"):  # a clock past the deadline
        read_file(path, "s", 1024 * 1024, Deadline(lambda: next(ticks) * 10.0, 5.0))
