"""`newsletter send --workers N` and `--shard K/N` against a real SMTP server: the split covers
every reader exactly once, however the runs overlap."""

from __future__ import annotations

import subprocess
from pathlib import Path

from newsletter.audience import in_shard
from newsletter.config import load_config
from tests.sending import SEND_ENV, add_readers, demo_config, run_send, send_command
from tests.smtpserver import smtp_server


def test_workers_send_each_reader_once(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 20)
        result = run_send(path, "--workers", "2")
        assert result.returncode == 0, result.stderr
        assert f"sent {len(readers)}" in result.stdout
        assert sorted(script.recipients()) == readers
        again = run_send(path, "--workers", "2")
        assert "sent 0" in again.stdout and len(script.recipients()) == len(readers)


def test_shards_split_the_readers_and_overlapping_runs_never_send_twice(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        readers = add_readers(path, 30)
        shares = [
            {r.email for r in load_config(path).readers if in_shard(r, (k, 3))} for k in (1, 2, 3)
        ]
        assert sorted(set().union(*shares)) == readers and sum(map(len, shares)) == len(readers)
        assert all(shares)  # a hash split, not everyone in one shard
        runs = [  # shard 1 twice at once, as two machines would by mistake; shards 2 and 3
            subprocess.Popen(
                send_command(path, "--shard", shard, "--workers", "2"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=SEND_ENV,
            )
            for shard in ("1/3", "1/3", "2/3", "3/3")
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
        assert sorted(script.recipients()) == readers


def test_a_worker_that_cannot_connect_fails_the_run_with_one_clear_line(tmp_path: Path) -> None:
    with smtp_server() as (port, script):
        path = demo_config(tmp_path, port)
        add_readers(path, 5)
        path.write_text(path.read_text().replace("security: none", "security: starttls"))
        result = run_send(path, "--workers", "2")
        assert result.returncode == 1
        assert "does not offer STARTTLS" in result.stderr and "Traceback" not in result.stderr
        assert script.received == []


def test_a_bad_shard_is_a_usage_error(tmp_path: Path) -> None:
    path = demo_config(tmp_path, None)
    result = run_send(path, "--shard", "3/2")
    assert result.returncode == 2 and "K/N" in result.stderr
