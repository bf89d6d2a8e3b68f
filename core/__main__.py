"""``python -m greenslot``."""

import sys

from greenslot.cli import main

sys.exit(main())
