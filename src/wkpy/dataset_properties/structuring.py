"""``webknossos.dataset_properties.structuring``: the converter between the properties JSON
and the properties classes (`get_dataset_converter`), from `wkpy.properties`."""

from wkpy.properties import DatasetConverter, get_dataset_converter

__all__ = ["DatasetConverter", "get_dataset_converter"]
