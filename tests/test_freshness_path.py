"""The freshness path of the pipeline benchmark: each live event joined to the ledger row of the batch that held
it, its latency split into segments that add up, and the slowest events' path summarised."""

from __future__ import annotations

from benchmarks.freshness_path import SEGMENTS, BatchRow, FreshEvent, breakdown, describe

T = "retail.sales.v1"


def _row(first: int, last: int, taken: int, started: int, held: str = "") -> BatchRow:
    # first record arrived 150 ms before the take, prepared 2 ms after it, write queued 5 ms later; raw rows
    # landed 30 ms after the lock was taken
    rows = last - first + 1
    return BatchRow(
        T, 0, first, last, rows, taken, taken + 2, taken + 7, started, started + 30, held, 0, 0, taken - 150
    )


def test_each_event_is_split_at_its_own_batch_and_the_segments_add_up():
    ledger = [
        _row(0, 9, taken=1_100, started=1_110),
        _row(10, 19, taken=1_200, started=2_400, held="footfall_agg_1m 900, tourists_raw 250"),  # waited for the lock
    ]
    events = [FreshEvent(T, 0, o, 1_000 + o, 1_120 if o < 10 else 2_430 - o) for o in range(20)]
    record_ms = {(T, 0, o): 1_000 + o + 4 for o in range(20)}
    path = breakdown(events, ledger, record_ms, share=0.1)
    assert (path["events"], path["unmatched"]) == (20, 0)
    worst = path["worst"]
    assert worst["offset"] == 10 and worst["total_ms"] == 2_420 - 1_010
    assert sum(worst[s] for s in SEGMENTS) == worst["total_ms"]
    assert [worst[s] for s in ("send", "fetch_fill", "prepare", "queue", "lock")] == [4, 186, 2, 5, 1_193]
    assert worst["statement"] == 20 and worst["commit"] == 10 and worst["record_time_known"]
    assert worst["batch_fill"] == 150 == path["tail"]["batch_fill_median_ms"]
    tail = path["tail"]
    assert tail["events"] == 2 and tail["batches"] == 1 and tail["median_ms"]["lock"] == 1_193
    assert tail["lock_held_by"] == {"footfall_agg_1m": 900, "tourists_raw": 250}
    assert path["median_ms"]["lock"] < tail["median_ms"]["lock"]
    assert "footfall_agg_1m 900" in describe(path) and "worst 1410 ms" in describe(path)


def test_events_outside_every_batch_are_counted_not_guessed():
    ledger = [_row(0, 4, taken=1_100, started=1_110)]
    events = [FreshEvent(T, 0, 7, 1_000, 1_200), FreshEvent(T, 1, 0, 1_000, 1_200), FreshEvent(T, 0, 3, 1_000, 1_130)]
    path = breakdown(events, ledger, {})
    assert (path["events"], path["unmatched"]) == (1, 2)
    assert path["worst"]["offset"] == 3 and not path["worst"]["record_time_known"]
    assert breakdown([], ledger, {}) == {"events": 0, "unmatched": 0}
