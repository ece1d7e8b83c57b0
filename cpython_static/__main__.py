import sys

from cpython_static.cli.main import main

sys.exit(main())
