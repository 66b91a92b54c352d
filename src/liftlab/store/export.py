"""The send list: who gets what in a stored experiment, for an e-mail or push tool to import."""

from __future__ import annotations

import numpy as np
import pandas as pd

from liftlab.config.loading import experiment_from_dict
from liftlab.config.validation import check_experiment
from liftlab.errors import StoreError
from liftlab.store.event_store import EventStore

SEND_COLUMNS = ("experiment", "unit_id", "segment", "arm", "channel")
ROLES = ("treatment", "control", "holdout")


def export_send_list(store: EventStore, experiment_key: str, *, include_all: bool = False) -> pd.DataFrame:
    """The stored assignments of `experiment_key` as a send list: experiment, unit_id, segment,
    arm, channel — treatment customers only, or (`include_all`) everyone with a `role` column
    (treatment / control / holdout; a holdout customer has no arm and no channel).

    Arms and channels are read from the config versions the customers were assigned under.
    The latest stored config must pass validation (ConfigError with its findings otherwise):
    a list is never sent for an experiment `liftlab validate` rejects. StoreError when the
    experiment is not registered. The `experiment` column lets the list, with a timestamp
    added, be logged as the exposures file.
    """
    versions = store.experiment_versions(experiment_key)
    if not versions:
        raise StoreError(f"experiment {experiment_key!r} is not registered in {store.shown_url}")
    latest = experiment_from_dict(versions[-1].config,
                                  source=f"{store.shown_url} (experiment {experiment_key})")
    check_experiment(latest, source=f"{store.shown_url} (experiment {experiment_key})")
    role_of: dict[tuple[str, str], str] = {}
    channel_of: dict[str, str] = {}
    for version in versions:  # later versions win
        for campaign in version.config.get("campaigns", []):
            channel_of[campaign["segment"]] = campaign.get("channel", "")
            for arm in campaign["arms"]:
                role_of[(campaign["segment"], arm["key"])] = "control" if arm.get("control") else "treatment"
    stored = store.assignments(experiment_key)
    holdout = stored["holdout"].to_numpy(dtype=bool)
    role = np.array([role_of.get((s, a), "treatment") for s, a in zip(stored["segment"], stored["arm"])],
                    dtype=object)
    role[holdout] = "holdout"
    channel = stored["segment"].map(channel_of).fillna("").to_numpy(dtype=object)
    channel[holdout] = ""
    frame = pd.DataFrame({
        "experiment": stored["experiment"].to_numpy(dtype=object),
        "unit_id": stored["unit_id"].to_numpy(dtype=object),
        "segment": stored["segment"].to_numpy(dtype=object),
        "arm": stored["arm"].where(~stored["holdout"], "").to_numpy(dtype=object),
        "channel": channel,
        "role": role,
    })
    if include_all:
        return frame
    return frame[frame["role"] == "treatment"].drop(columns="role").reset_index(drop=True)
