"""``python -m minitorch ...``: see minitorch/cli.py."""
import sys

from .cli import main

sys.exit(main())
