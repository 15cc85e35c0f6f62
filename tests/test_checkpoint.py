"""Checkpoints round-trip every value a run saves, the text of its reasons included."""

import numpy as np
from flax import serialization

from sciml.training.checkpoint import load_checkpoint, save_checkpoint

REASONS = ["conditions missed on fresh points by more than 0.003 of what they prescribe: neumann:p#1 2.61e-02",
           "conditions missed again: robin:p#2 8.47e-03 (weight x72)"]


def test_a_list_of_reasons_reads_back_as_written(tmp_path):
    path = save_checkpoint(tmp_path / "c.msgpack", {"params": [np.arange(3.0)]},
                           {"condition_raises": REASONS, "step": 7, "history": {"loss": np.ones(4)}})
    saved = load_checkpoint(path)
    assert saved["values"]["condition_raises"] == REASONS and int(saved["values"]["step"]) == 7
    np.testing.assert_array_equal(saved["trees"]["params"]["0"], np.arange(3.0))


def test_a_checkpoint_whose_reasons_were_saved_as_a_text_array_still_reads(tmp_path):
    """Written as numpy names the dtype ('str5792'), which numpy does not read back: the run's
    work is not lost for it."""
    payload = {"trees": {"params": {"0": np.arange(3.0)}},
               "values": {"condition_raises": np.asarray(REASONS), "step": np.asarray(7)}}
    path = tmp_path / "old.msgpack"
    path.write_bytes(serialization.msgpack_serialize(payload))
    saved = load_checkpoint(path)
    assert [str(r) for r in saved["values"]["condition_raises"]] == REASONS
    np.testing.assert_array_equal(saved["trees"]["params"]["0"], np.arange(3.0))
