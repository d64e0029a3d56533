"""`LayerExport` (``layer.export``): a layer's voxels as an OME-Zarr zip, a TIFF stack or an
OME-TIFF, as in webknossos 4.3.3.

Every export reads the layer through its `MagView` in bounded pieces (one target shard
per task for the zip, slabs of a few slices for the TIFFs) and writes only at the output
path the caller gave: files appear there complete (written under a hidden temporary
name beside it, then renamed), the zip's arrays are built in a hidden folder beside it
(removed afterwards; what a killed export left there is removed by the next export to
that output, unless its lock shows it still in use), and nothing is ever written into
the layer's dataset.

Layers with additional axes (e.g. t) are exported as webknossos 4.3.3 exports them: the
zip holds arrays over all the layer's axes (moved to the origin along each), the TIFF
stack one file per z slice and position (``t0_z00.tiff``), the OME-TIFF the axes c, t, z,
y, x that the layer has (others are refused).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wkpy._paths import is_inside
from wkpy._urls import local_path
from wkpy.locking import lock_file_for, path_lock, try_path_lock
from wkpy.dataset._utils.ozx import write_ozx
from wkpy.dataset.defaults import DEFAULT_CHUNK_SHAPE, DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES, \
    DEFAULT_SHARD_SHAPE, DEFAULT_SHARD_SHAPE_FROM_IMAGES
from wkpy.dataset.ome_metadata import ome_tiff_metadata
from wkpy.errors import InvalidRequestError
from wkpy.geometry import BoundingBox, Mag, MagLike, NDBoundingBox, Vec3Int, Vec3IntLike
from wkpy.dataset.layer.view.view import MAX_CHUNKS, box_in_mag

if TYPE_CHECKING:
    from wkpy.dataset.layer.layer import Layer
    from wkpy.dataset.layer.view.mag_view import MagView

__all__ = ["LayerExport"]

# the pyramid of as_ome_tiff: up to this many levels, each halving x and y, while both
# stay above the pixel count below (as webknossos 4.3.3)
OME_TIFF_DOWNSAMPLING_STEPS = 5
OME_TIFF_DOWNSAMPLING_MIN_PIXEL = 16

# Bytes of voxels the TIFF exports hold at once: a slab of slices is at most this large
# (but at least one slice), and an OME-TIFF export smaller than this is read only once.
SLAB_BYTES = 256 << 20

_CXYZ = ("c", "x", "y", "z")
# the axes an OME-TIFF can hold, with their letters (as webknossos 4.3.3)
_OME_TIFF_AXES = {"c": "C", "t": "T", "z": "Z", "y": "Y", "x": "X"}


class LayerExport:
    """Exports of one layer's voxels to files other tools read: ``layer.export``.

    - `as_ozx`: one zipped OME-Zarr file (NGFF RFC-9, ``.ozx``), with a pyramid of mags;
    - `as_tiff_stack`: a folder of 2-D TIFF files, one per z slice;
    - `as_ome_tiff`: one OME-TIFF file (3-D, with x/y pyramid levels).

    Each takes a `bounding_box` (mag-1 voxels; cut down to the layer's box) and a `mag` to
    read (default: the finest). Outputs inside the layer's dataset are refused.
    """

    def __init__(self, layer: Layer) -> None:
        self._layer = layer

    def __repr__(self) -> str:
        return f"LayerExport({self._layer!r})"

    # ---- OME-Zarr zip -------------------------------------------------------------------
    def as_ozx(
        self,
        *,
        output_path: str | os.PathLike[str],
        bounding_box: BoundingBox | None = None,
        mag: MagLike | None = None,
        downsample: bool = True,
        access_mode: Any = None,
        shard_shape: Vec3IntLike | int | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Write the layer as one zipped OME-Zarr file (NGFF RFC-9, "Zipped OME-Zarr").

        The archive holds a Zarr v3 group with OME-NGFF 0.5 multiscales metadata and one
        sharded array per mag, (c, x, y, z) -- for a layer with additional axes, its axes
        in its order, e.g. (t, x, y, z) -- whatever the layer's own format. Its root is
        the group's ``zarr.json``; every ``zarr.json`` comes first (breadth first), then
        the shard files; entries are stored uncompressed with ZIP64 headers, and the
        archive comment is ``{"ome": {"version": "0.5"}, "jsonFirst": true}``, as in
        webknossos 4.3.3.

        Parameters
        ----------
        output_path : path of the ``.ozx`` file; an existing file there is replaced once
            the new one is complete.
        bounding_box : the region to export (mag-1 voxels), cut down to the layer's box;
            default the layer's box. The export is moved to the origin (along every axis).
            An `NDBoundingBox` also cuts the additional axes it names.
        mag : the mag to read (default: the finest); it becomes the archive's finest mag.
        downsample : also store coarser mags, computed from the exported data as
            `Layer.downsample` does (anisotropic sampling; constant z for one slice).
        access_mode : for remote layers in webknossos; must be None here.
        shard_shape : shard shape (voxels of each mag) of every stored mag. Default: per
            mag the smallest power of two from the chunk shape (32) up that covers the
            export, at most 1024³ (for exports up to 32 slices deep: 4096 × 4096 × 32).
        executor : runs the copy and downsampling tasks (default: a thread pool).

        Raises
        ------
        InvalidRequestError
            The box misses the layer's box, `access_mode` is given, or the output lies
            inside the dataset or is a folder (also a `ValueError`).
        MissingLayerError
            The layer has no such mag (or none at all).
        UnsupportedError
            `output_path` is a URL (``s3://...``, a remote ``UPath``): exports are local.
        """
        from wkpy.copy import copy_mag_data
        from wkpy.dataset.dataset import Dataset

        out = _output_file(self._layer, output_path)
        source = _source_mag(self._layer, mag, access_mode)
        export_mag = source.mag
        box = _export_box(self._layer, bounding_box)
        target_box = box.with_topleft((0,) * len(box.axes))
        box_xyz, target_xyz = BoundingBox.from_ndbbox(box), BoundingBox.from_ndbbox(target_box)
        coarser = _pyramid_mags(export_mag, target_xyz.size, self._layer.dataset.voxel_size) if downsample else []
        fixed = None if shard_shape is None else Vec3Int.from_vec_or_int(shard_shape)

        def shard_for(m: Mag) -> Vec3Int:
            if fixed is not None:
                return fixed
            extent = box_in_mag(target_xyz.align_with_mag(m, ceil=True), m).size
            return _covering_shard_shape(extent)

        layer = self._layer
        with _staging_folder(out) as stage:
            staged = Dataset(stage, voxel_size_with_unit=layer.dataset.voxel_size_with_unit)
            staged_layer = staged.add_layer(
                layer.name, layer.category, dtype=layer.dtype, num_channels=layer.num_channels,  # type: ignore[arg-type]
                data_format="zarr3", bounding_box=target_box,
                largest_segment_id=getattr(layer, "largest_segment_id", None))
            target = staged_layer.add_mag(export_mag, shard_shape=shard_for(export_mag))
            # the source box rounded out to the mag from where it lies, the target from 0 (along
            # the additional axes too)
            region = box_in_mag(box_xyz.align_with_mag(export_mag, ceil=True), export_mag)
            extent = box_in_mag(target_xyz.align_with_mag(export_mag, ceil=True), export_mag).size
            extra = source._array.info.extra_axes
            copy_mag_data(source, target._array, executor, f"exporting {layer.name}/{export_mag.to_layer_name()}",
                          region=region.with_size(extent), to=Vec3Int(0, 0, 0),
                          extra_region=[box.get_bounds(a) for a in extra] if extra else None,
                          extra_to=(0,) * len(extra))
            for prev, m in zip([export_mag, *coarser], coarser):
                staged_layer.downsample_mag(prev, m, shard_shape=shard_for(m), executor=executor)
            with _temporary_sibling(out) as tmp:
                write_ozx(staged_layer.path, tmp, ome_version="0.5")

    # ---- TIFF ---------------------------------------------------------------------------
    def as_tiff_stack(
        self,
        *,
        output_path: str | os.PathLike[str],
        bounding_box: BoundingBox | None = None,
        mag: MagLike | None = None,
        filename_prefix: str = "",
        access_mode: Any = None,
    ) -> None:
        """Write one 2-D TIFF file per z slice into the folder `output_path` (created).

        A file holds a (y, x) image, or (y, x, c) for several channels; segmentation
        layers are zlib-compressed. Files are named ``{z}.tiff`` or
        ``{filename_prefix}_{z}.tiff``, where z is the slice's mag-1 coordinate,
        zero-padded to the digits of the largest z of the layer or the export, as in
        webknossos 4.3.3. A layer with additional axes gets one file per slice and
        position along them, named ``t0_z07.tiff`` (the additional axes by name, each
        number padded to the digits of the largest index of the layer or the export).
        Files of those names are replaced; other files stay.

        Parameters
        ----------
        output_path : the folder.
        bounding_box : region to export (mag-1 voxels), cut down to the layer's box and
            rounded out to `mag`; default the layer's box.
        mag : the mag to read (default: the finest).
        filename_prefix : put before each file's number, with ``_``.
        access_mode : for remote layers in webknossos; must be None here.

        Raises
        ------
        InvalidRequestError
            The box misses the layer's box, `access_mode` is given, `filename_prefix` is
            not a plain name, the folder lies inside the dataset or is a file, or the
            box holds more than `MAX_CHUNKS` planes (z slices times positions).
        MissingLayerError
            The layer has no such mag.
        UnsupportedError
            `output_path` is a URL (``s3://...``, a remote ``UPath``): exports are local.
        """
        import io

        import tifffile

        from wkpy._paths import write_file_atomic

        layer = self._layer
        folder = _output_path(layer, output_path)
        if folder.exists() and not folder.is_dir():
            raise InvalidRequestError(f"as_tiff_stack writes into a folder; {folder} is a file")
        if filename_prefix and (os.sep in filename_prefix or "/" in filename_prefix or "\0" in filename_prefix):
            raise InvalidRequestError(f"filename_prefix {filename_prefix!r} must be part of a file name, "
                                      "without '/' or NUL")
        source = _source_mag(layer, mag, access_mode)
        box = _export_box(layer, bounding_box).align_with_mag(source.mag, ceil=True)
        compression = "zlib" if layer.category == "segmentation" else None
        last_z = max(layer.bounding_box.bottomright_xyz.z, box.bottomright_xyz.z) - 1
        digits = max(1, len(str(max(last_z, 0))))
        planes = _Planes(source, box)
        named = sorted(planes.extra)              # file names list the additional axes by name
        layer_box = layer.bounding_box
        width = {a: max(1, len(str(max(box.get_bounds(a)[1] - 1, layer_box.get_bounds(a)[1] - 1, 0))))
                 for a in named}
        folder.mkdir(parents=True, exist_ok=True)
        for combo in itertools.product(*(range(*box.get_bounds(a)) for a in named)):
            at = dict(zip(named, combo))
            position = tuple(at[a] for a in planes.extra)
            for i in range(planes.depth):
                plane = planes(position, i)
                z = box.topleft_xyz.z + i * source.mag.z
                name = "_".join([*(f"{a}{at[a]:0{width[a]}d}" for a in named), f"{'z' if named else ''}{z:0{digits}d}"])
                image = plane[0].T if plane.shape[0] == 1 else plane.transpose(2, 1, 0)
                buffer = io.BytesIO()
                tifffile.imwrite(buffer, image, compression=compression)
                write_file_atomic(folder / (f"{filename_prefix}_{name}.tiff" if filename_prefix else f"{name}.tiff"),
                                  buffer.getvalue())

    def as_ome_tiff(
        self,
        *,
        output_path: str | os.PathLike[str],
        bounding_box: BoundingBox | None = None,
        mag: MagLike | None = None,
        downsample: bool = True,
        access_mode: Any = None,
    ) -> None:
        """Write the layer as one (Big)TIFF file of (c, z, y, x) planes with OME metadata
        (for a layer with additional axes: its axes but x and y in its order, then y, x,
        e.g. (t, z, y, x), as webknossos 4.3.3 writes them).

        The physical voxel size (nm, times the mag) goes into the OME-XML when the name
        ends in ``.ome.tif``/``.ome.tiff`` (else into tifffile's JSON description, as
        tifffile decides for webknossos 4.3.3), and into the resolution tags. With
        `downsample`, each plane gets up to 5 SubIFD levels, each halving x and y (by
        taking every 2nd, 4th, ... voxel) while both stay above 16 voxels. Segmentation
        layers are zlib-compressed. The planes are read and written slab by slab.

        Parameters
        ----------
        output_path : path of the file; an existing file there is replaced once the new
            one is complete.
        bounding_box : region to export (mag-1 voxels), cut down to the layer's box and
            rounded out to `mag`; default the layer's box.
        mag : the mag to read (default: the finest).
        downsample : write the x/y pyramid levels.
        access_mode : for remote layers in webknossos; must be None here.

        Raises
        ------
        InvalidRequestError
            The box misses the layer's box, `access_mode` is given, the output lies
            inside the dataset or is a folder, or the layer has an axis other than c, t,
            x, y, z (a `ValueError`, as in webknossos), or the box holds more than
            `MAX_CHUNKS` planes.
        MissingLayerError
            The layer has no such mag.
        UnsupportedError
            `output_path` is a URL (``s3://...``, a remote ``UPath``): exports are local.
        """
        import tifffile

        layer = self._layer
        out = _output_file(layer, output_path)
        source = _source_mag(layer, mag, access_mode)
        box = _export_box(layer, bounding_box).align_with_mag(source.mag, ceil=True)
        axes = _CXYZ if isinstance(box, BoundingBox) else box.axes
        unsupported = [a for a in axes if a not in _OME_TIFF_AXES]
        if unsupported:
            raise InvalidRequestError(f"as_ome_tiff does not support the axes {unsupported} of layer {layer.name!r}: "
                                      f"an OME-TIFF holds the axes c, t, z, y, x only (as in webknossos)")
        size = box_in_mag(BoundingBox.from_ndbbox(box), source.mag).size
        channels = layer.num_channels
        planes = _Planes(source, box)
        # the page axes: the array's axes but x and y, in its order (c first for 3-D layers)
        leading = tuple(a for a in axes if a not in ("x", "y"))
        extent = {"c": channels, "z": size.z, **{a: box.get_bounds(a)[1] - box.get_bounds(a)[0] for a in planes.extra}}
        compression = "zlib" if layer.category == "segmentation" else None
        voxel_nm = [v * m for v, m in zip(layer.dataset.voxel_size_with_unit.to_nanometer(), source.mag.to_list())]
        factors = [f for f in (2 ** (step + 1) for step in range(OME_TIFF_DOWNSAMPLING_STEPS))
                   if downsample and size.y // f > OME_TIFF_DOWNSAMPLING_MIN_PIXEL
                   and size.x // f > OME_TIFF_DOWNSAMPLING_MIN_PIXEL]
        starts = {a: box.get_bounds(a)[0] for a in planes.extra}

        def pages(step: int) -> Iterator[np.ndarray]:
            for index in itertools.product(*(range(extent[a]) for a in leading)):
                at = dict(zip(leading, index))
                plane = planes(tuple(starts[a] + at[a] for a in planes.extra), at["z"])
                yield np.ascontiguousarray(plane[at.get("c", 0), ::step, ::step].T)

        name, ext = os.path.splitext(out.name.lower())
        common: dict[str, Any] = {"dtype": layer.dtype, "photometric": "minisblack",
                                  "resolutionunit": "CENTIMETER", "compression": compression}
        shape = tuple(extent[a] for a in leading)
        letters = "".join(_OME_TIFF_AXES[a] for a in (*leading, "y", "x"))
        with _temporary_sibling(out) as tmp, tifffile.TiffWriter(tmp, bigtiff=True,
                                                                 ome=bool(ext) and name.endswith(".ome")) as tif:
            tif.write(pages(1), shape=(*shape, size.y, size.x), subifds=len(factors),
                      resolution=(voxel_nm[0] / 1e7, voxel_nm[1] / 1e7),
                      metadata=ome_tiff_metadata(voxel_nm, channels, letters), **common)
            for f in factors:
                tif.write(pages(f), shape=(*shape, -(-size.y // f), -(-size.x // f)), subfiletype=1,
                          resolution=(f * voxel_nm[0] / 1e7, f * voxel_nm[1] / 1e7), **common)


# ---- helpers --------------------------------------------------------------------------
def _source_mag(layer: Layer, mag: MagLike | None, access_mode: Any) -> MagView:
    if access_mode is not None:
        raise InvalidRequestError("access_mode can only be passed for remote layers; "
                                  f"layer {layer.name!r} is local")
    if mag is None:
        return layer.get_finest_mag()
    return layer.get_mag(mag)


def _export_box(layer: Layer, bounding_box: NDBoundingBox | None) -> NDBoundingBox:
    """The requested box (default: the layer's) cut down to the layer's box (mag 1).

    For a 3-D layer a `BoundingBox`: of an `NDBoundingBox` only x, y and z count (all
    channels are exported; axes the layer lacks are ignored, as in webknossos 4.3.3).
    For an n-d layer an `NDBoundingBox` over the layer's axes, c spanning every channel,
    each other axis cut to the request's bounds where the request names it.

    Raises
    ------
    InvalidRequestError
        Nothing is left (the box misses the layer's box, or the layer's box is empty).
    """
    layer_box = layer.bounding_box
    if bounding_box is None:
        found = layer_box
    elif isinstance(layer_box, BoundingBox):
        requested = BoundingBox(bounding_box.topleft_xyz, bounding_box.size_xyz)
        found = requested.intersected_with(layer_box, dont_assert=True)
    else:
        found = layer_box
        for axis in bounding_box.axes:
            if axis != "c" and axis in layer_box.axes:
                (lo, hi), (want_lo, want_hi) = layer_box.get_bounds(axis), bounding_box.get_bounds(axis)
                start = max(lo, want_lo)
                found = found.with_bounds(axis, start, max(min(hi, want_hi) - start, 0))
    if found.is_empty():
        raise InvalidRequestError(f"nothing to export: the box {bounding_box} does not overlap the box "
                                  f"{layer_box} of layer {layer.name!r}" if bounding_box is not None else
                                  f"nothing to export: layer {layer.name!r} has an empty bounding box")
    return found


def _output_path(layer: Layer, output_path: str | os.PathLike[str]) -> Path:
    """`output_path`, unless it lies in the layer's dataset or in data the layer reads."""
    path = local_path(output_path, "target of an export")
    roots = [layer.dataset.path, layer.path, *(view.path for view in layer.mags.values())]
    for root in (r for r in roots if isinstance(r, Path)):     # (a local target lies in no remote root)
        if os.path.lexists(root) and is_inside(root, path):
            raise InvalidRequestError(f"refusing to export to {path}: it lies inside {root}, which the layer "
                                      f"{layer.name!r} reads; an export never writes into a dataset")
    return path


def _output_file(layer: Layer, output_path: str | os.PathLike[str]) -> Path:
    path = _output_path(layer, output_path)
    if path.is_dir():
        raise InvalidRequestError(f"refusing to export to {path}: it is a folder")
    return path


_LEFTOVER_KINDS = ("tmp", "wkpy-export")


def _leftover_name(path: Path, kind: str) -> Path:
    """A fresh hidden sibling of `path` for a file (``tmp``) or folder (``wkpy-export``)
    an export builds; `_sweep_leftovers` recognises the pattern."""
    parent = path.parent if path.parent.parts else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    return parent / f".{path.name}.{secrets.token_hex(6)}.{kind}"


def _sweep_leftovers(path: Path) -> None:
    """Remove what a killed export to `path` left beside it: hidden temporary files and
    staging folders (a whole copy of the exported data) whose lock no live export holds."""
    parent = path.parent if path.parent.parts else Path(".")
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.[0-9a-f]{{12}}\.({'|'.join(_LEFTOVER_KINDS)})$")
    try:
        names = [n for n in os.listdir(parent) if pattern.match(n)]
    except OSError:
        return
    for name in names:
        with try_path_lock(lock_file_for(parent, name)) as taken:
            if taken:
                leftover = parent / name
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()


@contextmanager
def _held(leftover: Path) -> Iterator[None]:
    """Hold the lock that tells `_sweep_leftovers` this leftover is in use."""
    parent = leftover.parent
    with path_lock(lock_file_for(parent, leftover.name)):
        yield


@contextmanager
def _temporary_sibling(path: Path) -> Iterator[Path]:
    """A fresh hidden file beside `path`, renamed onto `path` when the block succeeds
    (removed when it fails; after a kill, by the next export to `path`)."""
    _sweep_leftovers(path)
    tmp = _leftover_name(path, "tmp")
    with _held(tmp):
        # created as open(..., "wb") would create the output (mode 0666 less the umask)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666))
        try:
            yield tmp
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()


@contextmanager
def _staging_folder(path: Path) -> Iterator[Path]:
    """A fresh hidden folder beside `path` for the arrays of an export, removed after
    (after a kill, by the next export to `path`)."""
    _sweep_leftovers(path)
    stage = _leftover_name(path, "wkpy-export")
    with _held(stage):
        stage.mkdir()
        try:
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)


class _Planes:
    """The (c, x, y) planes (the mag's voxels) of a box of a view (mag 1, aligned with the
    mag), by position along the box's additional axes and z index from the box's top.

    The box is read in slabs along z, each of one position: the whole depth if that fits
    in `SLAB_BYTES`, else the mag's chunk depth (at most what fits, at least one slice).
    Slabs are kept while together they fit in `SLAB_BYTES`, so a box of at most that size
    is read once, and planes asked for in z order read each slab once.
    """

    def __init__(self, view: MagView, box: NDBoundingBox) -> None:
        self._view, self._box = view, box
        self.extra: tuple[str, ...] = () if isinstance(box, BoundingBox) else \
            tuple(a for a in box.axes if a not in _CXYZ)
        size = box_in_mag(BoundingBox.from_ndbbox(box), view.mag).size
        self.depth = size.z
        count = size.z * math.prod(box.get_bounds(a)[1] - box.get_bounds(a)[0] for a in self.extra)
        if count > MAX_CHUNKS:
            raise InvalidRequestError(f"exporting {box} of layer {view.layer.name!r} would write {count} planes, more "
                                      f"than {MAX_CHUNKS}; its box is larger than any data (check the bounding box and "
                                      "additionalAxes in datasource-properties.json), or pass a smaller bounding_box")
        self._slice_bytes = max(1, view.num_channels * view.get_dtype().itemsize * size.x * size.y)
        fit = SLAB_BYTES // self._slice_bytes
        self._slab = size.z if fit >= size.z else max(1, min(view.info.chunk_shape[2], fit))
        self._kept: dict[tuple[tuple[int, ...], int], np.ndarray] = {}

    def __call__(self, position: tuple[int, ...], z: int) -> np.ndarray:
        first = z // self._slab * self._slab
        key = (position, first)
        if key not in self._kept:
            mag_z = self._view.mag.z
            part = self._box.with_bounds("z", self._box.topleft_xyz.z + first * mag_z,
                                         min(self._slab, self.depth - first) * mag_z)
            for name, index in zip(self.extra, position):
                part = part.with_bounds(name, index, 1)
            data = self._view.read_cxyz(absolute_bounding_box=part)
            while self._kept and self._slice_bytes * (sum(d.shape[3] for d in self._kept.values())
                                                      + data.shape[3]) > SLAB_BYTES:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = data
        return self._kept[key][:, :, :, z - first]


def _covering_shard_shape(extent: Vec3Int) -> Vec3Int:
    """The smallest power-of-two shard shape, from the default chunk shape up, that covers
    `extent` (voxels) per axis, at most webknossos' default shard shape (or, for exports
    at most as deep as one from-images shard, that wider, thin shape)."""
    flat = extent.z <= DEFAULT_CHUNK_SHAPE.z * DEFAULT_CHUNKS_PER_SHARD_FROM_IMAGES.z
    limit = DEFAULT_SHARD_SHAPE_FROM_IMAGES if flat else DEFAULT_SHARD_SHAPE
    sides = []
    for want, side, most in zip(extent, DEFAULT_CHUNK_SHAPE, limit):
        while side < want and side < most:
            side *= 2
        sides.append(min(side, most))
    return Vec3Int(sides)


def _pyramid_mags(export_mag: Mag, size: Vec3Int, voxel_size: tuple[float, float, float]) -> list[Mag]:
    """The coarser mags `as_ozx` stores above `export_mag` for an export of `size` (mag 1):
    up to webknossos' default coarsest mag, anisotropic (constant z for one slice)."""
    from wkpy.dataset.layer._downsampling_utils import calculate_default_coarsest_mag, calculate_mags_to_downsample

    coarsest = calculate_default_coarsest_mag(size).to_vec3_int()
    start = export_mag.to_vec3_int()
    flat = size.z == 1
    if flat:
        coarsest = coarsest.with_z(start.z)
    top = Mag(tuple(max(c, s) for c, s in zip(coarsest, start)))
    return calculate_mags_to_downsample(export_mag, top, None, None if flat else voxel_size)
