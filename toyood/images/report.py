"""Tables of a benchmark result: Table 1 (MMC, AUROC, FPR@95, ... per evaluation set and method)
and Table 2 (α-scaling) of Hein et al. (2019), as records for a data frame and as plain text, each
with the paper's number beside ours (``toyood.images.paper``).

For a page: ``summary_rows`` (test error, MMC, Table 2, times per method) and ``detection_rows``
(Table 1 per OOD set and method): every cell a string, a missing number shown as a dash and the
reason, methods by their full names (``METHOD_TITLES``); ``MAIN_COLUMNS`` are the columns a reader
needs first, ``DETAIL_COLUMNS`` the rest.
"""
from __future__ import annotations

import math

from .benchmark import ALPHA_MAX, GENERATED_SETS, BenchResult
from .datasets import TITLES
from .paper import CITATION, paper_value, setup_difference

SET_TITLES = {**TITLES, "fmnist": "FMNIST", "emnist": "EMNIST", "cifar10-gray": "grayCIFAR-10",
              "noise": "Noise", "adv_noise": "Adv. noise", "adv_samples": "Adv. samples"}
TABLE_METRICS = {"mmc": "MMC", "auroc": "AUROC", "fpr95": "FPR@95", "tnr95": "TNR@95", "dtacc": "DTACC"}
DETAIL_METRICS = {"tnr95": "TNR@95", "dtacc": "DTACC", "aupr_in": "AUPR-in", "aupr_out": "AUPR-out"}
METHOD_TITLES = {"plain": "Plain (cross-entropy)", "confidence": "Confidence loss (Lee et al.)",
                 "ceda": "CEDA (Hein et al.)", "acet": "ACET (Hein et al.)",
                 "reject": "Reject class (Vernekar et al.)", "dismax": "DisMax (Macêdo et al.)"}
PAPER = " (paper)"
MAIN_COLUMNS = {"summary": ("Method", "Test error", "Test error" + PAPER, "MMC on test set", "MMC on test set" + PAPER),
                "detection": ("Evaluation set", "Method", "MMC", "MMC" + PAPER, "AUROC", "AUROC" + PAPER,
                              "FPR@95", "FPR@95" + PAPER)}
DETAIL_COLUMNS = {"summary": ("Median α (0.999)", "Median α (0.999)" + PAPER, "Overconfident after clip (0.95)",
                              "Overconfident after clip (0.95)" + PAPER, "Training s", "Evaluation s"),
                  "detection": tuple(DETAIL_METRICS.values())}
DASH = "–"


def evaluation_sets(result: BenchResult) -> list[str]:
    """The OOD sets of a result in table order: datasets, then noise, adversarial noise and samples."""
    first = next(iter(result.methods.values()))
    return [name for name in first.sets if name not in GENERATED_SETS] + list(GENERATED_SETS)


def table_records(result: BenchResult) -> list[dict]:
    """Table 1 as records (set title, method, MMC, AUROC, ...): the in-distribution test set first
    (its MMC and the test error), then every OOD set."""
    records = []
    for method, r in result.methods.items():
        records.append({"set": f"{SET_TITLES[result.config.dataset]} (in-dist.)", "method": method,
                        "MMC": r.in_mmc, "test error": r.test_error})
        for name in evaluation_sets(result):
            records.append({"set": SET_TITLES[name], "method": method,
                            **{title: r.sets[name][key] for key, title in TABLE_METRICS.items()}})
    return records


def _number(value: float | None, spec: str) -> str:
    return DASH if value is None else format(value, spec)


def _ours(value: float | None) -> str:
    return f"{DASH} (undefined for these scores: stored as null)" if value is None else f"{value:.3f}"


def _alpha(value: float | None) -> str:
    return f"> {ALPHA_MAX:.0e}" if value is None else f"{value:.3g}"


def _paper_cell(dataset: str, method: str, set_name: str, metric: str, spec: str) -> str:
    """The paper's number formatted, "> 1e+06" for Table 2's unbounded α, or a dash and the reason."""
    value, source = paper_value(dataset, method, set_name, metric)
    if value == math.inf:
        return _alpha(None)
    return f"{DASH} ({source})" if value is None else format(value, spec)


def summary_rows(result: BenchResult) -> list[dict[str, str]]:
    """One row per method: test error and MMC on the test set, Table 2's α-scaling and the times,
    ours beside the paper's (columns: ``MAIN_COLUMNS["summary"]`` + ``DETAIL_COLUMNS["summary"]``)."""
    dataset, rows = result.config.dataset, []
    for method, r in result.methods.items():
        cell = lambda set_name, metric, spec: _paper_cell(dataset, method, set_name, metric, spec)
        share = (_number(r.alpha_overconfident, ".1%") if r.alpha_overconfident is not None
                 else f"{DASH} (no trial reached 0.999 below α = {ALPHA_MAX:.0e})")
        values = (METHOD_TITLES[method], f"{r.test_error:.2%}", cell("in", "test_error", ".2%"), f"{r.in_mmc:.3f}",
                  cell("in", "mmc", ".3f"), _alpha(r.median_alpha), cell("alpha", "median_alpha", ".3g"), share,
                  cell("alpha", "alpha_overconfident", ".1%"), f"{r.train_seconds:.1f}", f"{r.eval_seconds:.1f}")
        rows.append(dict(zip(MAIN_COLUMNS["summary"] + DETAIL_COLUMNS["summary"], values)))
    return rows


def detection_rows(result: BenchResult) -> list[dict[str, str]]:
    """Table 1: one row per OOD set and method, ours beside the paper's (columns:
    ``MAIN_COLUMNS["detection"]`` + ``DETAIL_COLUMNS["detection"]``)."""
    dataset, rows = result.config.dataset, []
    for name in evaluation_sets(result):
        for method, r in result.methods.items():
            row = {"Evaluation set": SET_TITLES[name], "Method": METHOD_TITLES[method]}
            for key, title in (("mmc", "MMC"), ("auroc", "AUROC"), ("fpr95", "FPR@95")):
                row[title] = _ours(r.sets[name][key])
                row[title + PAPER] = _paper_cell(dataset, method, name, key, ".3f")
            row.update({title: _ours(r.sets[name][key]) for key, title in DETAIL_METRICS.items()})
            rows.append(row)
    return rows


def format_table(result: BenchResult) -> str:
    """Table 1 (MMC, AUROC, FPR@95 per set and method) and Table 2 as text, each of our numbers
    followed by the paper's; the first lines say what the run is and how it differs from the paper."""
    config = result.config
    lines = [f"Trained on {SET_TITLES[config.dataset]} · preset {config.preset}: {result.n_train} train / "
             f"{result.n_test} test images, {_plural(config.preset_values().epochs, 'epoch')}, seed {config.seed}",
             setup_difference(config, result.n_train),
             f"{'':<16}{'':<31}{'ours':<22}paper"]
    summary = {row["Method"]: row for row in summary_rows(result)}
    header = lambda columns: f"{'':<16}{'':<31}{columns:<22}{columns}"
    lines.append(header("TE      MMC"))
    for title, row in summary.items():
        lines.append(f"{SET_TITLES[config.dataset] + ' test':<16}{title:<31}"
                     f"{row['Test error']:<8}{row['MMC on test set']:<14}"
                     f"{_short(row['Test error' + PAPER]):<8}{_short(row['MMC on test set' + PAPER])}")
    lines.append(header("MMC   AUROC FPR@95"))
    for row in detection_rows(result):
        ours = " ".join(row[t] for t in ("MMC", "AUROC", "FPR@95"))
        paper = " ".join(_short(row[t + PAPER]) for t in ("MMC", "AUROC", "FPR@95"))
        lines.append(f"{row['Evaluation set']:<16}{row['Method']:<31}{ours:<22}{paper}")
    lines.append(header("median α  % overconf."))
    for title, row in summary.items():
        ours = f"{row['Median α (0.999)']:<10}{_short(row['Overconfident after clip (0.95)'])}"
        paper = f"{_short(row['Median α (0.999)' + PAPER]):<10}{_short(row['Overconfident after clip (0.95)' + PAPER])}"
        lines.append(f"{'α-scaling':<16}{title:<31}{ours:<22}{paper}")
    lines.append(f"{DASH}: no number (paper: not in Hein et al.'s Tables 1-2 for this dataset, method or set; "
                 "ours: no trial reached 0.999)")
    if result.skipped:
        lines.append("Not evaluated (files missing or unreadable): " + ", ".join(SET_TITLES[s] for s in result.skipped))
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _short(cell: str) -> str:
    """A cell without its reason in parentheses (the text table explains the dash once)."""
    return DASH if cell.startswith(DASH) else cell


def paper_record(result: BenchResult) -> dict:
    """The paper's numbers for the result's methods and sets, for JSON beside ``result.to_dict()``:
    null where the paper has none (``missing`` says why), "> 1e6" for Table 2's unbounded α."""
    dataset, methods, missing = result.config.dataset, {}, {}
    cells = [("in", "test_error"), ("in", "mmc"), ("alpha", "median_alpha"), ("alpha", "alpha_overconfident")]
    cells += [(name, key) for name in evaluation_sets(result) for key in ("mmc", "auroc", "fpr95")]
    for method in result.methods:
        numbers = {}
        for set_name, metric in cells:
            value, source = paper_value(dataset, method, set_name, metric)
            if value is None:
                missing.setdefault(method, {})[f"{set_name}/{metric}"] = source
            numbers[f"{set_name}/{metric}"] = f"> {ALPHA_MAX:.0e}" if value == math.inf else value
        methods[method] = numbers
    return {"citation": CITATION, "differs": setup_difference(result.config, result.n_train), "methods": methods,
            "missing": missing}
