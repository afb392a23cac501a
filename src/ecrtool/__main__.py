"""Lets `python -m ecrtool` run the command line, as the `ecrtool` console script does."""

from ecrtool.cli.launch import main

main()
