"""What became of each day of a shard: its state, the fingerprint of its inputs, and the account
of its channels (see ``docs/results.md``, "Day states").

A day is in one of three states:

- **complete**: every listed file was fetched (after retries) and then used or dropped for a
  data reason; its entry ``manifest/days/YYYY-MM-DD.json`` exists (written after its daily
  files) and is never recomputed unless its inputs or settings change or ``--redo`` asks;
- **empty**: no file was listed for the selection; recorded as
  ``manifest/incomplete/YYYY-MM-DD.json`` (``state = "empty"``, with the folder or prefix
  listed and the key pattern expected), listed again on every run;
- **failed**: a file could not be fetched after retries; recorded the same way
  (``state = "failed"``, with the errors), computed again on the next run.

A day entry keeps the fingerprint of its inputs (:func:`input_fingerprint`: the listed keys with
sizes and version tags, and each listed station's metadata file), so a re-run notices new or
replaced files and metadata that appeared since (:func:`input_changes`) and recomputes the day.
Before a day or shard is recomputed its entry is withdrawn (:func:`withdraw_day`,
:func:`withdraw_shard`), so old and new files are never both reachable under "complete".

The subpackage: :mod:`c4.days.records` (states, records, withdrawing entries),
:mod:`c4.days.inputs` (input fingerprints), :mod:`c4.days.account` (the channels' account),
:mod:`c4.days.tally` (how a shard run ends).
"""

from __future__ import annotations

from c4.days.account import (
    DROP_KINDS,
    DayAccount,
)
from c4.days.inputs import (
    input_changes,
    input_fingerprint,
    parse_redo,
    why_compute,
)
from c4.days.records import (
    INCOMPLETE,
    STATES,
    DayFailed,
    ShardEmpty,
    ShardIncomplete,
    clear_day_record,
    complete_day,
    day_record,
    day_records,
    record_empty,
    record_failed,
    remove_stale_parts,
    withdraw_day,
    withdraw_shard,
    write_day_record,
)
from c4.days.tally import (
    ShardTally,
    empty_shard_message,
)

__all__ = [
    "DROP_KINDS",
    "INCOMPLETE",
    "STATES",
    "DayAccount",
    "DayFailed",
    "ShardEmpty",
    "ShardIncomplete",
    "ShardTally",
    "clear_day_record",
    "complete_day",
    "day_record",
    "day_records",
    "empty_shard_message",
    "input_changes",
    "input_fingerprint",
    "parse_redo",
    "record_empty",
    "record_failed",
    "remove_stale_parts",
    "why_compute",
    "withdraw_day",
    "withdraw_shard",
    "write_day_record",
]
