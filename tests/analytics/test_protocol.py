"""The feedback and csat frames as the protocol parses them (no database, no socket)."""

from __future__ import annotations

import pytest

from apps.chat.protocol import FrameError, frame_parse


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "feedback", "message_id": 1, "value": "meh"},
        {"type": "feedback", "message_id": "1", "value": "up"},
        {"type": "feedback", "message_id": 1, "value": "up", "comment": "x" * 1001},
        {"type": "csat", "rating": 6},
        {"type": "csat", "rating": 0},
        {"type": "csat", "rating": True},
        {"type": "csat", "rating": 4.5},
    ],
)
def test_malformed_rating_frames_are_refused(frame):
    with pytest.raises(FrameError) as error:
        frame_parse(frame)
    assert error.value.code == "bad_frame"


def test_rating_frames_parse_with_and_without_a_comment():
    assert frame_parse({"type": "feedback", "message_id": 7, "value": "down"}).comment == ""
    rated = frame_parse({"type": "csat", "rating": 5, "comment": "  谢谢 Mei！ "})
    assert (rated.rating, rated.comment) == (5, "谢谢 Mei！")
