"""``python -m onbox_agent.restore_store``: see the package's docstring."""

import sys

from onbox_agent.restore_store.command import main

sys.exit(main())
