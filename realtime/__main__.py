"""`python -m realtime` is the `hubbub` command."""

from realtime.cli import main

main()
