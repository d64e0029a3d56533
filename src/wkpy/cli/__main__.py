"""``python -m wkpy.cli``: the same as the ``wkpy`` console script."""

from wkpy.cli.main import main

if __name__ == "__main__":
    main()
