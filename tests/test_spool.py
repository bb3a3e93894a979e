"""The durable spool on real SQLite files: order, per-request atomicity, duplicates, crashes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from app.db import errors
from app.db.spool import Spool, SpoolError


@pytest.fixture
def spool(tmp_path):
    with Spool(tmp_path / "spool.db") as s:
        yield s


def decision(key: str, **extra) -> tuple[str, str, dict]:
    return ("decision", key, {"decision_id": key, "model_id": "m1", **extra})


def outcome(key: str, **extra) -> tuple[str, str, dict]:
    return ("outcome", key, {"decision_id": key, "success": 1, **extra})


def test_append_keeps_order_and_payloads(spool):
    assert spool.append([[decision("a"), outcome("a")], [decision("b", score=0.5)]]) == [None, None]
    entries = spool.peek(10)
    assert [(e.kind, e.key) for e in entries] == [
        ("decision", "a"), ("outcome", "a"), ("decision", "b")]  # fmt: skip
    assert entries[0].seq < entries[1].seq < entries[2].seq
    assert entries[2].row == {"decision_id": "b", "model_id": "m1", "score": 0.5}
    assert spool.depth() == 3
    assert [e.key for e in spool.peek(2)] == ["a", "a"]


def test_file_is_wal_and_fsyncs_every_commit(spool, tmp_path):
    spool.append([[decision("a")]])
    with spool._locked() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    other = sqlite3.connect(tmp_path / "spool.db")
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_duplicate_key_refuses_that_group_only_and_writes_none_of_it(spool):
    spool.append([[outcome("a")]])
    results = spool.append(
        [[decision("b"), outcome("b")], [decision("c"), outcome("a")], [decision("d")]]
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], errors.UniqueViolation)
    assert [(e.kind, e.key) for e in spool.peek(10)] == [
        ("outcome", "a"), ("decision", "b"), ("outcome", "b"), ("decision", "d")]  # fmt: skip


def test_duplicate_within_one_call_and_within_one_group(spool):
    results = spool.append([[outcome("x")], [outcome("x")], [decision("y"), decision("y")]])
    assert results[0] is None
    assert isinstance(results[1], errors.UniqueViolation)
    assert isinstance(results[2], errors.UniqueViolation)
    assert spool.depth() == 1


def test_same_key_of_another_kind_is_not_a_duplicate(spool):
    assert spool.append([[decision("a")], [outcome("a")]]) == [None, None]


def test_unserialisable_row_refuses_its_group_only(spool):
    results = spool.append([[decision("a", when=object())], [decision("b")]])
    assert isinstance(results[0], TypeError) and results[1] is None
    assert [e.key for e in spool.peek(10)] == ["b"]


def test_delete_and_dead_letter(spool):
    spool.append([[decision("a")], [decision("b")], [decision("c")]])
    a, b, c = spool.peek(10)
    spool.delete([a.seq])
    spool.dead_letter(b, "ConstraintViolation: no such agent")
    assert [e.key for e in spool.peek(10)] == ["c"]
    assert spool.depth() == 1 and spool.dead_depth() == 1
    assert spool.dead_letters() == [
        {
            "seq": b.seq,
            "kind": "decision",
            "key": "b",
            "row": b.row,
            "error": "ConstraintViolation: no such agent",
        }
    ]
    spool.append([[decision("a")]])  # a deleted key may be spooled again
    assert spool.peek(10)[-1].seq > c.seq  # sequence numbers are never reused after a delete


def test_rows_survive_reopen(tmp_path):
    path = tmp_path / "spool.db"
    with Spool(path) as first:
        first.append([[decision("a"), outcome("a")]])
    with Spool(path) as second:
        assert [(e.kind, e.key) for e in second.peek(10)] == [("decision", "a"), ("outcome", "a")]


def test_rows_survive_a_process_that_dies_without_closing(tmp_path):
    path = tmp_path / "spool.db"
    script = textwrap.dedent(f"""
        import os
        from app.db.spool import Spool
        spool = Spool({str(path)!r}).open()
        spool.append([[("decision", "k%d" % i, {{"decision_id": "k%d" % i}})] for i in range(50)])
        os._exit(0)  # no close, no atexit: only what was committed survives
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    with Spool(path) as spool:
        assert [e.key for e in spool.peek(100)] == [f"k{i}" for i in range(50)]


def test_concurrent_appends_keep_each_threads_order(spool):
    def work(name: str) -> None:
        for i in range(25):
            assert spool.append([[decision(f"{name}-{i}")]]) == [None]

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    keys = [e.key for e in spool.peek(1000)]
    assert len(keys) == 100
    for n in range(4):
        mine = [k for k in keys if k.startswith(f"t{n}-")]
        assert mine == [f"t{n}-{i}" for i in range(25)]


def test_unwritable_path_raises_spool_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="spool"):
        Spool(blocker / "spool.db").open()


def test_a_locked_spool_times_out_instead_of_hanging(tmp_path):
    path = tmp_path / "spool.db"
    Spool(path).open().close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Spool(path, busy_timeout_ms=100) as spool:
            with pytest.raises(SpoolError, match="locked"):
                spool.append([[decision("a")]])
            holder.execute("ROLLBACK")
            assert spool.append([[decision("a")]]) == [None]  # usable again after the failure
    finally:
        holder.close()


def test_sequence_numbers_are_never_reused_once_the_spool_empties(spool):
    spool.append([[decision("a")]])
    (first,) = spool.peek(10)
    spool.dead_letter(first, "refused")
    assert spool.depth() == 0
    spool.append([[decision("b")]])
    (second,) = spool.peek(10)
    assert second.seq > first.seq
    spool.dead_letter(second, "refused too")  # a reused seq would collide in dead_letters
    assert [d["key"] for d in spool.dead_letters()] == ["a", "b"]
