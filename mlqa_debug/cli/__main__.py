import sys

from mlqa_debug.cli.main import main

sys.exit(main())
