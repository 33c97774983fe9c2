"""Claims (kpiflow/claims.py): files, queued messages and the publish lock, held by one process at a
time, on SQLite as file locks and on PostgreSQL in the database (ids sqlite, postgresql)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from kpiflow.claims import PUBLISH, Claims, claims_for, lock_folder, message_claim
from kpiflow.errors import KpiflowError
from kpiflow.publish import publishing_lock
from kpiflow.settings import Settings
from kpiflow.store import Store, open_store

pytestmark = pytest.mark.backends


@pytest.fixture
def elsewhere(settings: Settings) -> Iterator[Claims]:
    """Claims as another process takes them: on PostgreSQL its own connection (another session);
    on SQLite every file lock is taken through its own open file, which flock keeps apart."""
    if settings.store_kind != "postgresql":
        yield claims_for(settings, None)
        return
    other = open_store(settings)
    try:
        yield claims_for(settings, other)
    finally:
        other.close()


def test_the_store_picks_where_claims_are_taken(settings: Settings, store: Store) -> None:
    claims = claims_for(settings, store)
    assert claims.across_hosts == (settings.store_kind == "postgresql")


def test_a_queued_message_is_claimed_by_one_process_at_a_time(settings: Settings, store: Store,
                                                              elsewhere: Claims) -> None:
    mine = claims_for(settings, store).named(message_claim(7))
    assert mine is not None and mine.held()
    assert elsewhere.named(message_claim(7)) is None
    other = elsewhere.named(message_claim(8))           # another message is free
    assert other is not None
    other.release()
    mine.release()
    assert not mine.held()
    mine.release()                                      # twice does nothing
    again = elsewhere.named(message_claim(7))
    assert again is not None
    again.release()


def test_a_claim_by_name_leaves_no_lock_file_behind(settings: Settings, store: Store) -> None:
    got = claims_for(settings, store).named(message_claim(1))
    assert got is not None
    got.release()
    folder = lock_folder(settings)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_name_never_shares_a_claim_with_a_file(settings: Settings, store: Store, elsewhere: Claims) -> None:
    # names that a file's claim could be mistaken for, and a file whose place reads like a name
    path = settings.home / "publish"
    path.write_bytes(b"x")
    file_claim = claims_for(settings, store).file(path)
    assert file_claim is not None
    named = elsewhere.named(PUBLISH)
    assert named is not None
    named.release()
    file_claim.release()


def test_a_claim_is_dropped_when_its_holder_is_killed(settings: Settings, store: Store,
                                                      elsewhere: Claims) -> None:
    # a real second process, killed with SIGKILL: neither it nor kpiflow gets to release anything
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from kpiflow.claims import claims_for, message_claim
        from kpiflow.settings import load_settings
        from kpiflow.store import open_store
        settings = load_settings(Path({str(settings.home)!r}))
        store = open_store(settings) if settings.store_kind == "postgresql" else None
        got = claims_for(settings, store).named(message_claim(3))
        print("held" if got else "refused", flush=True)
        time.sleep(60)
    """)
    env = {**os.environ, **({"KPIFLOW_DATABASE_URL": settings.store_url} if settings.store_url else {})}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        assert elsewhere.named(message_claim(3)) is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    got = None
    for _ in range(50):       # the server notices a dead connection at once, but not within the same instant
        got = elsewhere.named(message_claim(3))
        if got is not None:
            break
        time.sleep(0.1)
    assert got is not None
    got.release()


def test_one_publish_at_a_time(settings: Settings, store: Store) -> None:
    other = open_store(settings) if settings.store_kind == "postgresql" else None
    try:
        with (publishing_lock(settings, store), pytest.raises(KpiflowError, match="Another kpiflow publish is running"),
              publishing_lock(settings, other)):
            pass
        with publishing_lock(settings, other):
            pass
    finally:
        if other is not None:
            other.close()
