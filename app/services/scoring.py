"""Scoring of screening instruments: totals and severity bands (pure functions)."""

from app.models.screening import INSTRUMENT_ITEMS, Instrument

# (lowest total of the band, band), highest band last.
SEVERITY_BANDS: dict[Instrument, tuple[tuple[int, str], ...]] = {
    Instrument.phq9: (
        (0, "minimal"),
        (5, "mild"),
        (10, "moderate"),
        (15, "moderately severe"),
        (20, "severe"),
    ),
    Instrument.gad7: ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")),
    Instrument.core10: (
        (0, "healthy"),
        (6, "low level"),
        (11, "mild"),
        (15, "moderate"),
        (20, "moderately severe"),
        (25, "severe"),
    ),
}


def score(instrument: Instrument, responses: list[int]) -> tuple[int, str]:
    """The total and severity band of a complete set of item scores."""
    count, top = INSTRUMENT_ITEMS[instrument]
    if len(responses) != count or any(not 0 <= r <= top for r in responses):
        raise ValueError(f"{instrument} needs {count} item scores of 0-{top}")
    total = sum(responses)
    return total, severity_band(instrument, total)


def severity_band(instrument: Instrument, total: int) -> str:
    """The band a total falls in."""
    count, top = INSTRUMENT_ITEMS[instrument]
    if not 0 <= total <= count * top:
        raise ValueError(f"{instrument} totals run 0-{count * top}")
    band = SEVERITY_BANDS[instrument][0][1]
    for lowest, name in SEVERITY_BANDS[instrument]:
        if total >= lowest:
            band = name
    return band
