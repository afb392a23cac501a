"""The command line: click commands and options (main.py holds the group and the one error handler),
the renderer, and the console scripts' entry points (launch.py's fast path for a cached login, the
credential helper, the root side of `configure-docker --sudo`).

May import service and model. Nothing below imports this package. This file stays empty so that the
console script's fast path (launch.py) can run without loading click.
"""
