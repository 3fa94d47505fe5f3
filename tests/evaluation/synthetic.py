"""Small labelled descriptor sets with known structure for the evaluation tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from evaluation.labels import SequenceLabels

CASIA_WALKS = (("nm", (1, 2, 3, 4, 5, 6)), ("bg", (1, 2)), ("cl", (1, 2)))
TUM_SESSION_1_WALKS = (("n", (1, 2, 3, 4, 5, 6)), ("b", (1, 2)), ("s", (1, 2)))
TUM_SESSION_2_WALKS = (("n", (1, 2)), ("b", (1, 2)), ("s", (1, 2)))

# descriptor(subject_number, condition, index, view, session) -> (D,) vector
DescriptorFn = Callable[[int, str, int, int, int], np.ndarray]


def separable(subject: int, condition: str, index: int, view: int, session: int) -> np.ndarray:
    """Each subject a far-apart one-hot with a little walk-dependent wobble."""
    vector = np.zeros(32)
    vector[subject % 32] = 10.0
    vector[(subject + 1) % 32] += 0.01 * index + 0.001 * view
    return vector


def build(
    rows: Iterable[tuple[str, str, int, int, int]], descriptor: DescriptorFn = separable
) -> tuple[np.ndarray, SequenceLabels]:
    """(N, D) descriptors and labels of rows (subject, condition, index, view, session)."""
    rows = list(rows)
    labels = SequenceLabels.from_records(
        dict(subject=s, condition=c, index=i, view=v, session=t) for s, c, i, v, t in rows
    )
    digits = [int("".join(ch for ch in s if ch.isdigit())) for s, *_ in rows]
    descriptors = np.stack(
        [descriptor(n, c, i, v, t) for n, (_, c, i, v, t) in zip(digits, rows)]
    ).astype(np.float64)
    return descriptors, labels


def casia_rows(
    subjects: Iterable[str], views: Iterable[int] = (0, 90), walks=CASIA_WALKS
) -> list[tuple[str, str, int, int, int]]:
    views = tuple(views)
    return [
        (s, condition, index, view, 1)
        for s in subjects
        for condition, indices in walks
        for index in indices
        for view in views
    ]


def tum_rows(
    session_1_subjects: Iterable[str], session_2_subjects: Iterable[str] = ()
) -> list[tuple[str, str, int, int, int]]:
    rows = [
        (s, condition, index, 90, 1)
        for s in session_1_subjects
        for condition, indices in TUM_SESSION_1_WALKS
        for index in indices
    ]
    rows += [
        (s, condition, index, 90, 2)
        for s in session_2_subjects
        for condition, indices in TUM_SESSION_2_WALKS
        for index in indices
    ]
    return rows


def view_swapping(subject: int, condition: str, index: int, view: int, session: int) -> np.ndarray:
    """Subjects 75..77 at views 0, 90, 180: views 0 and 90 show each subject as itself; at 180
    each subject looks like the next one (75 -> 76 -> 77 -> 75), shifted a little off the others.

    Known by construction, for every condition and either classifier (rows gallery view
    0/90/180, columns probe view 0/90/180):
      acc = [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
      standard (identical view excluded) per probe view: 0 -> 0.5, 90 -> 0.5, 180 -> 0.0;
        headline 1/3.
      pooled (one gallery of every other view) per probe view: 0 -> 1, 90 -> 1 (the same
        subject at the near view beats the shifted look-alike at 180), 180 -> 0; mean 2/3.
    """
    who = subject if view != 180 else 75 + (subject - 75 + 1) % 3
    vector = np.zeros(8)
    vector[who - 75] = 10.0
    if view == 180:
        vector[7] = 1.0
    vector[6] = 0.01 * index
    return vector
