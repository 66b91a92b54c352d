"""The feature matrix: RFM columns, one-hot text, missing flags, and errors that name the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liftlab.errors import DataError
from liftlab.targeting.features import feature_matrix


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "b", "c"],
        "recency_days": [10.0, np.nan, 30.0],
        "frequency": [1, 0, 3],
        "segment": ["x", "y", "x"],  # not a feature unless asked for
        "channel": ["web", "phone", "web"],
        "age": [30, 40, 50],
    })


def test_rfm_channel_and_extra_columns() -> None:
    matrix = feature_matrix(_table(), extra=["age"])
    assert matrix.names == ("recency_days", "recency_days_missing", "frequency",
                            "channel=phone", "channel=web", "age")
    assert matrix.unit_ids.tolist() == ["a", "b", "c"]
    assert matrix.values[:, 0].tolist() == [10.0, 20.0, 30.0]  # the gap filled with the median
    assert matrix.values[:, 1].tolist() == [0.0, 1.0, 0.0]
    assert matrix.values[:, 3:5].tolist() == [[0, 1], [1, 0], [0, 1]]


def test_a_missing_extra_column_is_named() -> None:
    with pytest.raises(DataError, match="no column 'tenure'") as caught:
        feature_matrix(_table(), extra=["tenure"], source="customers.csv")
    assert caught.value.file == "customers.csv" and caught.value.field == "tenure"


def test_no_feature_or_id_column_is_refused() -> None:
    with pytest.raises(DataError, match="no feature column"):
        feature_matrix(pd.DataFrame({"unit_id": ["a"], "segment": ["x"]}))
    with pytest.raises(DataError, match="no id column"):
        feature_matrix(pd.DataFrame({"recency_days": [1.0]}))


def test_repeated_ids_and_id_like_text_are_refused() -> None:
    with pytest.raises(DataError, match="repeated id"):
        feature_matrix(pd.DataFrame({"unit_id": ["a", "a"], "frequency": [1, 2]}))
    many = pd.DataFrame({"unit_id": [str(i) for i in range(60)], "email": [f"{i}@x" for i in range(60)]})
    with pytest.raises(DataError, match="60 distinct values") as caught:
        feature_matrix(many, extra=["email"])
    assert caught.value.field == "email"
