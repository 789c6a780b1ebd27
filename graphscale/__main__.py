"""``python -m graphscale`` = the ``graphscale`` command."""

from .cli import main

raise SystemExit(main())
