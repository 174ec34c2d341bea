"""``python -m pairsim`` (and ``torchrun -m pairsim train ...``)."""

import sys

from pairsim.cli import main

sys.exit(main())
