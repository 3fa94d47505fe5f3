"""Makes the pose model that ships with gaitflow: `python -m gaitflow.packaged_pose`.

The small HumanPoseNN trained on walkers of gaitflow's own renderer: 96 people of seed 31337,
which no archive of the demo, the tests or the benchmarks uses (their people are keyed by
other seeds, so none of the people they test on was seen). Seven CASIA-B views from 0 to 180
degrees, one walk each of normal, bag and coat, 40 frames at 136 px, people twice as different
as the walker's default (the demo's and the accuracy benchmark's `spread`). Trained as
`train-pose` trains, with the accuracy benchmark's step budget (about 36k frames).

The model and its record (how it was made, its quality on held-out synthetic people) go to
`pretrained/`; `PoseTrainingOptions.initial_model="synthetic"` starts pose training from it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pretrained import SYNTHETIC_POSE_MODEL

SEED = 31337
SUBJECTS = 96
VIEWS = (0, 36, 72, 90, 108, 144, 180)
WALKS = (("nm", 1), ("bg", 1), ("cl", 1))
FRAMES, SIZE, SPREAD = 40, 136, 2.0
# 96 people x 3 walks x 7 views = 2016 walks; 4 new frames of each fitting walk an epoch for 5
# epochs is about the 36k frames the accuracy benchmark's pose training sees.
EPOCHS, FRAMES_PER_SEQUENCE = 5, 4


def _render(job_and_root) -> str:
    from synth.archive import render_job

    job, root = job_and_root
    return render_job(job, Path(root))


def make_synthetic_pose_model(workdir: Path, out_model: Path, out_record: Path, *, workers: int = 2) -> dict:
    """Renders the archive under `workdir`, ingests it, trains, and writes the model and record."""
    from stages.pose_training import train_pose_model
    from storage.frames import FrameSpec
    from storage.ingest import ingest_sequence
    from storage.manifest import discover
    from storage.store import SequenceStore
    from synth.archive import ArchiveSpec, plan_archive

    spec = ArchiveSpec(subjects=SUBJECTS, views=VIEWS, walks=WALKS, frames=FRAMES, size=SIZE, seed=SEED, spread=SPREAD)
    archive = workdir / "archive"
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_render, [(job, str(archive)) for job in plan_archive(spec)], chunksize=8))
    store = SequenceStore(workdir / "store.zarr", create=True)
    with store.writer():
        for entry in discover(archive, "casia-b").entries:
            ingest_sequence(store, entry, FrameSpec(size=SIZE), layout="casia-b")
    trained = train_pose_model(
        store, workdir / "models", backbone="small", loss="sce", epochs=EPOCHS, batch_size=16, learning_rate=1e-3,
        frames_per_sequence=FRAMES_PER_SEQUENCE, validation_fraction=0.15, augment=True, seed=0,
    )
    record = {
        **{k: v for k, v in trained.record.items() if k != "store"},
        "archive": {"seed": SEED, "subjects": SUBJECTS, "views": list(VIEWS), "walks": [list(w) for w in WALKS],
                    "frames": FRAMES, "size": SIZE, "spread": SPREAD, "style": "standard"},
        "made_by": "python -m gaitflow.packaged_pose",
    }
    out_model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trained.path, out_model)
    out_record.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gaitflow.packaged_pose", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="where the archive and store go (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=SYNTHETIC_POSE_MODEL, help="the .keras file to write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gaitflow-packaged-pose-") as scratch:
        workdir = args.workdir or Path(scratch)
        record = make_synthetic_pose_model(workdir, args.out, args.out.with_suffix(".json"))
    print(json.dumps({k: v for k, v in record["metrics"].items() if "pck_0.1" in k}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
