"""GAN boundary samples: Lee et al.'s joint GAN + classifier training on the toy, animated, with how
much of the 3σ boundary the generated samples cover (Vernekar et al. Sec. 5.2, Fig. 5)."""
import streamlit as st

from toyood.gan import COLLAPSE_RECALL, DEFAULT_BETA, RING_SECTORS
from toyood.plots import gan as gan_plots
from toyood.plots import toy as toy_plots
from toyood_app import charts, session, sidebar, stage, training
from toyood_app.labels import GAN_LABELS, METRIC_LABELS, data_title, method_label, metric_text

METRIC_KEYS = ["test_accuracy", "far_ood_mmc", "far_ood_auroc", "far_ood_overconfident", "far_ood_rejected",
               "asymptotic_overconfident", "train_seconds"]

stage.intro("gan", "GAN boundary samples",
            "Lee et al. (2018, eq. 2) train a GAN whose generator is pulled towards the data by the discriminator and "
            "towards where the classifier is unsure (KL to uniform), so that it produces 'boundary' OOD samples for "
            "the classifier's confidence loss. Vernekar et al. (2019, Sec. 5.2) found that, trained jointly from "
            "scratch, the samples hug only part of the boundary. Magenta: the generated samples for fixed latents z; "
            "dashed: the 3σ circles; colour: the classifier's confidence. The toy pages' 'gan' OOD source trains "
            "this GAN first and uses its samples.")
sidebar.gan_sidebar()
current = session.state()
if current.dataset != "gaussians" or current.classes != 2:
    st.info(f"**This page needs Gaussian classes: it shows the two at (±10, 0).** Lee et al.'s GAN is judged by how "
            f"well its samples cover the 3σ circles around the class means, which only Gaussian classes have, and "
            f"this page's animation draws the two classes' circles. The toy pages use {data_title(current)}; "
            "`toyood gan --classes K` trains the GAN on K Gaussian classes.", icon=":material/info:")
result = training.trained_gan_or_stop()
run, metrics, config = result.run, result.metrics, result.run.config
figures = {"gan": {key: metric_text(key, metrics.get(key)) for key in (*METRIC_LABELS, *GAN_LABELS)}}
header = stage.StepHeader()
header.fill("gan", figures=figures)
row = header.row

animation, final_map = charts.map_row(2)
charts.animation_chart(animation, result.animation, "gan_animation", "gan-samples")
data = run.classifier.data
final = toy_plots.confidence_figure(result.final_grid, title="The final classifier over [−50, 50]²",
                                    x_train=data.x_train, y_train=data.y_train, ood=run.snapshots[-1].samples,
                                    n_classes=config.classes, **charts.circles(data, run.classifier.config.sigma))
final.update_traces(showscale=False, selector=dict(type="heatmap"))  # the animation's colour bar is its scale
charts.map_chart(final_map, final, "gan_final", "gan-final-confidence")
row.metric("Final coverage", f"{metrics['coverage']:.0%}", width="content",
           help=f"Final boundary coverage: the share of {RING_SECTORS} angular sectors per 3σ circle holding a "
                "generated sample within 1σ of the circle, averaged over both circles.")
row.metric("3σ distance", f"{metrics['ring_distance']:.2f}", width="content",
           help="Mean distance of the last generated samples to the nearer 3σ circle.")
row.metric("Far ≥ 0.99", f"{metrics['far_ood_overconfident']:.1%}", width="content",
           help="Far OOD ≥ 0.99: the share of the far test points the final classifier gives confidence ≥ 0.99.")
row.metric("Test accuracy", f"{metrics['test_accuracy']:.1%}", width="content",
           help="Test accuracy of the final classifier; per class: "
                + ", ".join(f"class {k} {r:.0%}" for k, r in enumerate(metrics["class_recall"])))
row.metric("On the data", f"{metrics['disc_share']:.0%}", width="content",
           help="Samples on the data: the share of the last generated samples inside a class's 3σ disc.")
st.caption("Left: press ▶ or drag the slider. Dots: the training data of each class; magenta: the generated "
           "samples G(z) for fixed latents z; dashed: the 3σ circles; colour: the classifier's confidence at that "
           "iteration. The title's recall is that iteration's; whether a class is lost is judged of the final "
           "classifier (the last frame). Right: the final classifier over [−50, 50]² with the last samples, on the "
           "same colour scale.")
if metrics["collapsed"]:
    lost = ", ".join(f"class {k} (recall {r:.0%})" for k, r in enumerate(metrics["class_recall"]) if r < COLLAPSE_RECALL)
    weight = metrics["beta"] * config.classes
    st.warning(f"**The classifier lost {lost}.** Its generated samples landed on that class's data; there the "
               f"classifier's loss is lowest at p(reject) = βK/(βK + 1) = {weight / (weight + 1):.2f} with "
               f"β = {metrics['beta']:g}, and above 1/2 the class is rejected. Lee's eq. (2) puts β in both steps; "
               f"below 1/K (a reject classifier's default, {DEFAULT_BETA['reject']:g}) no class is lost.",
               icon=":material/warning:")

st.subheader("Coverage and test recall over the iterations")
coverage, recall = st.columns(2, gap="medium")
charts.chart(coverage, gan_plots.coverage_figure({method_label(config.classifier): run}), "gan_coverage",
             "gan-coverage")
charts.chart(recall, gan_plots.recall_figure(run), "gan_recall", "gan-recall")
st.caption("Measured over seeds 0-4 (800 iterations): Lee's pre-trained setting with its −H(P_G) term covers 36% "
           "of the circles (29-44%), a plain GAN (no KL term) 33%; without −H the KL term doubles the coverage of a "
           "plain GAN (18% against 9%). The joint runs cover 16-20% whatever the generator: the KL term's pull "
           "towards the boundary is real but small on this toy (`toyood gan --generator plain` is the baseline).")

charts.show_metrics({method_label(config.classifier): {k: metrics[k] for k in METRIC_KEYS}}, "gan-metrics",
                METRIC_KEYS)
