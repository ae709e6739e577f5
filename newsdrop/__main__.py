"""`python -m newsdrop` is the `newsdrop` command."""

from newsdrop.flows.cli import main

main()
