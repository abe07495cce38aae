from __future__ import annotations

import sys

from recovery.devstack.run import main

sys.exit(main())
