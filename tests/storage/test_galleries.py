"""Galleries in the store: enrol, read, refuse mixed models, write whole."""

from __future__ import annotations

import numpy as np
import pytest

from storage.galleries import GalleryError, check_open_set, enroll, gallery_names, read_gallery
from storage.store import SequenceStore

MODELS = dict(gait_model="gaitA", gait_model_path="/m/gait-gaitA.keras", features="poseA",
              pose_model="/m/pose-poseA.keras", frame_size=32)


def test_enrolling_adds_people_and_replaces_a_walk_enrolled_again(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    enroll(store, "lab", np.ones((2, 4)), ["ann", "ann"], ["a1", "a2"], **MODELS)
    gallery = enroll(store, "lab", np.full((2, 4), 2.0), ["bob", "ann"], ["b1", "a2"], **MODELS)
    assert gallery.people == ["ann", "bob"] and len(gallery) == 3
    assert gallery.sequences.tolist() == ["a1", "b1", "a2"] and gallery.vectors[-1, 0] == 2.0
    again = read_gallery(SequenceStore(tmp_path / "s.zarr"), "lab")
    assert again.gait_model == "gaitA" and again.frame_size == 32 and again.subjects.tolist() == ["ann", "bob", "ann"]
    assert gallery_names(store) == ["lab"] and not list((store.path / "_staging").iterdir())


def test_another_gait_model_is_refused_naming_the_gallery_and_both_models(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    enroll(store, "lab", np.ones((1, 4)), ["ann"], ["a1"], **MODELS)
    with pytest.raises(GalleryError, match=r"'lab'.*gaitA.*gaitB"):
        enroll(store, "lab", np.ones((1, 4)), ["bob"], ["b1"], **{**MODELS, "gait_model": "gaitB"})
    with pytest.raises(GalleryError, match=r"'lab'.*poseA.*poseB"):
        enroll(store, "lab", np.ones((1, 4)), ["bob"], ["b1"], **{**MODELS, "features": "poseB"})
    assert read_gallery(store, "lab").people == ["ann"]


def test_missing_or_bad_galleries_are_clear_errors(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    with pytest.raises(GalleryError, match="'nobody' is not in"):
        read_gallery(store, "nobody")
    with pytest.raises(GalleryError, match="nothing to enroll"):
        enroll(store, "lab", np.zeros((0, 4)), [], [], **MODELS)
    with pytest.raises(GalleryError, match="name"):
        enroll(store, "../x", np.ones((1, 4)), ["a"], ["a"], **MODELS)
    with pytest.raises(GalleryError, match="NaN"):
        enroll(store, "lab", np.full((1, 4), np.nan), ["a"], ["a"], **MODELS)
    with pytest.raises(GalleryError, match="walks given more than once: w1"):
        enroll(store, "lab", np.ones((3, 4)), ["a", "a", "b"], ["w1", "w1", "w2"], **MODELS)
    assert store.named_groups("galleries") == []  # nothing of any refused enrolment was written


def test_a_failed_write_leaves_the_gallery_as_it_was(tmp_path, monkeypatch):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    enroll(store, "lab", np.ones((1, 4)), ["ann"], ["a1"], **MODELS)
    import storage.store

    def broken(*args, **kwargs):
        raise OSError("disk fell off")

    monkeypatch.setattr(storage.store, "_write_group", broken)
    with pytest.raises(OSError):
        enroll(store, "lab", np.ones((1, 4)), ["bob"], ["b1"], **MODELS)
    assert read_gallery(store, "lab").people == ["ann"]


def test_a_gallery_of_one_person_cannot_tell_people_from_strangers(tmp_path):
    store = SequenceStore(tmp_path / "s.zarr", create=True)
    gallery = enroll(store, "lab", np.ones((2, 4)), ["ann", "ann"], ["a1", "a2"], **MODELS)
    with pytest.raises(GalleryError, match="'lab' holds 1 person"):
        check_open_set(gallery)
    assert check_open_set(enroll(store, "lab", np.ones((1, 4)), ["bob"], ["b1"], **MODELS)).people == ["ann", "bob"]
