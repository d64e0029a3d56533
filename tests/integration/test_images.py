"""`Dataset.from_images` / `add_layer_from_images`: every format and option converted by
webknossos 4.3.3 and by wkpy in the same test, compared by properties JSON and voxels.

The JSON is compared whole (each side's dataset lies in a folder of the same name);
no field is left out. Images are tiny; the peer runs in-process (SequentialExecutor).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import wkpy as wk

webknossos = pytest.importorskip("webknossos")
tifffile = pytest.importorskip("tifffile")
Image = pytest.importorskip("PIL.Image")
mrcfile = pytest.importorskip("mrcfile")
h5py = pytest.importorskip("h5py")
from cluster_tools import SequentialExecutor  # noqa: E402  (comes with webknossos)


# zarr3 shards of webknossos' image default (4096 x 4096 x 32) take tensorstore half a
# minute to write even for a tiny image, so peer calls use small ones (the defaults are
# checked in test_zarr3_defaults_for_images)
SMALL = {"chunk_shape": 8, "shard_shape": 16}


# ---- running both ----------------------------------------------------------------------------
def _quietly(call: Any) -> Any:
    """Run `call()` with both libraries' progress and [INFO]/[WARNING] warnings ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


def _dataset_json(path: Path) -> dict[str, Any]:
    """The properties, layers sorted by name: `from_images` converts folders in natural
    order, webknossos in the order the file system lists them."""
    found = json.loads((path / "datasource-properties.json").read_text())
    found["dataLayers"].sort(key=lambda layer: layer["name"])
    return found


def _voxels(dataset: Any) -> dict[str, np.ndarray]:
    return {name: layer.get_finest_mag().read() for name, layer in sorted(dataset.layers.items())}


def _same(theirs: Path, ours: Path, voxels: bool = True) -> dict[str, np.ndarray]:
    """Assert equal properties JSON (and voxels) of every layer; return wkpy's voxels."""
    assert _dataset_json(ours) == _dataset_json(theirs)
    b = _voxels(wk.Dataset.open(ours))
    if voxels:
        a = _quietly(lambda: _voxels(webknossos.Dataset.open(theirs)))
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    return b


def add_both(tmp_path: Path, images: Any, layer_name: str = "layer", *, voxels: bool = True,
             **kwargs: Any) -> dict[str, np.ndarray]:
    """`add_layer_from_images` into a new dataset with each library; compare; wkpy's voxels."""
    theirs, ours = tmp_path / "wk" / "ds", tmp_path / "wkpy" / "ds"
    peer = webknossos.Dataset(theirs, (1, 1, 1))
    _quietly(lambda: peer.add_layer_from_images(images, layer_name, executor=SequentialExecutor(), **kwargs))
    mine = wk.Dataset(ours, (1, 1, 1))
    _quietly(lambda: mine.add_layer_from_images(images, layer_name, **kwargs))
    return _same(theirs, ours, voxels)


def from_both(tmp_path: Path, images: Any, mapping: str | None = None, **kwargs: Any) -> dict[str, np.ndarray]:
    """`Dataset.from_images` with each library (`mapping`: a `ConversionLayerMapping`
    name); compare; wkpy's voxels."""
    theirs, ours = tmp_path / "wk" / "ds", tmp_path / "wkpy" / "ds"
    peer_kwargs, my_kwargs = dict(kwargs), dict(kwargs)
    if mapping is not None:
        peer_kwargs["map_filepath_to_layer_name"] = getattr(webknossos.Dataset.ConversionLayerMapping, mapping)
        my_kwargs["map_filepath_to_layer_name"] = getattr(wk.Dataset.ConversionLayerMapping, mapping)
    _quietly(lambda: webknossos.Dataset.from_images(images, theirs, (1, 1, 1), executor=SequentialExecutor(),
                                                    **peer_kwargs))
    _quietly(lambda: wk.Dataset.from_images(images, ours, (1, 1, 1), **my_kwargs))
    return _same(theirs, ours)


def xyz(stack_zyx: np.ndarray) -> np.ndarray:
    """(z, y, x[, c]) images as (c, x, y, z)."""
    return (stack_zyx[..., np.newaxis] if stack_zyx.ndim == 3 else stack_zyx).transpose(3, 2, 1, 0)


# ---- images -------------------------------------------------------------------------------------
def ramp(shape: tuple[int, ...], dtype: str = "uint16") -> np.ndarray:
    """Distinct values everywhere (mod the dtype), so no axis mix-up passes by chance."""
    return (np.arange(int(np.prod(shape))) % np.iinfo(dtype).max).reshape(shape).astype(dtype)


@pytest.fixture
def stack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = ramp((6, 20, 28))  # z, y, x
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, data)
    return path, data


def png_folder(tmp_path: Path, shape: tuple[int, ...], count: int = 11, name: str = "pngs") -> tuple[Path, np.ndarray]:
    """`count` PNGs named img1 .. img{count} (natural order differs from sorted order)."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (count, *shape), dtype=np.uint8)
    folder = tmp_path / name
    folder.mkdir()
    for z, image in enumerate(images):
        Image.fromarray(image).save(folder / f"img{z + 1}.png")
    return folder, images


def write_mrc(path: Path, data: np.ndarray) -> Path:
    with mrcfile.new(str(path), overwrite=True) as mrc:
        mrc.set_data(data)
    return path


def _ims_text(value: Any) -> np.ndarray:
    return np.array(list(str(value)), dtype="S1")


def write_ims(path: Path, channels: list[np.ndarray], pad: int = 3) -> Path:
    """A minimal Imaris file: one timepoint, each channel (z, y, x) stored padded by `pad`
    voxels (as Imaris pads to its chunks), with the attributes Imaris readers use."""
    z, y, x = channels[0].shape
    with h5py.File(path, "w") as f:
        image = f.create_group("DataSetInfo").create_group("Image")
        for key, value in {"X": x, "Y": y, "Z": z, "ExtMin0": 0, "ExtMin1": 0, "ExtMin2": 0,
                           "ExtMax0": x, "ExtMax1": y, "ExtMax2": z, "Unit": "um"}.items():
            image.attrs[key] = _ims_text(value)
        point = f.create_group("DataSet").create_group("ResolutionLevel 0").create_group("TimePoint 0")
        for c, data in enumerate(channels):
            group = point.create_group(f"Channel {c}")
            stored = np.zeros((z + pad, y + pad, x + pad), data.dtype)
            stored[:z, :y, :x] = data
            stored[z:] = 99  # the padding must never be read
            group.create_dataset("Data", data=stored, chunks=(z + pad, y + pad, x + pad))
            for key, value in {"ImageSizeX": x, "ImageSizeY": y, "ImageSizeZ": z, "HistogramMin": 0,
                               "HistogramMax": int(data.max())}.items():
                group.attrs[key] = _ims_text(value)
    return path


# ---- TIFF stacks --------------------------------------------------------------------------------
@pytest.mark.parametrize("data_format", ["wkw", "zarr", "zarr3"])
def test_tiff_stack_in_each_format(tmp_path, stack, data_format):
    path, data = stack
    shapes = {"chunk_shape": 8} if data_format == "zarr" else SMALL   # Zarr v2: a shard is a chunk
    voxels = add_both(tmp_path, path, data_format=data_format, **shapes)
    np.testing.assert_array_equal(voxels["layer"], xyz(data))


@pytest.mark.parametrize("swap_xy, flip_x, flip_y, flip_z", [(False, True, False, False), (True, False, True, False),
                                                             (False, False, False, True), (True, True, True, True)])
def test_tiff_stack_swap_and_flips(tmp_path, stack, swap_xy, flip_x, flip_y, flip_z):
    path, data = stack
    voxels = add_both(tmp_path, path, data_format="zarr3", chunk_shape=(8, 8, 2), shard_shape=(16, 16, 2),
                      batch_size=2, swap_xy=swap_xy, flip_x=flip_x, flip_y=flip_y, flip_z=flip_z)
    expected = data[::-1 if flip_z else 1, ::-1 if flip_x else 1, ::-1 if flip_y else 1]
    np.testing.assert_array_equal(voxels["layer"][0], expected.transpose(1, 2, 0) if swap_xy else expected.T)


def test_tiff_stack_topleft_mag_dtype_and_uncompressed(tmp_path, stack):
    """Same JSON; the voxels are compared with the images, not with webknossos 4.3.3,
    which at a mag > 1 reads the slices of a z-batch at mag-1 positions and so
    overwrites slices 2, 3 with 4, 5 here (see the README's list of differences)."""
    path, data = stack
    voxels = add_both(tmp_path, path, data_format="wkw", chunk_shape=8, shard_shape=32, compress=False,
                      topleft=(4, 8, 12), mag=2, dtype="uint32", voxels=False)
    np.testing.assert_array_equal(voxels["layer"], xyz(data).astype("uint32"))
    layer = wk.Dataset.open(tmp_path / "wkpy" / "ds").get_layer("layer")
    assert layer.bounding_box == wk.BoundingBox((4, 8, 12), (56, 40, 12))
    assert not layer.get_mag(2).info.compression


def test_segmentation_gets_its_largest_segment_id(tmp_path):
    labels = (ramp((4, 16, 16), "uint32") // 40).astype("uint32")
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, labels, photometric="minisblack")
    add_both(tmp_path, path, category="segmentation", data_format="zarr3", **SMALL)
    layer = wk.Dataset.open(tmp_path / "wkpy" / "ds").get_layer("layer")
    assert layer.largest_segment_id == int(labels.max())


def test_imagej_hyperstack_channels_split_or_picked(tmp_path):
    data = ramp((4, 3, 10, 12))  # z, c, y, x (uint16: not RGB)
    path = tmp_path / "zcyx.tif"
    tifffile.imwrite(path, data, imagej=True)
    voxels = add_both(tmp_path, path, data_format="zarr3", **SMALL, allow_multiple_layers=True)
    assert sorted(voxels) == ["layer__channel0", "layer__channel1", "layer__channel2"]
    for c in range(3):
        np.testing.assert_array_equal(voxels[f"layer__channel{c}"][0], data[:, c].T)
    picked = add_both(tmp_path / "picked", path, data_format="zarr3", **SMALL, channel=2)
    np.testing.assert_array_equal(picked["layer"][0], data[:, 2].T)


def test_multi_channel_tiff_needs_a_split_in_both(tmp_path):
    path = tmp_path / "cyx.tif"
    tifffile.imwrite(path, ramp((3, 8, 16)), photometric="minisblack", metadata={"axes": "CYX"})
    from webknossos.dataset.errors import UnsupportedImageDataError as PeerError

    with pytest.raises(PeerError):
        _quietly(lambda: webknossos.Dataset(tmp_path / "a", (1, 1, 1)).add_layer_from_images(
            path, "color", executor=SequentialExecutor()))
    ours = wk.Dataset(tmp_path / "b", (1, 1, 1))
    with pytest.raises(wk.UnsupportedImageDataError, match="allow_multiple_layers") as caught:
        ours.add_layer_from_images(path, "color")
    assert isinstance(caught.value, ValueError)
    assert ours.layers == {}  # nothing half-made is left behind
    voxels = add_both(tmp_path / "split", path, data_format="wkw", allow_multiple_layers=True)
    assert len(voxels) == 3  # colored red, green, blue (compared in the JSON)


def test_rgb_tiff_and_three_uint8_channels_stay_one_layer(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    voxels = add_both(tmp_path / "a", tmp_path / "rgb.tif", data_format="zarr3", **SMALL, mag=2, topleft=(2, 4, 6))
    np.testing.assert_array_equal(voxels["layer"], xyz(rgb[np.newaxis]))
    theirs = _quietly(lambda: webknossos.Dataset.open(tmp_path / "a" / "wk" / "ds").get_layer("layer"))
    ours = wk.Dataset.open(tmp_path / "a" / "wkpy" / "ds").get_layer("layer")
    for part in ("topleft", "size"):   # c, x, y, z with c = 0 .. 3
        mine, peer = getattr(ours.normalized_bounding_box, part), getattr(theirs.normalized_bounding_box, part)
        assert (mine.axes, tuple(mine)) == (peer.axes, tuple(peer))
    tifffile.imwrite(tmp_path / "cyx.tif", rgb.transpose(2, 0, 1), photometric="minisblack",
                     metadata={"axes": "CYX"})
    add_both(tmp_path / "b", tmp_path / "cyx.tif", data_format="zarr3", **SMALL)


def test_imagej_virtual_stack(tmp_path):
    data = ramp((5, 9, 7))
    path = tmp_path / "virtual.tif"
    tifffile.imwrite(path, data, imagej=True, truncate=True, metadata={"axes": "ZYX"})
    voxels = add_both(tmp_path, path, data_format="wkw")
    np.testing.assert_array_equal(voxels["layer"], xyz(data))


def test_zarr3_defaults_for_images(tmp_path, stack):
    """As in webknossos 4.3.3: zarr3 shards one chunk deep (chunk_shape * (128, 128, 1)),
    one-voxel-deep chunks for a single slice; WKW keeps the usual 32³ chunks in 1024³ shards."""
    path, _ = stack
    ds = wk.Dataset(tmp_path / "ds", (1, 1, 1))
    info = ds.add_layer_from_images(path, "z", data_format="zarr3").get_finest_mag().info
    assert (info.chunk_shape, info.shard_shape) == ((32, 32, 32), (4096, 4096, 32))
    Image.fromarray(ramp((8, 8), "uint8")).save(tmp_path / "one.png")
    info = ds.add_layer_from_images(tmp_path / "one.png", "flat", data_format="zarr3").get_finest_mag().info
    assert (info.chunk_shape, info.shard_shape) == ((32, 32, 1), (4096, 4096, 1))
    info = ds.add_layer_from_images(path, "w", data_format="wkw").get_finest_mag().info
    assert (info.chunk_shape, info.shard_shape) == ((32, 32, 32), (1024, 1024, 1024))


# ---- folders of 2-D pictures ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(9, 14), (9, 14, 3), (9, 14, 4)], ids=["gray", "rgb", "rgba"])
def test_png_folder_in_natural_order(tmp_path, shape):
    folder, images = png_folder(tmp_path, shape)
    voxels = add_both(tmp_path, folder, data_format="wkw", chunk_shape=8, shard_shape=8, batch_size=8)
    np.testing.assert_array_equal(voxels["layer"], xyz(images[..., :3] if len(shape) == 3 else images))


def test_jpeg_and_tiff_slices_glob_and_list(tmp_path):
    rng = np.random.default_rng(5)
    slices = rng.integers(0, 256, (4, 8, 10), dtype=np.uint8)
    for z, image in enumerate(slices):
        Image.fromarray(image).save(tmp_path / f"s{z}.jpg", quality=95)
        tifffile.imwrite(tmp_path / f"t{z}.tif", image)
    add_both(tmp_path / "jpg", str(tmp_path / "s*.jpg"), data_format="zarr3", **SMALL)
    listed = [tmp_path / f"t{z}.tif" for z in (3, 1, 2)]  # a list keeps its order
    voxels = add_both(tmp_path / "tif", listed, data_format="zarr3", **SMALL, flip_z=True)
    np.testing.assert_array_equal(voxels["layer"], xyz(slices[[2, 1, 3]]))


def test_slices_of_different_sizes_are_padded(tmp_path):
    folder = tmp_path / "sizes"
    folder.mkdir()
    for z, (h, w) in enumerate([(6, 8), (10, 5), (7, 12)]):
        Image.fromarray(np.full((h, w), z + 1, np.uint8)).save(folder / f"{z}.png")
    voxels = add_both(tmp_path, folder, data_format="zarr3", **SMALL)
    assert voxels["layer"].shape == (1, 12, 10, 3)


def test_palette_and_16_bit_pictures(tmp_path):
    gray16 = ramp((1, 8, 9))[0]
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    add_both(tmp_path / "a", tmp_path / "g16.png", data_format="zarr3", **SMALL)
    palette = Image.fromarray(np.random.default_rng(2).integers(0, 256, (8, 9, 3), dtype=np.uint8)).convert("P")
    palette.save(tmp_path / "p.png")
    add_both(tmp_path / "b", tmp_path / "p.png", data_format="wkw")


# ---- volumes with metadata: MRC, IMS, CZI --------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_mrc_in_each_voxel_type(tmp_path, dtype):
    data = ramp((5, 12, 20), "uint8").astype(dtype)
    path = write_mrc(tmp_path / "v.mrc", data)
    voxels = add_both(tmp_path, path, data_format="zarr3", chunk_shape=8, shard_shape=16)
    np.testing.assert_array_equal(voxels["layer"], xyz(data))


@pytest.mark.parametrize("options", [dict(flip_x=True, flip_y=True),
                                     dict(swap_xy=True, flip_x=True, flip_z=True, mag=2)])
def test_mrc_flips_mirror_the_whole_volume(tmp_path, options):
    data = ramp((6, 24, 40))
    path = write_mrc(tmp_path / "v.mrc", data)
    add_both(tmp_path, path, data_format="zarr3", chunk_shape=8, shard_shape=16, **options)


def test_mrc_single_section_and_category_guess(tmp_path):
    """The path decides the category: a file named labels is a segmentation, a file of
    few ids named otherwise stays color (webknossos 4.3.3 checks the data, but its
    switch fails, so the path decides there too)."""
    labels = (ramp((1, 16, 16), "uint16") // 64).astype("uint16")
    add_both(tmp_path / "a", write_mrc(tmp_path / "labels.mrc", labels), data_format="zarr3", category=None,
             **SMALL)
    assert wk.Dataset.open(tmp_path / "a" / "wkpy" / "ds").get_layer("layer").category == "segmentation"
    cells = np.repeat(np.repeat(ramp((8, 4, 4), "uint16") % 5, 8, axis=1), 8, axis=2)  # few ids in big blocks
    add_both(tmp_path / "b", write_mrc(tmp_path / "cells.mrc", cells), data_format="zarr3", category=None,
             **SMALL)
    assert wk.Dataset.open(tmp_path / "b" / "wkpy" / "ds").get_layer("layer").category == "color"


def test_ims_channels(tmp_path):
    pytest.importorskip("imaris_ims_file_reader")  # webknossos reads .ims metadata with it
    channels = [ramp((5, 12, 18)), ramp((5, 12, 18))[::-1].copy()]
    path = write_ims(tmp_path / "two.ims", channels)
    voxels = add_both(tmp_path / "split", path, data_format="zarr3", allow_multiple_layers=True, chunk_shape=8,
                      shard_shape=16, flip_y=True, swap_xy=True)
    assert sorted(voxels) == ["layer__channel0", "layer__channel1"]
    one = add_both(tmp_path / "one", path, data_format="wkw", channel=1)
    np.testing.assert_array_equal(one["layer"], xyz(channels[1]))


def test_czi_acquisition_channels(tmp_path):
    pyczi = pytest.importorskip("pylibCZIrw.czi")
    data = ramp((2, 3, 8, 10))  # czi channel, z, y, x
    path = tmp_path / "two.czi"
    with pyczi.create_czi(str(path)) as writer:
        for c in range(2):
            for z in range(3):
                writer.write(data[c, z][:, :, np.newaxis], plane={"C": c, "Z": z, "T": 0})
    voxels = add_both(tmp_path / "split", path, data_format="zarr3", allow_multiple_layers=True, flip_x=True,
                      **SMALL)
    assert sorted(voxels) == ["layer__czi_channel0", "layer__czi_channel1"]
    picked = add_both(tmp_path / "one", path, data_format="zarr3", czi_channel=1, chunk_shape=8, shard_shape=16)
    np.testing.assert_array_equal(picked["layer"], xyz(data[1]))


# ---- from_images --------------------------------------------------------------------------------
def test_from_images_one_layer_per_folder_with_guessed_categories(tmp_path):
    root = tmp_path / "input"
    root.mkdir()
    color, _ = png_folder(root, (10, 12), count=4, name="color")
    labels = root / "labels"
    labels.mkdir()
    for z in range(4):
        tifffile.imwrite(labels / f"l{z}.tif", (ramp((10, 12), "uint16") // 30).astype("uint16"))
    from_both(tmp_path, root, data_format="zarr3", **SMALL)
    ours = wk.Dataset.open(tmp_path / "wkpy" / "ds")
    assert {n: layer.category for n, layer in ours.layers.items()} == {"color": "color", "labels": "segmentation"}


@pytest.mark.parametrize("mapping", ["ENFORCE_LAYER_PER_FILE", "ENFORCE_SINGLE_LAYER",
                                     "ENFORCE_LAYER_PER_TOPLEVEL_FOLDER", "INSPECT_EVERY_FILE"])
def test_from_images_mappings(tmp_path, mapping):
    root = tmp_path / "input"
    (root / "a" / "deep").mkdir(parents=True)
    (root / "b").mkdir()
    for i, folder in enumerate([root / "a", root / "a" / "deep", root / "b"]):
        tifffile.imwrite(folder / f"x{i}.tif", ramp((8, 8), "uint8") + i)
    from_both(tmp_path, root, mapping, data_format="wkw", layer_category="color", layer_name="img")


def test_from_images_single_stack_file_with_options(tmp_path, stack):
    path, _ = stack
    from_both(tmp_path, path, data_format="zarr3", chunk_shape=8, shard_shape=16, compress=False, swap_xy=True,
              flip_z=True, layer_category="color")


# ---- errors -------------------------------------------------------------------------------------
def test_errors_are_typed_and_name_the_file(tmp_path):
    ds = wk.Dataset(tmp_path / "ds", (1, 1, 1))
    unknown = tmp_path / "scan.dcm"
    unknown.write_bytes(b"\0" * 64)
    with pytest.raises(wk.UnsupportedImageFormatError) as caught:
        ds.add_layer_from_images(unknown, "a")
    assert caught.value.file_extension == "dcm" and caught.value.path == unknown
    assert caught.value.missing_extras == () and "tif" in caught.value.supported_file_extensions
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    with pytest.raises(wk.CorruptImageError, match="broken.tif") as corrupt:
        ds.add_layer_from_images(broken, "a")
    assert corrupt.value.path == broken and corrupt.value.__cause__ is not None
    empty_mrc = tmp_path / "broken.mrc"
    empty_mrc.write_bytes(b"\0" * 2048)
    with pytest.raises(wk.CorruptImageError):
        ds.add_layer_from_images(empty_mrc, "a")
    with pytest.raises(wk.ImagesNotFoundError) as missing:
        ds.add_layer_from_images(tmp_path / "nothing.tif", "a")
    assert isinstance(missing.value, FileNotFoundError) and isinstance(missing.value, ValueError)
    assert not isinstance(missing.value, wk.ImageConversionError)
    floats = tmp_path / "float.tif"
    tifffile.imwrite(floats, np.zeros((4, 4), np.float32))
    with pytest.raises(wk.UnsupportedImageDataError, match="float32"):
        ds.add_layer_from_images(floats, "seg", category="segmentation")
    with pytest.raises(wk.UnsupportedImageFormatError, match="Could not find any supported image data"):
        wk.Dataset.from_images(unknown, tmp_path / "none", (1, 1, 1))
    with pytest.raises(wk.InvalidRequestError, match="cubic"):   # fails after the layer was made (an AssertionError, as there)
        ds.add_layer_from_images(floats, "flat", data_format="wkw", chunk_shape=8, shard_shape=(16, 16, 8))
    assert ds.layers == {} and not (tmp_path / "ds" / "flat").exists()
    assert issubclass(wk.UnsupportedImageFormatError, wk.UnsupportedError)
    assert issubclass(wk.CorruptImageError, wk.CorruptFileError)
    assert wk.dataset.UnsupportedImageDataError is wk.UnsupportedImageDataError


def _tiff_claiming(path: Path, width: int, height: int) -> Path:
    """An 8 × 8 uncompressed TIFF whose header claims `width` × `height` pixels."""
    import struct

    tifffile.imwrite(path, np.zeros((8, 8), np.uint8))
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        tag = struct.unpack("<H", data[entry:entry + 2])[0]
        value = {256: width, 257: height, 278: height}.get(tag)
        if value is not None:   # ImageWidth, ImageLength, RowsPerStrip as LONG
            data[entry + 2:entry + 4] = struct.pack("<H", 4)
            data[entry + 8:entry + 12] = struct.pack("<I", value)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("how", ["stack", "sequence", "zip"])
def test_images_whose_header_lies_about_their_size_raise_before_allocating(tmp_path, how):
    """A TIFF header claiming 10^12 pixels (or 10^8 over 64 stored bytes) is refused with a
    typed error naming the file, before anything that size is allocated."""
    ds = wk.Dataset(tmp_path / "ds", (1, 1, 1))
    huge = _tiff_claiming(tmp_path / "huge.tif", 1_000_000, 1_000_000)
    short = _tiff_claiming(tmp_path / "short.tif", 10_000, 10_000)
    for liar, error in ((huge, wk.UnsupportedImageDataError), (short, wk.CorruptImageError)):
        if how == "stack":
            images: Any = liar
        elif how == "sequence":
            good = tmp_path / "good.tif"
            tifffile.imwrite(good, np.zeros((8, 8), np.uint8))
            images = [good, liar]
        else:
            import zipfile

            from wkpy.dataset._image_conversion.common_slice_readers import MultiImageSliceReader

            archive_path = tmp_path / f"{liar.stem}.zip"
            with zipfile.ZipFile(archive_path, "w") as archive:
                archive.write(liar, liar.name)
            with pytest.raises(error, match=liar.name):
                MultiImageSliceReader(archive_path)
            continue
        with pytest.raises(error, match=liar.name):
            ds.add_layer_from_images(images, "a")
        assert ds.layers == {} and not (tmp_path / "ds" / "a").exists()


def test_a_killed_conversion_leaves_no_layer_and_the_next_one_succeeds(tmp_path):
    """SIGKILL after the first batch of slices is written: the layer is not listed (it is
    built in a hidden staging folder and listed once complete), reopening the dataset
    removes the staging folder, and the conversion then runs again under the same name."""
    import signal

    stack = np.arange(6 * 5 * 7, dtype=np.uint8).reshape(6, 5, 7) + 1   # (z, y, x), never 0
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    ds_path = tmp_path / "ds"
    wk.Dataset(ds_path, (1, 1, 1)).add_layer("keep", "color")
    code = ("import os, signal, wkpy as wk\n"
            "from wkpy.dataset._image_conversion.sliced_image_source import SlicedImageSource as S\n"
            "original = S.copy_chunk_to_view\n"
            "def copy_then_die(self, *a, **k):\n"
            "    original(self, *a, **k)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "S.copy_chunk_to_view = copy_then_die\n"
            f"wk.Dataset.open({str(ds_path)!r}).add_layer_from_images({str(tmp_path / 'stack.tif')!r}, 'a', "
            "batch_size=2, executor=__import__('cluster_tools').SequentialExecutor())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    ds = wk.Dataset.open(ds_path)
    assert set(ds.layers) == {"keep"}, "a killed conversion left a listed, half-converted layer"
    assert sorted(p.name for p in ds_path.iterdir() if p.name.startswith(".")) == []
    layer = ds.add_layer_from_images(tmp_path / "stack.tif", "a", batch_size=2)
    np.testing.assert_array_equal(layer.get_finest_mag().read()[0], stack.transpose(2, 1, 0))
    assert sorted(p.name for p in ds_path.iterdir() if p.name.startswith(".")) == []


def test_missing_optional_package_is_named(tmp_path):
    """With mrcfile not importable, .mrc files are unsupported with a hint naming it."""
    (tmp_path / "v.mrc").write_bytes(b"\0" * 1024)
    code = (
        "import sys; sys.modules['mrcfile'] = None\n"
        "import wkpy as wk\n"
        "try:\n"
        f"    wk.Dataset.from_images({str(tmp_path)!r}, {str(tmp_path / 'ds')!r}, (1, 1, 1))\n"
        "except wk.UnsupportedImageFormatError as e:\n"
        "    print(e.missing_extras, e.found_file_extensions, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "('mrcfile',) ('mrc',)" in out and "mrcfile" in out and 'wkpy[mrcfile]' in out


# ---- executors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_parts_run_on_any_executor(tmp_path, stack, kind):
    path, data = stack
    mrc = write_mrc(tmp_path / "v.mrc", ramp((8, 20, 36)))
    pool = ThreadPoolExecutor(2) if kind == "threads" else ProcessPoolExecutor(2)
    with pool:
        ds = wk.Dataset(tmp_path / "ds", (1, 1, 1))
        tif = ds.add_layer_from_images(path, "tif", data_format="zarr3", chunk_shape=8, shard_shape=16,
                                       batch_size=2, executor=pool)
        vol = ds.add_layer_from_images(mrc, "mrc", data_format="wkw", chunk_shape=8, shard_shape=16, mag=2,
                                       compress=True, executor=pool)
    np.testing.assert_array_equal(tif.get_finest_mag().read(), xyz(data))
    np.testing.assert_array_equal(vol.get_finest_mag().read(), xyz(ramp((8, 20, 36))))
    assert vol.bounding_box == wk.BoundingBox((0, 0, 0), (72, 40, 16))
