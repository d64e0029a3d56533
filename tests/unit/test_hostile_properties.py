"""Mutated real properties files and journals: typed errors only, never a crash."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import FIXTURES
from wkpy.errors import CorruptFileError, PropertiesError, WkError
from wkpy.properties import load_properties


def _real_properties():
    return sorted(FIXTURES.rglob("datasource-properties.json")) if FIXTURES.is_dir() else []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
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


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
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


# ------------------------------------------------ hostile names, paths, nesting, sizes

_HOSTILE_STRINGS = st.one_of(
    st.sampled_from(["..", ".", "../x", "./", "/", "/etc", "a/b", "a\\b", ".x", "", "a\x00b", "../..",
                     "./color/../..", "color/../../x", "~", " ", "..."]),
    st.text(alphabet="./\\\x00ab", max_size=8),
)


def _real_array_docs():
    return sorted(FIXTURES.rglob("*/zarr.json")) if FIXTURES.is_dir() else []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_layer_names_and_mag_paths_never_load_unsafe(tmp_path, data):
    from wkpy._paths import check_name

    files = _real_properties() or pytest.skip("no ../shared fixtures")
    obj = json.loads(data.draw(st.sampled_from(files)).read_text())
    layer = data.draw(st.sampled_from(obj["dataLayers"]))
    field = data.draw(st.sampled_from(["name", "path"]))
    value = data.draw(_HOSTILE_STRINGS)
    mags = layer.get("mags") or layer.get("wkwResolutions") or [{}]
    if field == "name":
        layer["name"] = value
    else:
        mags[0]["path"] = value
    path = tmp_path / "datasource-properties.json"
    path.write_text(json.dumps(obj))
    try:
        props = load_properties(path)
    except PropertiesError as exc:
        assert str(path) in str(exc) and "dataLayers[" in str(exc)
        return
    for loaded in props.data_layers:
        check_name(loaded.name)  # every layer name that loads is one safe folder name
        for mag in loaded.mags:
            if mag.path is not None and "://" not in mag.path and not mag.path.startswith("/"):
                parts = [p for p in mag.path.split("/") if p not in ("", ".")]
                assert parts and set(parts) != {".."} and "\x00" not in mag.path


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_absurd_array_documents_raise_only_typed_errors(tmp_path, data):
    from wkpy.errors import UnsupportedError
    from wkpy.storage._zarr3_meta import parse_array

    files = _real_array_docs() or pytest.skip("no ../shared fixtures")
    doc = json.loads(data.draw(st.sampled_from(files)).read_text())
    if doc.get("node_type") != "array":
        return
    sizes = st.one_of(st.integers(-2, 3), st.integers(2**30, 2**70), st.sampled_from([99999999999, 2**31, 2**62]),
                      st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(), st.text(max_size=2))
    targets = [doc["shape"], doc["chunk_grid"]["configuration"]["chunk_shape"]]
    if doc["codecs"][0].get("name") == "sharding_indexed":
        targets.append(doc["codecs"][0]["configuration"]["chunk_shape"])
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(targets))
        target[data.draw(st.integers(0, len(target) - 1))] = data.draw(sizes)
    if data.draw(st.booleans()):
        doc["attributes"] = "__deep__"
    depth = data.draw(st.sampled_from([50, 600, 900, 5000]))
    path = tmp_path / "zarr.json"
    path.write_text(json.dumps(doc).replace('"__deep__"', "[" * depth + "]" * depth))
    try:
        meta = parse_array(path)
    except (PropertiesError, UnsupportedError) as exc:
        assert str(path) in str(exc)
        return
    assert meta.shape[0] <= 2**16 and max(meta.shard) <= 2**31 and max(meta.chunk) <= 2**31
    assert math.prod(meta.chunk) * meta.dtype.itemsize <= 2**31
