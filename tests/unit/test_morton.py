"""Morton order: the FORMATS.md vectors and a bit-by-bit oracle."""

import pytest
from hypothesis import given, strategies as st

from wkcore import _morton

VECTORS = [((0, 0, 0), 0), ((1, 0, 0), 1), ((0, 1, 0), 2), ((1, 1, 0), 3), ((0, 0, 1), 4),
           ((1, 1, 1), 7), ((2, 0, 0), 8), ((3, 5, 7), 431), ((31, 31, 31), 32767)]


def oracle(x: int, y: int, z: int) -> int:
    out = 0
    for i in range(21):
        out |= ((x >> i) & 1) << (3 * i) | ((y >> i) & 1) << (3 * i + 1) | ((z >> i) & 1) << (3 * i + 2)
    return out


@pytest.mark.parametrize("xyz,index", VECTORS)
def test_conformance_vectors(xyz, index):
    assert _morton.encode(*xyz) == index
    assert _morton.decode(index) == xyz


coord = st.integers(0, 2**21 - 1)


@given(coord, coord, coord)
def test_encode_matches_oracle_and_decodes_back(x, y, z):
    m = _morton.encode(x, y, z)
    assert m == oracle(x, y, z)
    assert _morton.decode(m) == (x, y, z)


@pytest.mark.parametrize("bad", [(-1, 0, 0), (0, 2**21, 0), (0, 0, 2**40)])
def test_out_of_range_coordinates_raise(bad):
    with pytest.raises(ValueError):
        _morton.encode(*bad)


def test_blocks_in_file_order_are_sorted_by_morton_and_cover_the_box():
    blocks = _morton.blocks_in_file_order((1, 0, 2), (4, 3, 4))
    assert len(blocks) == 3 * 3 * 2
    assert [b[0] for b in blocks] == sorted(b[0] for b in blocks)
    assert {b[1:] for b in blocks} == {(x, y, z) for x in range(1, 4) for y in range(3) for z in range(2, 4)}
    assert all(b[0] == oracle(*b[1:]) for b in blocks)
