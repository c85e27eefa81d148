"""The app's URL state (``toyood_app.state``, ``toyood_app.link``, ``toyood_app.lecture``): links parse into settings with the CLI's spellings,
round-trip, and bad values give one readable problem each and the default."""
import dataclasses
import re
import string
import urllib.parse

import pytest

from toyood.errors import ConfigError
from toyood.methods import METHODS
from toyood.toy import PRESETS, ToyConfig
from toyood_app.lecture import SCENARIOS, next_scenario, temperature_key
from toyood_app.link import DEFAULT, PARAMS, active_scenario, explored, parse_query, to_query
from toyood_app.state import SERVER_ONLY_FIELDS, AppState


def test_the_issue_link_gives_exactly_its_state():
    state, problems = parse_query({"method": "reject", "ood": "general", "sigma": "1", "hidden": "500,500",
                                   "seed": "3", "halfwidth": "10000"})
    assert problems == []
    assert (state.methods, state.ood, state.sigma, state.hidden, state.seed, state.halfwidth) == (
        ("reject",), "general", 1.0, (500, 500), 3, 10000)
    assert not state.compare
    assert to_query(state) == {"method": "reject", "ood": "general", "seed": "3", "halfwidth": "10000"}


def test_an_empty_query_is_the_default_and_the_default_writes_nothing():
    assert parse_query({}) == (DEFAULT, [])
    assert to_query(DEFAULT) == {}


VARIED = AppState(methods=("plain", "ceda", "acet"), compare=True, ood="gan", ceda_objective="uniform", sigma=2.5,
                  hidden=(64, 32, 16), leaky=0.1, activation="leaky", temperature=0.05, preset="vernekar", epochs=7, batch_size=16, lr=3e-4, weight=3.0,
                  acet_eps=1.5, acet_steps=3, acet_step_size=0.25, seed=123456, device="cpu", halfwidth=1000000,
                  along="point", theta=271.5, point=(-12.5, 40.0), colour="confidence", box=200, focus="acet",
                  small_net=True, classifier="reject", start="pretrained", iterations=4000, beta=0.3,
                  students=True, scenario="ceda-acet", dataset="rings", classes=7, attack=True, score="energy",
                  timeline=12)


@pytest.mark.parametrize("state", [VARIED, dataclasses.replace(DEFAULT, compare=True),
                                   dataclasses.replace(DEFAULT, methods=("dismax",), theta=0.5)])
def test_every_setting_round_trips_through_the_url(state):
    query = to_query(state)
    through_browser = dict(urllib.parse.parse_qsl(urllib.parse.urlencode(query, safe=",")))
    assert parse_query(through_browser) == (state, [])


def test_every_field_has_a_parameter_except_the_uploads_server_path():
    assert {param.field for param in PARAMS} == {field.name for field in dataclasses.fields(AppState)} - set(
        SERVER_ONLY_FIELDS)


def test_the_data_set_and_k_use_the_cli_spellings():
    state, problems = parse_query({"data": "spiral", "classes": "3"})
    assert problems == [] and (state.dataset, state.classes) == ("spiral", 3)
    assert to_query(state) == {"data": "spiral", "classes": "3"}
    config = state.toy_config("plain")
    assert (config.dataset, config.classes) == ("spiral", 3)
    from toyood.cli import build_parser
    args = build_parser("toy").parse_args(["toy", "--data", "spiral", "--classes", "3"])
    assert (args.data, args.classes) == ("spiral", 3)


@pytest.mark.parametrize("query, words, shown", [
    ({"data": "blobs"}, "choose one of gaussians, moons, rings, spiral, xor", ("gaussians", 2)),
    ({"data": "file"}, "own data cannot travel in a link", ("gaussians", 2)),
    ({"data": "file", "data_file": "/etc/passwd"}, "not a setting of this app", ("gaussians", 2)),
    ({"classes": "11"}, "expected a whole number in [2, 10]", ("gaussians", 2)),
    ({"classes": "2.5"}, "whole number", ("gaussians", 2)),
    ({"data": "moons", "classes": "4"}, "moons has 2 classes; showing classes=2", ("moons", 2)),
    ({"data": "xor", "classes": "3"}, "xor has 2 classes", ("xor", 2)),
])
def test_bad_data_in_a_link_says_so_and_shows_the_default(query, words, shown):
    state, problems = parse_query(query)
    assert any(words in problem for problem in problems), problems
    assert (state.dataset, state.classes) == shown and state.data_file is None


def test_uploaded_data_never_go_into_a_link_and_a_link_never_names_a_file():
    own = dataclasses.replace(DEFAULT, dataset="file", classes=4, data_file="/srv/cache/ab.csv", data_digest="ab",
                              seed=2)
    assert to_query(own) == {"seed": "2"}
    for name in ("data_file", "data-file", "data_digest"):
        state, problems = parse_query({name: "/etc/passwd"})
        assert state.data_file is None and state.data_digest is None and problems


def test_parameter_names_are_the_cli_flag_names():
    from toyood.cli import build_parser
    toy_flags = {option for action in build_parser("toy")._subparsers._group_actions[0].choices["toy"]._actions
                 for option in action.option_strings}
    for name in ("method", "ood", "sigma", "hidden", "leaky", "preset", "epochs", "batch-size", "lr", "weight",
                 "ceda-objective", "acet-eps", "acet-steps", "acet-step-size", "seed", "device"):
        assert f"--{name}" in toy_flags and name in {param.name for param in PARAMS}


@pytest.mark.parametrize("name, text, expected_words", [
    ("method", "resnet", "unknown method 'resnet'"),
    ("ood", "none", "choose one of boundary, general, gan"),
    ("sigma", "1.3", "choose one of 0.5, 1, 1.5"),
    ("sigma", "nan", "finite number"),
    ("hidden", "500,abc", "widths separated by commas"),
    ("hidden", "1,2,3,4,5,6,7", "1 to 6 hidden layers"),
    ("epochs", "2.5", "whole number"),
    ("epochs", "0", "[1, 5000]"),
    ("seed", "-1", "[0, 2147483648)"),
    ("seed", "1e30", "[0, 2147483648)"),
    ("lr", "0.002", "choose one of"),
    ("halfwidth", "7", "choose one of 50, 100"),
    ("theta", "30.25", "steps of 0.5"),
    ("theta", "360", "[0, 360)"),
    ("point", "0,0", "origin"),
    ("point", "1", "two numbers"),
    ("colour", "rainbow", "region, confidence, class"),
    ("compare", "maybe", "1 or 0"),
    ("scenario", "nope", "thm31"),
])
def test_a_bad_value_names_the_parameter_and_keeps_the_default(name, text, expected_words):
    state, problems = parse_query({name: text, "seed": "5"} if name != "seed" else {name: text})
    assert len(problems) == 1 and problems[0].startswith(f"`{name}={text}`") and expected_words in problems[0]
    assert "showing" in problems[0] or name == "scenario"
    field = next(param.field for param in PARAMS if param.name == name)
    assert getattr(state, field) == getattr(DEFAULT, field)
    if name != "seed":
        assert state.seed == 5, "the good values of the link still apply"


def test_unknown_parameters_and_repeated_keys():
    state, problems = parse_query({"bogus": "1", "method": ["plain", "rbf"]})
    assert problems == ["`bogus` is not a setting of this app; ignored"]
    assert state.methods == ("rbf",)


def test_several_methods_mean_compare_mode_and_focus_must_be_one_of_them():
    state, problems = parse_query({"method": "plain,ceda,ceda", "focus": "ceda"})
    assert (state.methods, state.compare, state.focus, problems) == (("plain", "ceda"), True, "ceda", [])
    state, problems = parse_query({"method": "plain,ceda", "compare": "0", "focus": "rbf"})
    assert state.methods == ("plain",) and not state.compare and state.focus is None and len(problems) == 2


def test_values_equal_to_the_preset_are_left_to_the_preset():
    interactive = PRESETS["interactive"]
    state, _ = parse_query({"epochs": str(interactive["epochs"]), "lr": "0.001"})
    assert state.epochs is None and state.lr is None and to_query(state) == {}


def test_configs_apply_only_the_settings_a_method_reads():
    state = dataclasses.replace(DEFAULT, methods=("plain", "ceda", "acet"), compare=True, weight=3.0,
                                ceda_objective="uniform", acet_eps=1.0)
    configs = state.toy_configs()
    assert configs["plain"] == ToyConfig(hidden=(500, 500))
    assert configs["ceda"].ceda_objective == "uniform" and configs["ceda"].acet_eps == ToyConfig().acet_eps
    assert configs["acet"].acet_eps == 1.0 and configs["acet"].ood_weight == 3.0
    assert configs["plain"].ood == "none" and configs["ceda"].ood == "boundary"


def test_a_combination_the_library_rejects_raises_config_error():
    with pytest.raises(ConfigError):
        dataclasses.replace(DEFAULT, hidden=(8,) * 7).toy_configs()


def test_compare_mode_switches_keep_the_current_method_first():
    on = dataclasses.replace(DEFAULT, methods=("reject",)).with_compare(True)
    assert on.compare and on.methods[0] == "reject" and len(on.methods) == 4 and len(set(on.methods)) == 4
    assert on.with_compare(False).methods == ("reject",)


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_every_scenario_link_parses_cleanly_and_is_active(scenario):
    state, problems = parse_query(scenario.link_query())
    assert problems == []
    assert active_scenario(state) == scenario
    assert all(m in METHODS for m in state.methods)
    state.toy_configs()  # trainable


def test_a_scenario_stays_active_until_one_of_its_settings_changes():
    state, _ = parse_query(SCENARIOS["thm31"].link_query())
    assert active_scenario(dataclasses.replace(state, seed=4)) is not None
    assert active_scenario(dataclasses.replace(state, methods=("reject",))) is None


def test_a_scenario_stays_while_the_reader_does_what_its_note_asks():
    """Step 1 says "zoom back in", step 5 "switch the objective": doing so keeps the step (and its
    Next link), and says what was changed; any other setting of the link still ends it."""
    zoomed, _ = parse_query({**SCENARIOS["thm31"].link_query(), "halfwidth": "50"})
    assert active_scenario(zoomed) == SCENARIOS["thm31"] and explored(zoomed, SCENARIOS["thm31"]) == ["halfwidth"]
    switched, _ = parse_query({**SCENARIOS["ceda-acet"].link_query(), "ceda-objective": "max_conf"})
    assert active_scenario(switched) == SCENARIOS["ceda-acet"]
    assert explored(switched, SCENARIOS["ceda-acet"]) == ["ceda-objective"]
    assert active_scenario(dataclasses.replace(switched, ood="boundary")) is None
    assert explored(parse_query(SCENARIOS["ceda-acet"].link_query())[0], SCENARIOS["ceda-acet"]) == []


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_what_a_note_asks_to_change_and_the_numbers_it_quotes_exist(scenario):
    """A note's numbers are live fields ``{method[metric]}`` of the step's own methods (no constant
    written into the text); filled, none is left open, and a missing one reads '…'."""
    from toyood_app.labels import GAN_LABELS, IMAGE_LABELS, METRIC_LABELS
    labels = {**METRIC_LABELS, **GAN_LABELS, **IMAGE_LABELS}
    assert set(scenario.explores) <= {param.name for param in PARAMS}
    assert set(scenario.numbers) <= set(labels)
    fields = [field for _, field, _, _ in string.Formatter().parse(scenario.note) if field]
    state = parse_query(scenario.link_query())[0]
    methods = {"gan": ("gan",), "image-benchmark": state.bench_methods}.get(scenario.page, state.methods)
    methods = (*methods, *map(temperature_key, scenario.temperatures))
    for field in fields:
        method, key = field.rstrip("]").split("[")
        assert method in methods and key in labels, field
    figures = {m: {key: f"<{m} {key}>" for key in labels} for m in methods}
    filled = scenario.text(figures)
    assert "{" not in filled and "…" not in filled
    assert all(f"<{field.rstrip(']').replace('[', ' ')}>" in filled for field in fields)
    assert fields == [] or "…" in scenario.text({})
    assert not re.search(r"\d+(\.\d+)?\s?%", scenario.note), "a share in a note is a live field, not a constant"


def test_scenarios_come_in_order_and_end():
    ids = list(SCENARIOS)
    assert ids[0] == "thm31" and ids[-1] == "images"
    assert [next_scenario(i).id for i in ids[:-1]] == ids[1:] and next_scenario(ids[-1]) is None


@pytest.mark.parametrize("name, text, expected_words", [
    ("temperature", "3", "choose one of 0.01, 0.02, 0.05, 0.1"),
    ("temperature", "0", "choose one of"),
    ("temperature", "inf", "finite number"),
    ("activation", "gelu", "choose one of relu, leaky, tanh, sigmoid"),
    ("score", "odin", "choose one of max_prob, entropy, max_logit, energy, dismax_entropy"),
    ("attack", "maybe", "expected 1 or 0"),
    ("timeline", "20", "expected a whole number in [0, 19]"),
    ("timeline", "2.5", "whole number"),
])
def test_a_bad_new_setting_names_the_parameter_and_keeps_the_default(name, text, expected_words):
    state, problems = parse_query({name: text, "seed": "5"})
    assert len(problems) == 1 and problems[0].startswith(f"`{name}={text}`") and expected_words in problems[0]
    assert "showing" in problems[0] and state.seed == 5
    assert (state.temperature, state.activation, state.score, state.attack, state.timeline) == (
        1.0, "relu", None, False, None)


def test_the_temperature_is_read_after_training_so_every_t_shares_one_trained_net():
    hot, problems = parse_query({"temperature": "10"})
    assert problems == [] and hot.temperature == 10.0 and to_query(hot) == {"temperature": "10"}
    assert hot.toy_config("plain") == DEFAULT.toy_config("plain")
    assert hot.toy_config("plain").temperature == 1.0


def test_a_slope_alone_still_means_leaky_as_links_did_before_the_activation_setting():
    old, problems = parse_query({"leaky": "0.2"})
    assert problems == [] and (old.activation, old.leaky) == ("leaky", 0.2)
    config = old.toy_config("plain")
    assert (config.activation, config.negative_slope) == ("leaky", 0.2)
    assert parse_query(to_query(old)) == (old, [])


@pytest.mark.parametrize("query, words, shown", [
    ({"activation": "tanh", "leaky": "0.2"}, "applies to leaky nets only, not tanh", ("tanh", 0.0)),
    ({"activation": "relu", "leaky": "0.2"}, "applies to leaky nets only, not relu", ("relu", 0.0)),
    ({"activation": "leaky"}, "needs a slope in (0, 0.95]; showing leaky=0.1", ("leaky", 0.1)),
])
def test_a_slope_that_does_not_fit_the_activation_says_so(query, words, shown):
    state, problems = parse_query(query)
    assert len(problems) == 1 and words in problems[0], problems
    assert (state.activation, state.leaky) == shown
    config = state.toy_config("plain")
    assert (config.activation, config.negative_slope) == shown


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky"])
def test_the_activation_reaches_the_nets_config_except_the_rbf_nets(activation):
    state = parse_query({"activation": activation, "method": "plain,rbf"})[0]
    assert state.toy_config("plain").activation == activation
    rbf = state.toy_config("rbf")
    assert (rbf.activation, rbf.negative_slope) == ("relu", 0.0)


def test_temperature_keys_are_note_field_names_without_a_dot():
    from toyood_app.lecture import temperature_key
    assert [temperature_key(t) for t in (10.0, 1.0, 0.1, 0.01)] == ["T=10", "T=1", "T=1/10", "T=1/100"]
    assert "{T=1/10[x]}".format_map({"T=1/10": {"x": "ok"}}) == "ok"


def test_a_big_nets_regions_default_to_confidence_colours_a_small_nets_to_their_own():
    from toyood_app.state import auto_colouring
    assert auto_colouring((500, 500)) == "confidence" and auto_colouring((64, 64)) == "region"
    assert auto_colouring((64, 65)) == "confidence", "129 neurons: over the limit of 128"
    assert "colour" not in to_query(DEFAULT), "the default colouring is not written into a link"
