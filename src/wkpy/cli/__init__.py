"""The ``wkpy`` command line (Typer): ``wkpy --help`` lists the commands.

Run it as the ``wkpy`` console script or as ``python -m wkpy.cli``. Importing `wkpy`
does not import this package; image libraries load only in the commands that use them.
"""

from wkpy.cli.main import app, main

__all__ = ["app", "main"]
