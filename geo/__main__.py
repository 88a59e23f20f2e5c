"""`python -m geo` runs the same command line as `geo`."""
from geo.cli import main

main()
