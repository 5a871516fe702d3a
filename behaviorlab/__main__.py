"""`python -m behaviorlab ...` is the `behaviorlab` command."""

import sys

from behaviorlab.platform.cli import main

sys.exit(main())
