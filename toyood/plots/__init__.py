"""Plot builders: pure functions from toyood results to ``plotly.graph_objects.Figure`` (no Streamlit)."""
