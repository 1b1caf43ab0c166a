"""Near copies between two tables: rows within a small distance of a reference row.

The distance: categorical, boolean and text features must be equal and the
numeric ones missing in the same places (*equality-coded*: those values and the
missing pattern make a group, and rows of different groups are never near);
over the numeric and datetime features, the root-mean-square difference in
units of the reference's robust scale, ``(x - median) / IQR`` (the standard
deviation where the IQR is 0, 1 where both are). A row is a near copy when that
distance to its nearest reference row is at most ``radius`` (by default
``0.01``: on average 1% of an IQR per feature). With few numeric features,
independent rows also come that close by chance (see the control below).

The search (:func:`near_copies`) is exact within the rows it searches. Only
current rows whose group occurs in the reference are looked up. A k-d tree
(``scipy.spatial.cKDTree``) on the group and at most :data:`TREE_FEATURES`
numeric features (those with the most distinct values) finds the candidates,
pruned at the radius: the distance over some features is at most the distance
over all of them, so no near copy is lost, and each candidate is then measured
on every feature. A row with :data:`CANDIDATES` candidates or more is searched
again on a tree of every feature. A 30-feature k-d tree alone would visit most
of its leaves per query; this keeps a million queries to seconds. A reference
larger than ``max_reference`` rows is searched on a seeded sample of that many:
near copies of the rows left out are then missed, and the caller says so.

A control measures what chance gives: the same search once more with each
numeric feature's values shuffled across the current rows (seeded), which
keeps every feature's distribution and breaks the copies; on at most
:data:`CONTROL_ROWS` of the searched rows, its count scaled to all of them. With few numeric
features in a dense table, that control finds as many rows as the search does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CANDIDATES",
    "CONTROL_ROWS",
    "TREE_FEATURES",
    "NearCopies",
    "near_copies",
    "robust_scale",
]

TREE_FEATURES = 7
"""Numeric features the candidate tree holds (beside the group)."""
CANDIDATES = 8
"""Candidates per row the first tree returns; a row with this many is searched again."""
CONTROL_ROWS = 100_000
"""Rows the chance control searches at most (a seeded sample; its count is scaled up)."""
_DISTINCT_SAMPLE = 10_000  # reference rows whose distinct values pick the tree's features


@dataclass(frozen=True, eq=False)
class NearCopies:
    """Which current rows have a near copy, and the reference rows searched.

    ``sampled`` is the number of reference rows searched when it is a sample,
    else ``None``; ``distance`` is each current row's distance to its nearest
    reference row when that is at most the radius, else ``inf``; ``chance`` the
    rows as near once each numeric feature is shuffled across the rows.
    """

    mask: np.ndarray
    distance: np.ndarray
    sampled: int | None
    chance: int


def robust_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``values`` (nan for missing): the median and the IQR-ish scale."""
    present = ~np.isnan(values).all(axis=0)
    centre = np.zeros(values.shape[1])
    scale = np.ones(values.shape[1])
    if present.any():
        q1, centre[present], q3 = np.nanpercentile(values[:, present], [25, 50, 75], axis=0)
        iqr = q3 - q1
        sd = np.nanstd(values[:, present], axis=0)
        scale[present] = np.where(iqr > 0, iqr, np.where(sd > 0, sd, 1.0))
    return centre, scale


def near_copies(
    current: np.ndarray,
    reference: np.ndarray,
    current_groups: np.ndarray,
    reference_groups: np.ndarray,
    *,
    radius: float,
    skip: np.ndarray,
    max_reference: int,
    random_state: int = 0,
) -> NearCopies:
    """Current rows within ``radius`` of a reference row (see the module docstring).

    ``current`` and ``reference`` are the numeric features as float arrays (nan
    for missing, one column per feature, same order), the groups one hash per row
    of the rest; rows in ``skip`` (the exact copies) are not searched.
    """
    n_ref = len(reference)
    sampled = None
    if n_ref > max_reference:
        chosen = np.random.default_rng(random_state).choice(n_ref, max_reference, replace=False)
        chosen.sort()
        reference, reference_groups = reference[chosen], reference_groups[chosen]
        sampled = max_reference
    spacing = 1.0 + 2.0 * radius  # between two groups' coordinates: beyond the radius
    codes = pd.factorize(np.concatenate([reference_groups, current_groups]))[0] * spacing
    ref_codes, cur_codes = codes[: len(reference)], codes[len(reference) :]
    searched = np.flatnonzero(~skip & pd.Series(cur_codes).isin(ref_codes).to_numpy())
    distance = np.full(len(current), np.inf)
    chance = 0
    if len(searched):
        centre, scale = robust_scale(reference)
        weight = 1.0 / np.sqrt(reference.shape[1])  # Euclidean distance / sqrt(d) is the RMS
        ref = np.column_stack([ref_codes, np.nan_to_num((reference - centre) / scale * weight)])

        def search(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
            z = np.nan_to_num((values[rows] - centre) / scale * weight)
            return _nearest(ref, np.column_stack([cur_codes[rows], z]), reference, radius)

        distance[searched] = search(current, searched)
        rng = np.random.default_rng(random_state + 1)
        control = searched
        if len(searched) > CONTROL_ROWS:
            control = np.sort(rng.choice(searched, CONTROL_ROWS, replace=False))
        hits = np.count_nonzero(search(_shuffled(current, rng), control) <= radius)
        chance = round(hits * len(searched) / len(control))
    return NearCopies(distance <= radius, distance, sampled, chance)


def _shuffled(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each column's present values permuted among its present rows (the chance control)."""
    out = values.copy()
    for j in range(values.shape[1]):
        present = np.flatnonzero(~np.isnan(values[:, j]))
        out[present, j] = values[rng.permutation(present), j]
    return out


def _nearest(ref: np.ndarray, cur: np.ndarray, raw_ref: np.ndarray, radius: float) -> np.ndarray:
    """Distance of each ``cur`` row to its nearest ``ref`` row if at most ``radius``, else inf.

    Column 0 is the group coordinate; the tree of candidates holds it and the
    :data:`TREE_FEATURES` numeric columns with the most distinct reference values.
    """
    from scipy.spatial import cKDTree  # lazily: the CLI's import time

    bound = float(np.nextafter(radius, np.inf))  # the tree's bound is strict; ours is not
    n_features = ref.shape[1] - 1
    if n_features <= TREE_FEATURES:
        found, _ = cKDTree(ref).query(cur, k=1, distance_upper_bound=bound, workers=-1)
        return np.asarray(found)
    columns = np.r_[0, 1 + _most_distinct(raw_ref)[:TREE_FEATURES]]
    tree = cKDTree(ref[:, columns])
    near, index = tree.query(cur[:, columns], k=CANDIDATES, distance_upper_bound=bound, workers=-1)
    hit = np.isfinite(near)
    rows, slots = np.nonzero(hit)
    full = np.full(near.shape, np.inf)
    full[rows, slots] = np.linalg.norm(cur[rows] - ref[index[rows, slots]], axis=1)
    out = full.min(axis=1)
    crowded = np.flatnonzero(hit[:, -1])  # as many candidates as asked: there may be more
    if len(crowded):
        again, _ = cKDTree(ref).query(cur[crowded], k=1, distance_upper_bound=bound, workers=-1)
        out[crowded] = again
    out[out > radius] = np.inf
    return out


def _most_distinct(values: np.ndarray) -> np.ndarray:
    """Column indices by their number of distinct values on a prefix of rows, most first."""
    head = values[:_DISTINCT_SAMPLE]
    distinct = [len(pd.unique(head[:, j])) for j in range(values.shape[1])]
    return np.argsort(-np.asarray(distinct), kind="stable")
