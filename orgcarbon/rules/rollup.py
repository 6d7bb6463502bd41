"""Vectorised roll-ups: sub-process → process → site → organisation, per period."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from orgcarbon.rules.records import Records
from orgcarbon.rules.results import Rollup

__all__ = ["build_rollups", "compact_codes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def compact_codes(codes: IntArray, space: int) -> tuple[IntArray, IntArray]:
    """Renumber ``codes`` (all < ``space``) densely; return (dense codes, original code per dense)."""
    if space <= max(4 * len(codes), 1 << 20):
        # A counting pass is linear; np.unique would sort the whole column.
        present = np.bincount(codes, minlength=space) > 0
        originals = np.flatnonzero(present)
        remap = np.cumsum(present) - 1
        return remap[codes], originals
    originals, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64), originals


def _aggregate(matrix: FloatArray, groups: IntArray, n_groups: int) -> FloatArray:
    out = np.zeros((n_groups, matrix.shape[1]))
    np.add.at(out, groups, matrix)
    return out


def build_rollups(
    records: Records,
    period: IntArray,
    periods: tuple[str, ...],
    tco2: FloatArray,
    rule_index: IntArray,
    rule_sign: FloatArray,
    rule_direct: FloatArray,
    organization: str,
) -> tuple[Rollup, Rollup, Rollup, Rollup, FloatArray]:
    """Sub-process, process, site and organisation roll-ups, plus tCO2 per (rule, period).

    One weighted count fills a small (sub-process, period, rule) cube; signs and the
    direct/indirect split are applied to the cube, not to every record.
    """
    n_proc, n_sub, n_per = len(records.processes), len(records.subprocesses), len(periods)
    n_rules = len(rule_sign)
    space = len(records.sites) * n_proc * n_sub
    # In place: each full-length temporary costs as much as the arithmetic itself.
    combined = records.site * n_proc
    combined += records.process
    combined *= n_sub
    combined += records.subprocess
    dense, originals = compact_codes(combined, space)
    n_keys = len(originals)
    cells = dense * n_per
    cells += period
    cells *= n_rules
    cells += rule_index
    cube = np.bincount(cells, weights=tco2, minlength=n_keys * n_per * n_rules).reshape(
        n_keys, n_per, n_rules
    )
    sub_net = cube @ rule_sign
    sub_direct = cube @ (rule_sign * rule_direct)
    by_rule = cube.sum(axis=0).T  # (rules, periods), magnitudes

    site_code = originals // (n_proc * n_sub)
    proc_code = (originals // n_sub) % n_proc
    sub_code = originals % n_sub
    sub_keys = tuple(
        (records.sites[s], records.processes[p], records.subprocesses[q])
        for s, p, q in zip(site_code.tolist(), proc_code.tolist(), sub_code.tolist(), strict=True)
    )
    subprocesses = Rollup("subprocess", sub_keys, periods, sub_net, sub_direct)

    proc_dense, proc_orig = compact_codes(
        site_code * n_proc + proc_code, len(records.sites) * n_proc
    )
    proc_keys = tuple(
        (records.sites[c // n_proc], records.processes[c % n_proc]) for c in proc_orig.tolist()
    )
    processes = Rollup(
        "process",
        proc_keys,
        periods,
        _aggregate(sub_net, proc_dense, len(proc_orig)),
        _aggregate(sub_direct, proc_dense, len(proc_orig)),
    )

    site_dense, site_orig = compact_codes(proc_orig // n_proc, len(records.sites))
    sites = Rollup(
        "site",
        tuple((records.sites[c],) for c in site_orig.tolist()),
        periods,
        _aggregate(processes.net, site_dense, len(site_orig)),
        _aggregate(processes.direct, site_dense, len(site_orig)),
    )
    org = Rollup(
        "organization",
        ((organization,),),
        periods,
        sites.net.sum(axis=0, keepdims=True),
        sites.direct.sum(axis=0, keepdims=True),
    )
    return subprocesses, processes, sites, org, by_rule
