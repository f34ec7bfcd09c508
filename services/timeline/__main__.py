"""``python -m services.timeline``."""

import asyncio

from libs.common.service import run_until_signalled
from libs.common.settings import get_settings
from services.timeline.service import definition

if __name__ == "__main__":
    asyncio.run(run_until_signalled([definition], get_settings()))
