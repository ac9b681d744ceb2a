"""``python -m tingshu`` runs the CLI."""

import sys

from tingshu.cli import main

sys.exit(main())
