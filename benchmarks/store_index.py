"""Listing and skipping at archive scale: the store's catalogue over many stored sequences.

What runs, on one process: N sequence folders are written straight into a store (each a
`zarr.json` with attributes of the size ingest records, no arrays: synthetic index entries, as
the issue allows), then, each timed:
  - cold listing: `SequenceStore.all_sequence_attrs()` with no catalogue, which reads every
    group's metadata (what every listing cost before `_catalogue.json`);
  - warm listing: the same call on the unchanged store (stats the folders, reads the catalogue);
  - skip decision: `storage.ingest.current_sequences` for N manifest entries carrying their
    content hashes, against that listing (what `ingest_archive` runs before submitting any
    work; every entry comes out current);
  - listing after 1 % new sequences were added (re-reads only the new folders).
Quick: 5,000 sequences; full: 100,000. Page-cache-warm figures on the local file system: the CPU
and system-call cost, not disk speed. Content hashing of the sources themselves is not timed (the
fingerprint task's cache skips unchanged files before this point).

Target (full): warm listing + skip decision of 100,000 sequences within 10 s.

Run: `python -m benchmarks.store_index [--full]` or `python -m benchmarks --only store_index`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Target, run_standalone
from storage.frames import FrameSpec
from storage.ingest import current_sequences, ingest_code_version
from storage.manifest import SequenceEntry
from storage.store import SEQUENCES, SequenceStore

NAME = "store_index"
SPEC = FrameSpec(size=136)
ADDED_SHARE = 0.01


def run(quick: bool) -> dict[str, Any]:
    count = 5_000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="gaitflow-index-") as folder:
        store = SequenceStore(Path(folder) / "store.zarr", create=True)
        started = time.perf_counter()
        entries = [_entry(number) for number in range(count)]
        for entry in entries:
            _write_synthetic_sequence(store, entry)
        write_s = time.perf_counter() - started

        cold_s, listed = _timed(store.all_sequence_attrs)
        warm_s, listed_again = _timed(store.all_sequence_attrs)
        skip_s, current = _timed(lambda: current_sequences(listed_again, entries, SPEC))
        if listed != listed_again or len(current) != count:
            raise AssertionError(f"listings differ or not every entry is current ({len(current)} of {count})")
        added = [_entry(count + number) for number in range(int(count * ADDED_SHARE))]
        for entry in added:
            _write_synthetic_sequence(store, entry)
        grown_s, grown = _timed(store.all_sequence_attrs)
        if len(grown) != count + len(added):
            raise AssertionError(f"listed {len(grown)} after adding, expected {count + len(added)}")
        catalogue_mb = (store.path / "_catalogue.json").stat().st_size / 1e6
        shutil.rmtree(store.path, ignore_errors=True)

    figures = {
        "sequences": count, "write_synthetic_s": round(write_s, 2),
        "cold_listing_s": round(cold_s, 3), "warm_listing_s": round(warm_s, 3), "skip_decision_s": round(skip_s, 3),
        "warm_listing_and_skip_s": round(warm_s + skip_s, 3),
        "cold_over_warm": round(cold_s / max(warm_s, 1e-9), 2),
        "added_sequences": len(added), "listing_after_adding_s": round(grown_s, 3),
        "catalogue_mb": round(catalogue_mb, 2),
    }
    print(f"{'sequences':>28}: {count:,}")
    for key in ("cold_listing_s", "warm_listing_s", "skip_decision_s", "listing_after_adding_s", "catalogue_mb"):
        print(f"{key:>28}: {figures[key]}")
    targets = [] if quick else [
        Target("warm listing + skip decision of 100,000 stored sequences (s)", figures["warm_listing_and_skip_s"],
               "<=", 10.0),
    ]
    return {"figures": figures, "targets": targets}


def _entry(number: int) -> SequenceEntry:
    """The `number`-th walk of a CASIA-B-shaped archive: 110 walks a person (nm 6, bg 2, cl 2 x 11 views)."""
    subject, rest = divmod(number, 110)
    condition = "nm" if rest < 66 else "bg" if rest < 88 else "cl"
    index = rest % 6 + 1 if condition == "nm" else rest % 2 + 1
    view = (rest % 11) * 18
    sequence_id = f"{subject + 1:05d}-{condition}-{index:02d}-{view:03d}-{number:06d}"
    return SequenceEntry(
        sequence_id=sequence_id, source=f"/archive/video/{sequence_id}.avi", kind="video",
        subject=f"{subject + 1:05d}", condition=condition, index=index, view=view, session=1,
        size=350_000 + number, mtime_ns=1_790_000_000_000_000_000, content_hash=f"{number:064x}", sidecar=None,
    )


def _write_synthetic_sequence(store: SequenceStore, entry: SequenceEntry) -> None:
    """A sequence folder as ingest leaves it, metadata only."""
    folder = store.path / SEQUENCES / entry.sequence_id
    folder.mkdir()
    (folder / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group",
                                                  "attributes": synthetic_attrs(entry)}))


def synthetic_attrs(entry: SequenceEntry) -> dict:
    """The attributes `storage.ingest` records for a sequence (labels, source identity,
    extraction, code version, rates, covariates)."""
    return {
        **entry.labels(), "layout": "casia-b", "source": entry.source, "source_size": entry.size,
        "source_mtime_ns": entry.mtime_ns, "content_hash": entry.content_hash, "extraction": SPEC.as_attrs(),
        "code_version": ingest_code_version(), "source_fps": 25.0, "fps": 25.0, "has_groundtruth": True,
        "covariates": {"condition": entry.condition, "outfit": {"top": "#0f2328", "bottom": "#c0c088",
                       "shoes": "#102717", "pattern": "stripes"}, "speed": 0.9, "view": entry.view},
        "frame_count": 60, "sequence_id": entry.sequence_id,
    }


def _timed(call):
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


if __name__ == "__main__":
    raise SystemExit(run_standalone(NAME, run))
