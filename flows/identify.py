"""Flows `enroll_gallery` and `identify_footage`: people into a named gallery, and who walks in
new footage (open set: "unknown" below the gallery's threshold at a stated false-accept rate).

Thin: they sequence tasks and the existing flows (ingest by walker track, `extract_features`,
`describe`); the algorithms are plain functions in `storage.tracks`, `storage.galleries`,
`stages.identification` and `evaluation.open_set`.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from prefect import flow

from flows.common import beside_store, store_writer, tracked_run
from flows.compute import shared_cluster
from flows.describe import describe
from flows.features import extract_features
from params import EnrollParams, IdentifyParams, keyword_parameters
from stages.models import read_record
from storage.galleries import GalleryError
from storage.tracks import TrackSpec
from tasks.identify import (
    check_gallery_models, contact_sheet, enroll_walks, enrolment_from_store, footage_sources, identify_tracks,
    load_gallery, longest_tracks, stored_vectors, stranger_walks,
)
from tasks.ingest import ingest_bundle
from tasks.models import resolve_model
from tasks.pipeline import pose_input_size
from tracking.flow_runs import log_run_artifacts, log_run_document, log_run_metrics

CHUNK_FRAMES = 16


@flow(name="enroll-gallery")
@keyword_parameters(EnrollParams)
def enroll_gallery(params: EnrollParams) -> dict:
    """Adds one person (from videos) or a store's labelled people to a named gallery."""
    started = time.perf_counter()
    if bool(params.videos) == (params.from_store is not None):
        raise ValueError("enroll: give either videos of one person (with name) or from_store, not both or neither")
    if params.videos and not params.name:
        raise ValueError("enroll: videos need the person's name")
    store = str(params.store)
    with tracked_run(params.tracking, "enroll-gallery", params) as run_id, \
            store_writer(params.store, create=True) as (lease, _), \
            shared_cluster(params.compute) as compute:
        stage = dict(compute=compute, tracking=params.tracking.model_copy(update={"parent_run_id": run_id}))
        downloads = str(beside_store(params.store, "models") / "downloaded")
        gait_path, gait_tag = resolve_model(params.gait_model, params.tracking, downloads)
        pose_path, pose_tag = resolve_model(params.pose_model, params.tracking, downloads)
        features = params.features or read_record(gait_path).get("features") or pose_tag
        if features != pose_tag:
            raise GalleryError(f"pose model {params.pose_model} makes features {pose_tag}, but gait model {gait_tag} "
                               f"reads features {features}")
        check_gallery_models(store, params.gallery, gait_tag, features)
        notes, failed = [], []
        if params.videos:
            frame_size = params.frame_size or pose_input_size(pose_path, "small")
            entries = [entry for video in params.videos for entry in footage_sources(str(video))]
            spec = TrackSpec(size=frame_size, fps=params.fps, min_track_frames=params.min_track_frames)
            outcomes = ingest_bundle(store, lease, entries, [e.content_hash for e in entries], spec, "folder",
                                     CHUNK_FRAMES)
            failed += [{"id": o.sequence_id, "reason": o.reason} for o in outcomes if o.status == "failed"]
            tracks = [o.sequence_id for o in outcomes if o.status in ("stored", "skipped")]
            if not tracks:
                raise GalleryError(f"gallery {params.gallery!r}: no walker to enroll in "
                                   + "; ".join(f"{f['id']}: {f['reason']}" for f in failed))
            extract_features(store=params.store, pose_model=pose_path, **stage)
            describe(store=params.store, gait_model=gait_path, features=features, **stage)
            chosen = longest_tracks(store, tracks)
            notes += [f"{source}: enrolled its longest walker {track}" for source, track in chosen.items()]
            ids, vectors, missing = stored_vectors(store, list(chosen.values()), gait_tag)
            failed += [{"id": i, "reason": reason} for i, reason in missing.items()]
            subjects = [params.name] * len(ids)
        else:
            describe(store=params.from_store, gait_model=gait_path, features=features, **stage)
            ids, vectors, subjects, frame_size = enrolment_from_store(
                str(params.from_store), gait_tag, list(params.subjects) if params.subjects else None, params.sequences)
        if not ids:
            raise GalleryError(f"gallery {params.gallery!r}: nothing to enroll")
        models = dict(gait_model=gait_tag, gait_model_path=gait_path, features=features, pose_model=pose_path,
                      frame_size=frame_size)
        gallery = enroll_walks(store, lease, params.gallery, vectors, subjects, ids, models)
        summary = {
            "gallery": params.gallery, "store": str(params.store), "enrolled": len(ids),
            "people": gallery.people, "walks": len(gallery), "gait_model": gait_tag, "features": features,
            "notes": notes, "failed": failed, "seconds": round(time.perf_counter() - started, 3),
            "mlflow_run_id": run_id,
        }
        log_run_document(params.tracking, run_id, summary, "enrolment.json")
        log_run_metrics(params.tracking, run_id, {"enrolled": len(ids), "people": len(gallery.people),
                                                  "walks": len(gallery)})
    return summary


@flow(name="identify-footage")
@keyword_parameters(IdentifyParams)
def identify_footage(params: IdentifyParams) -> dict:
    """Every walker of the footage (one track each), named from the gallery or "unknown"."""
    started = time.perf_counter()
    store = str(params.store)
    with tracked_run(params.tracking, "identify-footage", params) as run_id, \
            store_writer(params.store) as (lease, _), \
            shared_cluster(params.compute) as compute:
        stage = dict(compute=compute, tracking=params.tracking.model_copy(update={"parent_run_id": run_id}))
        gallery = load_gallery(store, params.gallery)
        entries = footage_sources(str(params.footage))
        spec = TrackSpec(size=gallery.frame_size, fps=params.fps, min_track_frames=params.min_track_frames)
        outcomes = ingest_bundle(store, lease, entries, [e.content_hash for e in entries], spec, "folder",
                                 CHUNK_FRAMES) if entries else []
        wanted = ("stored",) if params.only_new else ("stored", "skipped")
        tracks = [o.sequence_id for o in outcomes if o.status in wanted]
        failed = [{"id": o.sequence_id, "reason": o.reason} for o in outcomes if o.status == "failed"]
        short = [{"id": o.sequence_id, "reason": o.reason} for o in outcomes if o.status == "too_short"]
        removed = [o.sequence_id for o in outcomes if o.status == "removed"]
        if tracks:
            features = extract_features(store=params.store, pose_model=gallery.pose_model, **stage)
            described = describe(store=params.store, gait_model=gallery.gait_model_path, features=gallery.features,
                                 **stage)
            for kind, made, wanted_tag in (("pose features", features["pose_model"], gallery.features),
                                           ("gait model", described["gait_model"], gallery.gait_model)):
                if made != wanted_tag:
                    raise GalleryError(f"gallery {params.gallery!r} was made with {kind} {wanted_tag}, but its file "
                                       f"now makes {made}; enroll again")
        ids, vectors, missing = stored_vectors(store, tracks, gallery.gait_model)
        failed += [{"id": i, "reason": reason} for i, reason in missing.items()]
        _, strangers, stranger_subjects = stranger_walks(store, gallery)
        rows, threshold = identify_tracks(gallery, store, ids, vectors, params.far, params.classifier, strangers,
                                          stranger_subjects)
        out = params.out or beside_store(params.store, "identified") / f"{time.strftime('%Y%m%d-%H%M%S')}-{run_id[:8]}"
        out.mkdir(parents=True, exist_ok=True)
        sheet = contact_sheet(store, rows, str(out / "contact_sheet.png")) if rows else None
        summary = {
            "tracks": rows, "threshold": threshold.threshold, "far": threshold.far, "far_target": params.far,
            "tar": threshold.as_dict()["tar"], "calibration": threshold.calibration,
            "impostor_attempts": threshold.impostors, "stranger_walks": len(strangers),
            "stranger_people": len(set(stranger_subjects)), "classifier": params.classifier, "gallery": params.gallery,
            "people": gallery.people, "footage": str(params.footage), "sources": len(entries),
            "skipped": short, "removed": removed, "failed": failed, "contact_sheet": sheet, "out": str(out),
            "seconds": round(time.perf_counter() - started, 3), "mlflow_run_id": run_id,
        }
        _write_tables(out, summary)
        log_run_artifacts(params.tracking, run_id, str(out), "identification")
        named = sum(row["identity"] != "unknown" for row in rows)
        log_run_metrics(params.tracking, run_id, {
            "tracks": len(rows), "named": named, "unknown": len(rows) - named, "too_short": len(short),
            "failed": len(failed), "threshold": threshold.threshold, "threshold_far": threshold.far,
            "threshold_tar": threshold.tar, "impostor_attempts": threshold.impostors,
            "calibrated_on_strangers": int(threshold.calibration == "strangers"), "wall_seconds": summary["seconds"],
        })
    return summary


def _write_tables(out: Path, summary: dict) -> None:
    """The tracks table as `tracks.csv` and the whole answer as `identification.json`."""
    with (out / "tracks.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track", "identity", "best", "score", "first_frame", "last_frame", "source"])
        for row in summary["tracks"]:
            writer.writerow([row["track"], row["identity"], row["best"], row["score"], *row["frames"], row["source"]])
    (out / "identification.json").write_text(json.dumps(summary, indent=1, default=str))
