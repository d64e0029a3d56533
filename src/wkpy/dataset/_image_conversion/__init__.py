"""Converting image files into layers: `Dataset.from_images` and `Dataset.add_layer_from_images`.

Modules, as in webknossos 4.3.3:

- `image_conversion`: the two operations and `ConversionLayerMapping`;
- `image_source`: `ImageSource` (one set of images, copied part by part), `ReadOptions`;
- `sliced_image_source` / `chunked_image_source`: the two kinds of source;
- `slice_reader`: `SliceReader`, named-axis access to 2-D slices;
- `common_slice_readers`: PNG, JPEG, ... and sequences of files; `tiff_slice_reader`: TIFF;
- `mrc_image_source`, `ims_image_source`, `czi_image_source`: formats needing optional
  packages (``wkpy[mrcfile]``, ``wkpy[ims]``, ``wkpy[czi]``; ``wkpy[images]`` for all);
- `image_source_registry`: which reader opens which extension;
- `segmentation_recognition`: guessing the layer category from the data.

Nothing here is imported by ``import wkpy``; the readers load on first use.
"""
