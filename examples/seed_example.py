"""The seed example: the webknossos-libs dataset walk-through, run with wkpy.

It follows the webknossos documentation's ``dataset_usage`` example with ``import wkpy as
wk``, an output folder given as the first argument (default ``testoutput``), and its
"Opening a dataset" step moved to the end, where it opens the dataset created here (the
documentation opens ``testdata/simple_wkw_dataset``, which a clone of wkpy does not have).
"""
import sys
from pathlib import Path

import numpy as np

import wkpy as wk


def main(out: Path = Path("testoutput")) -> None:
    # Creating a dataset
    dataset = wk.Dataset(out / "my_new_dataset", voxel_size=(1, 1, 1))
    layer = dataset.add_layer(
        layer_name="color",
        category="color",
        dtype="uint8",
        num_channels=3,
        bounding_box=wk.BoundingBox((10, 20, 30), (512, 512, 32)),
    )
    mag1 = layer.add_mag("1")
    mag2 = layer.add_mag("2")

    # Writing into a dataset; the properties grow when data exceeds the bounding box
    mag1.write(
        absolute_offset=(10, 20, 30),
        data=(np.random.rand(3, 512, 512, 32) * 255).astype(np.uint8),
        allow_unaligned=True,
    )
    mag2.write(
        absolute_offset=(10, 20, 30),
        data=(np.random.rand(3, 256, 256, 16) * 255).astype(np.uint8),
        allow_unaligned=True,
    )

    # Reading from a dataset
    data_in_mag1 = mag1.read()  # offset and size come from the properties
    data_in_mag1_subset = mag1.read(absolute_offset=(10, 20, 30), size=(512, 512, 32))
    data_in_mag2 = mag2.read()
    data_in_mag2_subset = mag2.read(absolute_offset=(10, 20, 30), size=(512, 512, 32))
    assert data_in_mag2_subset.shape == (3, 256, 256, 16)

    # Copying a dataset
    copy_of_dataset = dataset.copy_dataset(
        out / "copy_of_dataset",
        chunk_shape=(32, 32, 32),
        shard_shape=(64, 64, 64),
        compress=True,
    )
    new_layer = dataset.add_layer(
        layer_name="segmentation",
        category="segmentation",
        dtype="uint8",
        largest_segment_id=0,
    )
    # Link a layer of the initial dataset to the copy
    sym_layer = copy_of_dataset.add_symlink_layer(new_layer)

    # Opening a dataset
    dataset = wk.Dataset.open(out / "my_new_dataset")
    layer = dataset.get_layer("color")
    mag1 = layer.get_mag("1")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("testoutput"))
    print("seed example done")
