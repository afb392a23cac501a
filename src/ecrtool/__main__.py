"""Lets `python -m ecrtool` run the command line."""

from ecrtool.cli import main

main()
