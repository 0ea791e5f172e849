"""`python -m contract_assets.cli VERB ...`, the same as `contract-assets VERB ...`."""

import sys

from contract_assets.cli.command import main

sys.exit(main())
