"""The load benchmark's smoke run: real workers, sockets and streams, correctness only.

``bench/load.py`` at a size CI can afford (one worker, 50 sockets, 10 streaming answers). Its
timings are printed by the benchmark, never asserted here (docs/benchmarks.md "Load").
"""

from __future__ import annotations

import pytest

from bench import load

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def test_the_load_benchmark_holds_every_socket_and_loses_or_repeats_nothing():
    args = load.parse_args(
        [
            "--sockets=50",
            "--streams=10",
            "--rounds=1",
            "--workers=1",
            "--tokens=6",
            "--interval=0.01",
            "--first-token=0.05",
            "--clients=1",
        ]
    )

    result = load.measure(args)

    (run,) = result["runs"]
    assert run["sockets_opened"] == 50
    assert run["sockets_held"] == 50
    assert run["open_failures"] == {}
    # Every question through the model, streamed whole to its socket once, stored once.
    assert run["client"] == {
        "answers_complete": 10,
        "answers_incomplete": 0,
        "tokens_out_of_order_or_twice": 0,
        "answers_timed_out": 0,
        "incomplete_examples": [],
    }
    database = run["database"]
    # The ten timed questions and one warm-up question through the worker.
    assert database["questions_sent"] == 11
    assert database["answers_complete_once"] == 11
    assert database["model_answers"] == 11
    for key in (
        "questions_lost",
        "questions_duplicated",
        "questions_unexpected",
        "answers_wrong_or_incomplete",
        "answers_extra",
        "answers_lost",
        "other_decisions",
    ):
        assert database[key] == 0, key
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    for figure in ("first_token", "inter_token"):
        assert set(run[figure]) == {"csbot", "floor", "added_ms"}
        assert set(run[figure]["csbot"]) == {"p50_ms", "p90_ms", "p99_ms"}
    for key in ("rss_mib_idle", "rss_mib_peak_streaming", "answers_per_second", "open_seconds"):
        assert run[key] > 0, key


def test_a_staggered_run_measures_every_visitors_later_questions_at_full_concurrency():
    args = load.parse_args(
        [
            "--sockets=20",
            "--streams=6",
            "--rounds=2",
            "--workers=1",
            "--tokens=20",
            "--interval=0.02",
            "--first-token=0.05",
            "--clients=2",
            "--stagger=0.4",
        ]
    )

    result = load.measure(args)

    (run,) = result["runs"]
    assert run["client"]["answers_complete"] == 12
    assert result["lost"] == result["duplicated"] == 0
    # Second questions are asked while the other five visitors' answers stream.
    assert 4 <= run["answers_in_flight"]["p50"] <= 6
    assert run["first_token"]["csbot"]["p50_ms"] > 0


def test_answers_in_flight_counts_those_asked_and_not_yet_answered_at_each_measured_question():
    streamed = [
        {"spans": [(0.0, 10.0), (3.0, 4.0)], "measured_sent_at": [3.0]},
        {"spans": [(1.0, 2.0), (5.0, 6.0)], "measured_sent_at": [1.0, 5.0]},
    ]
    # At 1.0: (0, 10) and itself; at 3.0: (0, 10) and itself; at 5.0: (0, 10) and itself.
    assert load.in_flight(streamed) == {"p10": 2, "p50": 2, "p90": 2}
    streamed[0]["spans"].append((0.5, 5.5))
    # (0.5, 5.5) is under way at all three.
    assert load.in_flight(streamed) == {"p10": 3, "p50": 3, "p90": 3}
