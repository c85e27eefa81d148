"""toyood: the Streamlit app. Run with ``streamlit run app.py``."""
from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent
PAGES = [  # (file, title, icon, what it shows); pages written separately appear only when present
    ("pages/1_Playground.py", "Overconfidence playground", ":material/blur_on:",
     "train any of seven methods on two Gaussians; confidence and class maps from the data box out to 10⁶; "
     "compare methods side by side"),
    ("pages/2_Linear_regions.py", "Linear regions", ":material/pentagon:",
     "the trained net's exact linear regions, the unbounded ones, and which class wins in each direction"),
    ("pages/3_Far_away.py", "Far away", ":material/trending_up:",
     "confidence along α·x for α up to 10¹², the share of overconfident directions, the RBF contrast"),
    ("pages/4_Image_benchmark.py", "Image benchmark", ":material/image:",
     "the same methods on image data"),
    ("pages/5_GAN.py", "GAN boundary samples", ":material/scatter_plot:",
     "a GAN trained to produce OOD samples on the boundary of the data (Lee et al.)"),
]


def home() -> None:
    st.title("ReLU networks are overconfident far away from the data")
    st.markdown(
        "A ReLU network is **piecewise affine**: the input plane splits into finitely many polygons on each "
        "of which the logits are f(x) = Vx + a. Some of those polygons are unbounded, so along almost every "
        "direction u the logits grow like α·Vu and the softmax tends to a one-hot vector: "
        "**confidence → 1 as α → ∞, however far from the training data** "
        "([Hein et al., CVPR 2019](https://arxiv.org/abs/1812.05720), Theorem 3.1). "
        "Training on OOD samples (confidence loss, CEDA, ACET, a reject class) or changing the head (DisMax) "
        "only reshapes this; an RBF network's confidence instead tends to 1/K (Theorem 3.2).")
    for page, (_, title, icon, description) in zip(available[1:], present):
        st.page_link(page, label=title, icon=icon)
        st.caption(description)


present = [entry for entry in PAGES if (HERE / entry[0]).exists()]
available = [st.Page(home, title="Overview", icon=":material/home:", default=True),
             *(st.Page(path, title=title, icon=icon) for path, title, icon, _ in present)]
st.set_page_config(page_title="toyood: ReLU overconfidence", page_icon=":material/blur_on:", layout="wide")
st.navigation(available).run()
