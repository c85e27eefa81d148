"""toyood's app with a warm start: ``streamlit run serve.py``.

The same app as ``streamlit run app.py`` (which still works), served as an ``st.App`` whose startup
begins, in a thread of its own, what its first visitor would otherwise begin and wait for: the
imports (torch, plotly, pandas, toyood: ~3 s, while the visitor's browser loads Streamlit's
frontend), the Playground's default model (from the run cache, or trained and stored there), its
metrics, its linear regions and region maps (Linear regions, the proof), torch's one-time optimiser
imports, and the GAN page's run. The server takes visitors at once; a visitor who comes meanwhile
watches the same jobs, and the warm start gives way for a few seconds after a browser opens a page
(a middleware marks ``toyood_app.activity``). See ``toyood_app.warm``.
"""
import logging
import sys
import threading
import time
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from toyood_app.activity import VisitorRequests

LOGGER = logging.getLogger("toyood.app")


def warm_up() -> None:
    start = time.perf_counter()
    from toyood_app import warm  # the app's own imports, now rather than in the first visitor's script run

    parts = {"imports": time.perf_counter() - start, **warm.warm_up()}
    LOGGER.warning("warm start done in %.1f s (%s)", time.perf_counter() - start,
                   ", ".join(f"{name} {value:.1f} s" for name, value in parts.items()))


@asynccontextmanager
async def warm_start(_app):
    # pandas first, before any visitor: plotly looks pandas up in sys.modules, and a visitor's script
    # meeting it half-imported by the warm start's thread failed ("partially initialized module").
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    threading.Thread(target=warm_up, name="toyood-warm-start", daemon=True).start()
    yield
    running = sys.modules.get("toyood_app.running")
    if running is not None:  # shutting down: jobs still running stop at their next progress call
        running.jobs().stop_all(timeout=10.0)


app = st.App("app.py", lifespan=warm_start, middleware=[Middleware(VisitorRequests)])
