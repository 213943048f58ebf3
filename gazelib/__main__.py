import sys

from gazelib.cli import main

sys.exit(main())
