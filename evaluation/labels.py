"""Per-sequence labels that the evaluation protocols split on."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SequenceLabels:
    """Labels of N sequences, one array entry per sequence.

    Attributes:
      subject: (N,) str, the person's id as the archive names it ("001", "p001").
      condition: (N,) str, the walking condition: CASIA-B "nm" | "bg" | "cl";
        TUM GAID "n" | "b" | "s".
      index: (N,) int, the walk's number within its condition (nm-05 -> 5).
      view: (N,) int, camera view in degrees (0..180; TUM GAID is 90).
      session: (N,) int, recording session (1; TUM GAID's time-elapsed
        recordings are session 2).
    """

    subject: np.ndarray
    condition: np.ndarray
    index: np.ndarray
    view: np.ndarray
    session: np.ndarray

    def __post_init__(self) -> None:
        sizes = {name: len(getattr(self, name)) for name in _FIELDS}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"SequenceLabels fields differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.subject)

    @classmethod
    def from_records(cls, records) -> "SequenceLabels":
        """Builds labels from mappings with the keys subject, condition, index, view, session."""
        records = list(records)
        return cls(
            subject=np.asarray([str(r["subject"]) for r in records], dtype=str),
            condition=np.asarray([str(r["condition"]) for r in records], dtype=str),
            index=np.asarray([int(r["index"]) for r in records], dtype=np.int64),
            view=np.asarray([int(r["view"]) for r in records], dtype=np.int64),
            session=np.asarray([int(r.get("session", 1)) for r in records], dtype=np.int64),
        )

    def select(self, mask: np.ndarray) -> "SequenceLabels":
        """The labels of the sequences where `mask` (N,) bool is true."""
        return SequenceLabels(**{name: getattr(self, name)[mask] for name in _FIELDS})


_FIELDS = tuple(f.name for f in dataclasses.fields(SequenceLabels))
