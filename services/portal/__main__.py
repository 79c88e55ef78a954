"""`python -m services.portal`: the portal on the configured port (`xianjie dev` starts it;
the same as `xianjie serve portal`, which deploy/k8s runs).

It waits for nothing: pages that need an API that is not up yet say so in a banner."""

from services.serve import serve

if __name__ == "__main__":
    serve("portal")
