"""`python -m services.portal`: the portal on the configured port (`xianjie dev` starts it).

It waits for nothing: pages that need an API that is not up yet say so in a banner."""

import uvicorn

from services.common.config import get_settings

if __name__ == "__main__":
    s = get_settings()
    uvicorn.run("services.portal.app:app", host=s.bind_host, port=s.portal_port, loop="uvloop", http="httptools",
                log_level="info", access_log=False)
