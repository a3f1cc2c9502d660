"""Screening scores against worked examples at every band boundary."""

import itertools

import pytest

from app.models.screening import Instrument
from app.services.scoring import score, severity_band


@pytest.mark.parametrize(
    ("instrument", "responses", "total", "band"),
    [
        (Instrument.phq9, [0] * 9, 0, "minimal"),
        (Instrument.phq9, [1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),
        (Instrument.phq9, [1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
        (Instrument.phq9, [2, 2, 2, 1, 1, 1, 0, 0, 0], 9, "mild"),
        (Instrument.phq9, [2, 2, 2, 2, 1, 1, 0, 0, 0], 10, "moderate"),
        (Instrument.phq9, [2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate"),
        (Instrument.phq9, [3, 3, 2, 2, 2, 2, 1, 0, 0], 15, "moderately severe"),
        (Instrument.phq9, [3, 3, 3, 2, 2, 2, 2, 2, 0], 19, "moderately severe"),
        (Instrument.phq9, [3, 3, 3, 3, 2, 2, 2, 2, 0], 20, "severe"),
        (Instrument.phq9, [3] * 9, 27, "severe"),
        (Instrument.gad7, [0] * 7, 0, "minimal"),
        (Instrument.gad7, [1, 1, 1, 1, 0, 0, 0], 4, "minimal"),
        (Instrument.gad7, [1, 1, 1, 1, 1, 0, 0], 5, "mild"),
        (Instrument.gad7, [2, 2, 2, 2, 1, 0, 0], 9, "mild"),
        (Instrument.gad7, [2, 2, 2, 2, 2, 0, 0], 10, "moderate"),
        (Instrument.gad7, [2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
        (Instrument.gad7, [3, 2, 2, 2, 2, 2, 2], 15, "severe"),
        (Instrument.gad7, [3] * 7, 21, "severe"),
        (Instrument.core10, [0] * 10, 0, "healthy"),
        (Instrument.core10, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], 5, "healthy"),
        (Instrument.core10, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 6, "low level"),
        (Instrument.core10, [1] * 10, 10, "low level"),
        (Instrument.core10, [2, 1, 1, 1, 1, 1, 1, 1, 1, 1], 11, "mild"),
        (Instrument.core10, [2, 2, 2, 2, 1, 1, 1, 1, 1, 1], 14, "mild"),
        (Instrument.core10, [2, 2, 2, 2, 2, 1, 1, 1, 1, 1], 15, "moderate"),
        (Instrument.core10, [2, 2, 2, 2, 2, 2, 2, 2, 2, 1], 19, "moderate"),
        (Instrument.core10, [2] * 10, 20, "moderately severe"),
        (Instrument.core10, [3, 3, 3, 3, 2, 2, 2, 2, 2, 2], 24, "moderately severe"),
        (Instrument.core10, [3, 3, 3, 3, 3, 2, 2, 2, 2, 2], 25, "severe"),
        (Instrument.core10, [4] * 10, 40, "severe"),
    ],
)
def test_worked_examples(
    instrument: Instrument, responses: list[int], total: int, band: str
) -> None:
    assert sum(responses) == total  # the example itself is right
    assert score(instrument, responses) == (total, band)


@pytest.mark.parametrize(
    ("instrument", "responses"),
    [
        (Instrument.phq9, [0] * 8),
        (Instrument.phq9, [0] * 8 + [4]),
        (Instrument.gad7, [0] * 9),
        (Instrument.core10, [0] * 9 + [5]),
        (Instrument.core10, [0] * 9 + [-1]),
    ],
)
def test_incomplete_or_out_of_range_is_refused(
    instrument: Instrument, responses: list[int]
) -> None:
    with pytest.raises(ValueError):
        score(instrument, responses)


def test_every_total_has_exactly_one_band() -> None:
    for instrument, top in ((Instrument.phq9, 27), (Instrument.gad7, 21), (Instrument.core10, 40)):
        bands = [severity_band(instrument, t) for t in range(top + 1)]
        changes = sum(1 for a, b in itertools.pairwise(bands) if a != b)
        assert changes == {27: 4, 21: 3, 40: 5}[top]
        with pytest.raises(ValueError):
            severity_band(instrument, top + 1)
