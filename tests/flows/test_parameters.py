"""Flow parameters: typed keyword arguments whose schema carries each field's bounds and
description, and that refuse bad values and unknown keys before anything runs."""

from __future__ import annotations

from pathlib import Path

import inspect

import pytest

FLOWS = {
    "flows.ingest:ingest_archive": "IngestParams",
    "flows.synthesize:synthesize_archive": "SynthesizeParams",
    "flows.training:train_pose": "TrainPoseParams",
    "flows.training:train_gait": "TrainGaitParams",
    "flows.features:extract_features": "ExtractFeaturesParams",
    "flows.describe:describe": "DescribeParams",
    "flows.evaluate:evaluate_descriptors": "EvaluateParams",
    "flows.pipeline:run_pipeline": "PipelineParams",
}


def _flow(entrypoint: str):
    import importlib

    module, _, name = entrypoint.partition(":")
    return getattr(importlib.import_module(module), name)


def _schema(flow) -> dict:
    from prefect.utilities.callables import parameter_schema

    return parameter_schema(flow.fn).model_dump_for_openapi()


@pytest.mark.parametrize("entrypoint", sorted(FLOWS))
def test_each_flow_takes_its_models_fields_as_keywords_with_bounds_and_descriptions(entrypoint):
    import params

    flow, model = _flow(entrypoint), getattr(params, FLOWS[entrypoint])
    signature = inspect.signature(flow.fn)
    assert list(signature.parameters) == list(model.model_fields)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())
    schema = _schema(flow)
    assert list(schema["properties"]) == list(model.model_fields)
    assert set(schema.get("required", ())) == {n for n, f in model.model_fields.items() if f.is_required()}
    for name, field in model.model_fields.items():
        if field.description:
            assert schema["properties"][name]["description"] == field.description, name


def test_the_schema_carries_bounds_choices_and_nested_groups():
    from flows.ingest import ingest_archive
    from flows.pipeline import run_pipeline

    frame_size = _schema(ingest_archive)["properties"]["frame_size"]
    assert (frame_size["minimum"], frame_size["maximum"], frame_size["default"]) == (16, 2048, 299)
    assert "pixels" in frame_size["description"]
    schema = _schema(run_pipeline)
    assert schema["properties"]["layout"]["enum"] == ["casia-b", "tum-gaid", "folder"]
    gait = schema["definitions"]["GaitTrainingOptions"]
    assert gait["additionalProperties"] is False
    assert gait["properties"]["rnn_layers"]["maximum"] == 4 and gait["properties"]["rnn_layers"]["description"]


def test_bad_values_and_unknown_keys_are_refused_with_the_key_named():
    from prefect.exceptions import ParameterTypeError, SignatureMismatchError

    from flows.ingest import ingest_archive

    good = {"archive": "data/archive", "store": "data/store.zarr"}
    accepted = ingest_archive.validate_parameters({**good, "frame_size": "136", "compute": {"n_workers": 3}})
    assert accepted["frame_size"] == 136 and accepted["compute"].n_workers == 3
    with pytest.raises(ParameterTypeError, match=r"frame_size: Input should be greater than or equal to 16"):
        ingest_archive.validate_parameters({**good, "frame_size": 5})
    with pytest.raises(ParameterTypeError, match=r"layout: Input should be 'casia-b', 'tum-gaid' or 'folder'"):
        ingest_archive.validate_parameters({**good, "layout": "casia"})
    with pytest.raises(SignatureMismatchError, match=r"frame_sise"):
        ingest_archive.validate_parameters({**good, "frame_sise": 136})
    with pytest.raises(ParameterTypeError, match=r"compute.n_workerz: Extra inputs are not permitted"):
        ingest_archive.validate_parameters({**good, "compute": {"n_workerz": 1}})
    with pytest.raises(ParameterTypeError, match=r"archive: Field required"):
        ingest_archive.validate_parameters({"store": "data/store.zarr"})
    # A URL would otherwise become a local folder named "gs:"; file:// URLs are their path; s3:// URLs
    # stay text (a Path would fold their "//").
    with pytest.raises(ParameterTypeError, match=r"store: .*the gs:// scheme is not supported.*s3://bucket/prefix"):
        ingest_archive.validate_parameters({**good, "store": "gs://bucket/store.zarr"})
    with pytest.raises(ParameterTypeError, match=r"archive: .*the s3:// scheme is not supported"):
        ingest_archive.validate_parameters({**good, "archive": "s3://bucket/archive"})
    accepted = ingest_archive.validate_parameters({**good, "store": "file:///data/store.zarr"})
    assert accepted["store"] == Path("/data/store.zarr")
    accepted = ingest_archive.validate_parameters({**good, "store": "S3://bucket/stores/casia/"})
    assert accepted["store"] == "s3://bucket/stores/casia"
    assert isinstance(ingest_archive.validate_parameters(good)["store"], Path)


def test_the_flow_body_still_gets_one_validated_model():
    from params import IngestParams, keyword_parameters

    seen = []

    @keyword_parameters(IngestParams)
    def body(params: IngestParams) -> None:
        seen.append(params)

    body(archive="a", store="b", frame_size=64)
    assert seen == [IngestParams(archive="a", store="b", frame_size=64)]
    with pytest.raises(TypeError):
        body(IngestParams(archive="a", store="b"))  # one blob is no longer accepted
