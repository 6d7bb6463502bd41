"""The synthetic group generator: deterministic, streamed, defects planted at the stated rates."""

from __future__ import annotations

import numpy as np

from orgcarbon.scale.generator import (
    DUPLICATE,
    NORMAL,
    SPIKE,
    GroupSpec,
    day_chunk,
    defect_counts,
    physical_max,
    plant_tags,
)

SPEC = GroupSpec(plants=2, tags=500, hours=24 * 20, gap_rate=0.01, spike_rate=0.005, duplicate_rate=0.01)


def test_same_seed_same_readings_other_seed_other_readings() -> None:
    """A chunk depends only on (seed, plant, day)."""
    a, b = day_chunk(SPEC, 1, 3), day_chunk(SPEC, 1, 3)
    assert np.array_equal(a.quantity, b.quantity) and np.array_equal(a.tag, b.tag)
    other = day_chunk(GroupSpec(plants=2, tags=500, hours=480, seed=7), 1, 3)
    assert not np.array_equal(a.quantity[:100], other.quantity[:100])


def test_defects_planted_at_their_rates() -> None:
    """Counts add up and each rate is met within a few standard deviations."""
    counts = defect_counts(SPEC)
    slots = SPEC.plants * SPEC.tags_per_plant * SPEC.hours
    assert counts["sent"] == slots - counts["gaps"] + counts["duplicates"]
    gap_slots = slots * sum(t.position >= 2 for t in plant_tags(SPEC, 0)) / SPEC.tags_per_plant
    for planted, rate, base in ((counts["gaps"], 0.01, gap_slots), (counts["spikes"], 0.005, slots),
                                (counts["duplicates"], 0.01, slots)):
        assert abs(planted - rate * base) < 5 * (rate * base) ** 0.5, (planted, rate * base)


def test_spikes_above_and_readings_below_the_rule_bound() -> None:
    """The published reject rule separates spikes from genuine readings exactly."""
    tags = plant_tags(SPEC, 0)
    chunk = day_chunk(SPEC, 0, 0, tags)
    high = np.array([physical_max(tags[t].material) for t in chunk.tag])
    assert (chunk.quantity[chunk.kind == SPIKE] > high[chunk.kind == SPIKE]).all()
    assert (chunk.quantity[chunk.kind == NORMAL] < high[chunk.kind == NORMAL]).all()
    assert (chunk.quantity[chunk.kind == NORMAL] > 0).all()
    assert (chunk.kind == DUPLICATE).sum() > 0


def test_tags_of_a_binding_never_within_the_near_duplicate_tolerance() -> None:
    """Two tags of one binding at the same hour differ by more than 0.5 (dedupe-near must not fire)."""
    tags = plant_tags(SPEC, 0)
    chunk = day_chunk(SPEC, 0, 5, tags)
    normal = chunk.kind == NORMAL
    material = np.array([tags[t].material for t in chunk.tag[normal]])
    for hour in np.unique(chunk.hour[normal])[:6]:
        for m in np.unique(material):
            values = np.sort(chunk.quantity[normal][(chunk.hour[normal] == hour) & (material == m)])
            assert len(values) >= 2 and np.diff(values).min() > 0.5
