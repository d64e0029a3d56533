"""Mutated real properties files and journals: typed errors only, never a crash."""

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import FIXTURES
from wkpy.errors import CorruptFileError, PropertiesError, WkError
from wkpy.properties import load_properties


def _real_properties():
    return sorted(FIXTURES.rglob("datasource-properties.json")) if FIXTURES.is_dir() else []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_properties_raise_only_properties_errors(tmp_path, data):
    files = _real_properties() or pytest.skip("no ../shared fixtures")
    raw = bytearray(data.draw(st.sampled_from(files)).read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.sampled_from(b'{}[]":,0123456789-.eE tnfaluxyz\\\x00\xff'))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path / "datasource-properties.json"
    path.write_bytes(bytes(raw))
    try:
        load_properties(path)
    except PropertiesError as exc:
        assert "datasource-properties.json" in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_structurally_mutated_properties(tmp_path, data):
    files = _real_properties() or pytest.skip("no ../shared fixtures")
    obj = json.loads(data.draw(st.sampled_from(files)).read_text())
    junk = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                     st.text(max_size=5), st.lists(st.integers(), max_size=4), st.just({}))

    def mutate(node, depth=0):
        if isinstance(node, dict) and node:
            key = data.draw(st.sampled_from(sorted(node)))
            action = data.draw(st.sampled_from(["del", "junk", "deeper"]))
            if action == "del":
                del node[key]
            elif action == "junk" or depth > 6:
                node[key] = data.draw(junk)
            else:
                mutate(node[key], depth + 1)
        elif isinstance(node, list) and node:
            i = data.draw(st.integers(0, len(node) - 1))
            if data.draw(st.booleans()):
                node[i] = data.draw(junk)
            else:
                mutate(node[i], depth + 1)

    for _ in range(data.draw(st.integers(1, 3))):
        mutate(obj)
    path = tmp_path / "datasource-properties.json"
    path.write_text(json.dumps(obj))
    try:
        load_properties(path)
    except PropertiesError:
        pass


def test_a_corrupt_journal_is_a_typed_error(tmp_path):
    import numpy as np

    import wkpy as wk
    from wkpy.storage.wkw import roll_back

    ds = wk.Dataset(tmp_path / "d", voxel_size=(1, 1, 1))
    mag = ds.add_layer("c", "color").add_mag(1, chunk_shape=8, shard_shape=16, compress=False)
    mag.write(np.ones((16, 16, 16), np.uint8), absolute_offset=(0, 0, 0))
    shard = tmp_path / "d" / "c" / "1" / "z0" / "y0" / "x0.wkw"
    journal = shard.with_name("x0.wkw.journal")
    before = shard.read_bytes()
    # junk, an old-style commit marker, a journal cut short: none was complete, so the file
    # was never patched; each is deleted unapplied (not an error that blocks the shard)
    for junk in (b"JUNK" + bytes(20) + (2**64 - 1).to_bytes(8, "little"), b"WKWJ\x01" + bytes(3),
                 b"WKWJ\x02" + b"\xff" * 100):
        journal.write_bytes(junk)
        assert roll_back(shard, journal) == 1
        assert not journal.exists() and shard.read_bytes() == before
    assert isinstance(CorruptFileError("x"), WkError)
