"""Fuzzed bad input: whatever a data file holds and whatever values config overrides give, a
failure is the project's own error (one paragraph, exit 2), never a raw traceback."""

import copy
import shutil

from conftest import compose_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from keraslab.config_checks import check_config, instantiate_section
from keraslab.data import MaskedTextData, SentimentData
from keraslab.errors import InputError
from keraslab.experiment import RUN_CHECKS

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LINE_PARTS = st.sampled_from(["好", "差", "a", "1", "0", "2", "\t", " ", "\r", "", "-1", "1.0"])
LINES = st.lists(st.lists(LINE_PARTS, max_size=8).map("".join), max_size=6).map("\n".join)


@FUZZ
@given(train=LINES, valid=st.one_of(LINES, st.binary(max_size=40)))
def test_any_data_file_reads_or_fails_with_a_data_error(train, valid, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "sentiment.train.data").write_text(train, encoding="utf-8")
    valid_path = folder / "sentiment.valid.data"
    if isinstance(valid, bytes):
        valid_path.write_bytes(valid)
    else:
        valid_path.write_text(valid, encoding="utf-8")
    for data in (SentimentData(str(folder), maxlen=8), MaskedTextData(str(folder), maxlen=8)):
        try:
            data.setup()
        except InputError as error:
            assert "\n" not in str(error)
    shutil.rmtree(folder)


BASE = compose_config([])
KEYS = sorted(
    key
    for key in (
        f"{section}.{name}"
        for section in ("data", "loader", "model", "optimizer", "trainer")
        for name in OmegaConf.to_container(BASE[section])
        if not name.startswith("_") and name not in ("encoder", "hyperparameters", "data_dir")
    )
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-2, 3), max_size=3),
)


@FUZZ
@given(overrides=st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=4))
def test_any_config_values_are_accepted_or_refused_by_name(overrides):
    cfg = copy.deepcopy(BASE)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    try:
        check_config(cfg, RUN_CHECKS)
        for section in ("optimizer", "trainer", "loader", "model"):
            instantiate_section(cfg, section)
    except InputError as error:
        assert "\n" not in str(error), str(error)


def test_the_fuzzed_keys_reach_every_section_with_values():
    assert {key.split(".")[0] for key in KEYS} == {"data", "model", "optimizer", "trainer"}
