"""toyood's Streamlit app: the modules behind ``app.py`` and the pages in ``app_pages/``.

Layers, each importing only from those before it (``tests/test_architecture.py`` checks this):

1. pure Python, no Streamlit: ``activity`` (whether a visitor is served now), ``state`` (AppState),
   ``lecture`` (the lecture's steps), ``link`` (URL parameters ↔ state), ``labels`` (names and help
   texts), ``jobs`` (the shared job table; its background jobs give way to visitors), ``stores`` (run
   cache, uploads, image results on disk);
2. Streamlit: ``session`` (URL ↔ session, the page frame), ``running`` (jobs as a page sees them);
3. ``sidebar``, ``controls``, ``charts``, ``clicks``, ``views`` (cached evaluations), ``training``
   (training and scoring jobs), then ``warm`` (the warm start).
"""
