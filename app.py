"""toyood: the Streamlit app. Run with ``streamlit run serve.py`` (this script, warmed up at server start;
``streamlit run app.py`` works too, its first visitor waiting for the imports).

The entry script of every page: it lists the pages (explicitly: a missing page file is an error),
takes the state from the link, draws the sidebar the toy pages share, runs the page and writes the
state back into the address bar.
"""
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="toyood: ReLU overconfidence", page_icon=":material/blur_on:", layout="wide")
CHART_LIBRARY_KEY = "toyood:chart-library-requested"
if CHART_LIBRARY_KEY not in st.session_state:
    # A new browser session loads plotly.js (~2 s to fetch and compile) only when it meets its first
    # chart. Show it an empty one now, so that this overlaps the server's first imports (~3 s);
    # the placeholder is cleared at the end of the run.
    st.session_state[CHART_LIBRARY_KEY] = chart_library = st.sidebar.empty()
    chart_library.plotly_chart(go.Figure().update_layout(height=10, margin=dict(l=0, r=0, t=0, b=0)),
                               key="chart-library", config={"staticPlot": True})

from toyood.device import use_threads  # noqa: E402  (after set_page_config: importing torch takes a moment)
from toyood.errors import ConfigError  # noqa: E402
from toyood_app import session, sidebar, stage  # noqa: E402
from toyood_app.lecture import SCENARIOS  # noqa: E402

TOY_PAGES = ("playground", "linear-regions", "far-away", "proof")
# (file, URL path, title, icon, what it shows). The pages live in app_pages/, not pages/: with a
# pages/ folder a fresh server answers its first request the old way (without app.py), and a link to
# a page would open it without the shared sidebar and state.
PAGES = [
    ("app_pages/playground.py", "playground", "Overconfidence playground", ":material/blur_on:",
     "train any of seven methods on K Gaussians, moons, rings, a spiral, XOR blobs or your own CSV; confidence "
     "and class maps from the data box out to 10⁶; click to add OOD points; compare methods side by side"),
    ("app_pages/linear_regions.py", "linear-regions", "Linear regions", ":material/pentagon:",
     "the trained net's exact linear regions, the unbounded ones, and which class wins in each direction"),
    ("app_pages/far_away.py", "far-away", "Far away", ":material/trending_up:",
     "confidence along α·x for α up to 10¹², the share of overconfident directions, the RBF contrast"),
    ("app_pages/proof.py", "proof", "The proof, drawn", ":material/functions:",
     "Thm 3.1 along one ray: the exact regions the ray crosses, the logits, the top-two gap and the softmax"),
    ("app_pages/image_benchmark.py", "image-benchmark", "Image benchmark", ":material/image:",
     "the same methods on image data (Hein et al. Tables 1-2)"),
    ("app_pages/gan.py", "gan", "GAN boundary samples", ":material/scatter_plot:",
     "a GAN trained to produce OOD samples on the boundary of the data (Lee et al.), animated"),
]


def overview() -> None:
    st.title("ReLU networks are overconfident far away from the data")
    st.markdown(
        "A ReLU network is **piecewise affine**: the input plane splits into finitely many polygons on each "
        "of which the logits are f(x) = Vx + a. Some of those polygons are unbounded, so along almost every "
        "direction u the logits grow like α·Vu and the softmax tends to a one-hot vector: "
        "**confidence → 1 as α → ∞, however far from the training data** "
        "([Hein et al., CVPR 2019](https://arxiv.org/abs/1812.05720), Theorem 3.1). "
        "Training on OOD samples (confidence loss, CEDA, ACET, a reject class) or changing the head (DisMax) "
        "only reshapes this; an RBF network's confidence instead tends to 1/K (Theorem 3.2).")
    st.subheader("The lecture, step by step")
    st.caption("Each step is one link: it opens the page with the settings of the step and a note on what to "
               "notice. Send a step's link to students (add `students=1` to hide the advanced controls).")
    for number, scenario in enumerate(SCENARIOS.values(), 1):
        st.page_link(session.page_for(scenario), label=f"{number}. {scenario.title}",
                     query_params=scenario.link_query(), icon=":material/play_circle:")
    st.subheader("The pages")
    for file, path, title, icon, description in PAGES:
        st.page_link(session.page_at(path), label=title, icon=icon)
        st.caption(description)


def main() -> None:
    pages = {path: st.Page(file, title=title, icon=icon, url_path=path) for file, path, title, icon, _ in PAGES}
    home = st.Page(overview, title="Overview", icon=":material/home:", default=True)
    session.set_pages(pages)
    page = st.navigation([home, *pages.values()])
    try:
        use_threads()
    except ConfigError as error:
        st.error(f"**The server's thread setting is wrong:** {error}.")
        st.stop()
    session.load_state()
    presenting = session.widget("present", lambda key: st.sidebar.toggle(
        "Presentation layout", key=key, help="For a projector: the sidebar closes, the text grows, and each lecture "
                                             "step fits one screen. A link with present=1 opens this way."))
    st.set_page_config(initial_sidebar_state="collapsed" if presenting else "auto")
    stage.page_style()
    session.link_slot()
    if page.url_path in TOY_PAGES:
        sidebar.toy_sidebar()
    session.show_link_problems()
    try:
        session.run_page(page)
    finally:
        session.sync_url()
        if st.session_state.get(CHART_LIBRARY_KEY) is not None:
            st.session_state[CHART_LIBRARY_KEY].empty()
            st.session_state[CHART_LIBRARY_KEY] = None


main()
