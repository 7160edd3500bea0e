"""``python -m rnncourse ...``: the command line of ``rnncourse.cli``."""
import sys

from .cli import main

sys.exit(main())
