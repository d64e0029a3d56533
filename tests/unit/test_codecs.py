"""Codecs: LZ4/LZ4HC blocks, zstd frames and CRC-32C against independent implementations."""

import google_crc32c
import lz4.block
import numcodecs
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from wkcore import CorruptFileError, _codecs

payloads = st.binary(max_size=5000) | st.builds(lambda n, b: bytes([b]) * n, st.integers(0, 70000), st.integers(0, 255))


def test_crc32c_test_vector():
    assert _codecs.crc32c_of(b"123456789") == 0xE3069283
    assert _codecs.crc32c_portable(b"123456789") == 0xE3069283
    assert _codecs.crc32c_of(b"") == 0


@given(st.binary(max_size=3000))
def test_crc32c_matches_google_crc32c_on_both_paths(data):
    expected = google_crc32c.value(data)
    assert _codecs.crc32c_of(data) == expected
    assert _codecs.crc32c_portable(data) == expected


@settings(max_examples=60)
@given(payloads, st.sampled_from([0, 9]))
def test_lz4_blocks_round_trip_and_match_python_lz4(data, hc):
    block = _codecs.lz4_compress_block(data, hc)
    assert _codecs.lz4_decompress_block(block, len(data)) == data
    assert lz4.block.decompress(block, uncompressed_size=len(data)) == data
    theirs = lz4.block.compress(data, store_size=False, mode="high_compression" if hc else "default")
    assert _codecs.lz4_decompress_block(theirs, len(data)) == data


@settings(max_examples=60)
@given(payloads)
def test_zstd_frames_round_trip_with_numcodecs(data):
    frame = _codecs.zstd_compress_frame(data, 5, True)
    assert frame[4] & 0x04, "content checksum flag must be set"
    assert _codecs.zstd_decompress_frame(frame, len(data)) == data
    if data:  # numcodecs refuses empty frames
        assert bytes(numcodecs.Zstd(level=5).decode(frame)) == data
    theirs = numcodecs.Zstd(level=3, checksum=True).encode(data)
    assert _codecs.zstd_decompress_frame(theirs, len(data)) == data


def test_zstd_checksum_detects_a_flipped_byte():
    data = np.arange(100000, dtype=np.uint16).tobytes()
    frame = bytearray(_codecs.zstd_compress_frame(data, 5, True))
    frame[-2] ^= 0xFF  # inside the 4-byte content checksum
    with pytest.raises(CorruptFileError):
        _codecs.zstd_decompress_frame(bytes(frame), len(data))


@settings(max_examples=150)
@given(st.binary(max_size=300), st.integers(0, 100000))
def test_garbage_never_crashes_the_decoders(data, size):
    for decode in (_codecs.lz4_decompress_block, _codecs.zstd_decompress_frame):
        try:
            out = decode(data, size)
        except CorruptFileError:
            continue
        assert len(out) == size


def test_wrong_sizes_are_refused():
    block = _codecs.lz4_compress_block(b"a" * 1000)
    with pytest.raises(CorruptFileError):
        _codecs.lz4_decompress_block(block, 999)
    with pytest.raises(CorruptFileError):
        _codecs.lz4_decompress_block(block, 1001)
    with pytest.raises(ValueError):
        _codecs.lz4_decompress_block(block, -1)
