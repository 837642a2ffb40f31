"""Config -> MLflow params: flattening, and fitting MLflow's per-value and per-batch limits."""

from keraslab.tracking.params import chunks, flatten, split_long_values


def test_flatten_joins_keys_with_dots():
    config = {"a": {"b": 1, "c": {"d": None}}, "e": [1, 2], "f": {}}
    assert flatten(config) == {"a.b": "1", "a.c.d": "None", "e": "[1, 2]", "f": "{}"}


def test_long_values_are_split_into_numbered_parts():
    params = split_long_values({"k": "x" * 13, "short": "y"}, limit=5)
    assert params == {"k": "xxxxx", "k.part2": "xxxxx", "k.part3": "xxx", "short": "y"}
    assert split_long_values({"k": "x" * 6000})["k"] == "x" * 6000
    assert split_long_values({"k": ""}) == {"k": ""}


def test_chunks_hold_at_most_100_params_each():
    params = {f"p{i:03d}": str(i) for i in range(250)}
    sizes = [len(chunk) for chunk in chunks(params)]
    assert sizes == [100, 100, 50]
    merged = {k: v for chunk in chunks(params) for k, v in chunk.items()}
    assert merged == params
