"""Helpers over the long results table that the report's sections, sentences and plots share (pandas only, no
matplotlib): the ladder order of the variants, the rows matching a key, the largest case of each family."""

from __future__ import annotations

import pandas as pd


def variant_order(df: pd.DataFrame) -> list[str]:
    """The variants in ladder order: by rung, then by name (a variant without a rung last)."""
    rungs = df.groupby("variant")["rung"].min().fillna(9)
    return sorted(rungs.index, key=lambda v: (rungs[v], v))


def matching(df: pd.DataFrame, columns: list[str], key: tuple) -> pd.DataFrame:
    """The rows of df whose `columns` equal `key`, element by element."""
    mask = pd.Series(True, index=df.index)
    for column, value in zip(columns, key, strict=True):
        mask &= df[column] == value
    return df[mask]


def largest_cases(ops: pd.DataFrame) -> pd.DataFrame:
    """The largest size of each (machine, device, variant, dtype, mode, family): the case furthest from launch
    overhead and caches, the one a roofline should place."""
    idx = ops.groupby(["machine", "device", "variant", "dtype", "mode", "family"])["elements"].idxmax()
    return ops.loc[idx]
