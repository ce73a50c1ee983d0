"""Flow files on disk: loading and hot reload that keeps the running flow on a bad file."""

import os
from pathlib import Path

import pytest

from ivr.core.errors import FlowError
from ivr.core.messages import DigitsReceived, Enqueue, PromptFinished
from ivr.core.session import IvrSession
from ivr.store import FlowStore, known_prompts, load_flow

from .flows_text import GOOD, GOOD_V2, NOW

BAD = GOOD.replace('next = "menu"', 'next = "menuu"')


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_a_bad_reload_keeps_the_flow_in_service_and_returns_the_error(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    write(path, GOOD, 0)
    store = FlowStore(path, prompts=known_prompts(), queues={"general", "business"})
    first = store.current
    write(path, BAD, 1)
    error = store.reload()
    assert isinstance(error, FlowError)
    assert str(error) == f"{path}:8: node greeting: next points to unknown node 'menuu'"
    assert store.current is first
    write(path, GOOD_V2, 2)
    assert store.reload() is None
    assert store.current is not first and store.current.node("menu").choices[0] == ("1", "q_business")


def test_a_call_in_progress_finishes_on_the_flow_it_started_with_across_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    write(path, GOOD, 0)
    store = FlowStore(path)
    call = IvrSession(store.current, "13812345678", NOW)
    call.start()
    write(path, GOOD_V2, 1)
    assert store.reload_if_changed() is None
    call.on_event(PromptFinished())
    assert call.on_event(DigitsReceived("1")) == [Enqueue("general", (), 0)]  # old flow: 1 = general
    later = IvrSession(store.current, "13812345678", NOW)
    later.start()
    later.on_event(PromptFinished())
    assert later.on_event(DigitsReceived("1")) == [Enqueue("business", (), 0)]  # new flow for new calls


def test_reload_if_changed_reads_the_file_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    write(path, GOOD, 0)
    store = FlowStore(path)
    first = store.current
    assert store.reload_if_changed() is None and store.current is first
    write(path, BAD, 1)
    assert isinstance(store.reload_if_changed(), FlowError)
    assert store.reload_if_changed() is None  # the same bad file is not re-read on every poll
    assert store.current is first


def test_an_unreadable_or_missing_file_is_a_flow_error(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match=r"missing.toml:1: cannot read flow file: No such file or directory"):
        load_flow(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FlowError, match="cannot read flow file"):
        load_flow(tmp_path / "bin.toml")
