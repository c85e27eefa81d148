"""The session's state and the page frame (Streamlit).

- State: the session holds one ``AppState`` (as a dict of its fields). It comes from the URL at a
  session's first run (or when a link with other parameters is opened) and goes back to the URL
  after every run, so the address bar is always a link to the current view. Widgets are made with
  ``widget``: their values live in that dict, so they survive page changes and hidden controls.
- The frame: the 'link to this view' control, the link's problems, the lecture step's note, and
  ``stop``/``run_page`` so that a page that ends early still gets its address written.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import urllib.parse
from typing import Any, Callable

import streamlit as st

from .lecture import Scenario
from .link import active_scenario, parse_query, to_query
from .state import AppState

LOGGER = logging.getLogger("toyood.app")
VALUES_KEY = "toyood:state"  # dict of AppState fields: the session's state
WRITTEN_KEY = "toyood:written"  # the query parameters the app last put in the address bar
PROBLEMS_KEY = "toyood:link-problems"
REWRITE_KEY = "toyood:rewrite-address"  # write the address at the end of this run, changed or not
INPUT_ERROR_KEY = "toyood:input-error"
WIDGET_PREFIX = "w:"


def load_state() -> None:
    """Take the state from the URL at a session's first run, or when the address holds parameters
    the app did not write (a scenario link, an edited address); note one problem per bad value."""
    query = st.query_params.to_dict()
    if VALUES_KEY not in st.session_state or (query and query != st.session_state.get(WRITTEN_KEY)):
        parsed, problems = parse_query(query)
        set_state(parsed)
        st.session_state[PROBLEMS_KEY] = problems
        st.session_state[WRITTEN_KEY] = query
        st.session_state[REWRITE_KEY] = True  # a link was followed: the browser's address may still be the old one
    st.session_state[INPUT_ERROR_KEY] = None


def set_state(new: AppState) -> None:
    """Replace the session's state; every widget shows the new values at its next render."""
    st.session_state[VALUES_KEY] = dataclasses.asdict(new)
    for key in [key for key in st.session_state if str(key).startswith(WIDGET_PREFIX)]:
        del st.session_state[key]


def state() -> AppState:
    return AppState(**st.session_state[VALUES_KEY])


def widget(field: str, render: Callable[[str], Any], shown: Callable = lambda v: v, stored: Callable = lambda v: v,
           suffix: str = "", options=None) -> Any:
    """Render the widget of an AppState field with ``render(key)`` and store its value.

    The widget starts from the state (``shown`` converts a state value to a widget value) and its
    value goes back into the state (``stored``; a ValueError there leaves the state unchanged and
    is raised), so it survives page changes and being hidden. ``options``: the widget's choices,
    when they depend on other settings (a value no longer offered starts again from the state).
    """
    key = f"{WIDGET_PREFIX}{field}{suffix}"
    values = st.session_state[VALUES_KEY]
    if options is not None and key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]
    if key not in st.session_state:
        st.session_state[key] = shown(values[field])
    value = stored(render(key))
    values[field] = value
    return value


def show_link_problems() -> None:
    """The problems of the link this session was opened with, once."""
    problems = st.session_state.get(PROBLEMS_KEY)
    if problems:
        st.warning("**This link has values the app cannot show:**\n" + "\n".join(f"- {p}" for p in problems))
        st.session_state[PROBLEMS_KEY] = []


LINK_SLOT_KEY = "toyood:link-slot"


def link_slot() -> None:
    """Reserve the sidebar's place for the 'link to this view' control (filled by ``sync_url``)."""
    st.session_state[LINK_SLOT_KEY] = st.sidebar.empty()


def sync_url() -> None:
    """Write the state into the address bar (only what differs from the defaults) and fill the
    'link to this view' control; a scenario whose settings were changed is dropped. app.py calls it
    after every page; a fragment of view controls calls it after its own reruns."""
    values, slot = st.session_state.get(VALUES_KEY), st.session_state.get(LINK_SLOT_KEY)
    if values is None or slot is None:
        return
    if values["scenario"] and active_scenario(state()) is None:
        values["scenario"] = None
    query = to_query(state())
    if query != st.query_params.to_dict() or st.session_state.pop(REWRITE_KEY, False):
        st.query_params.from_dict(query)  # sends the address to the browser, even when the server's copy agrees
    st.session_state[WRITTEN_KEY] = query
    with slot.container():
        with st.popover("Link to this view", icon=":material/link:", width="stretch"):
            st.code(view_link(query), language=None, wrap_lines=True)
            st.caption("Copy it with the button at the box's right. Opening it shows this page with exactly "
                       "these settings; add `students=1` to hide the advanced controls.")
            if state().dataset == "file":
                st.warning("**Your uploaded points are not in this link:** an upload stays on this server. The link "
                           "opens the default data; send the CSV along and have it uploaded again.",
                           icon=":material/upload_file:")


def view_link(query: dict[str, str]) -> str:
    """The address of this page with ``query`` (relative when the browser's address is unknown)."""
    base = st.context.url or ""
    return base + ("?" + urllib.parse.urlencode(query, safe=",") if query else "")


# ---------------------------------------------------------------------------------------------
# The toy sidebar (rendered by app.py on every toy page)



PAGES_KEY = "toyood:pages"  # url path → st.Page of this session's run (app.py's ``set_pages``)


def set_pages(pages: dict[str, Any]) -> None:
    """This run's pages, by URL path. Each session builds its own ``st.Page`` objects: one object
    shared by sessions running at once is refused by Streamlit ("can be called once")."""
    st.session_state[PAGES_KEY] = pages


def page_at(path: str):
    """The ``st.Page`` of a URL path (for ``st.page_link``)."""
    return st.session_state[PAGES_KEY][path]


def page_for(scenario: Scenario):
    return page_at(scenario.page)


class PageStopped(Exception):
    """Raised by ``stop``: the page ends here, the app's own closing steps still run."""


_FRAME = threading.local()  # whether this script thread runs a page inside ``run_page``


def stop():
    """End the page here, like ``st.stop``, but let app.py still write the address and the link
    (after ``st.stop`` Streamlit drops every later element). A page run on its own (not through
    app.py's ``run_page``) stops with ``st.stop``."""
    if not getattr(_FRAME, "active", False):
        st.stop()
    raise PageStopped()


def run_page(page) -> None:
    """Run a page; an unexpected exception goes to the server log and the visitor sees one message."""
    _FRAME.active = True
    try:
        page.run()
    except PageStopped:
        pass
    except Exception:  # Streamlit's own stop/rerun signals are BaseExceptions and pass through
        LOGGER.exception("page %s failed", page.title)
        st.error("**Something went wrong on this page.** The details are in the server's log; changing a "
                 "setting or reloading usually helps.")
    finally:
        _FRAME.active = False
