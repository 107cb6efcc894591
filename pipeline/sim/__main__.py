"""``python -m pipeline.sim``: serve the simulator until SIGINT or SIGTERM."""

from __future__ import annotations

import sys

from .command import main

sys.exit(main())
