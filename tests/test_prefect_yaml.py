"""prefect.yaml: every deployment names a real flow, and its parameters fit that flow's schema."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _deployments():
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def _flow(entrypoint: str):
    module_path, _, function = entrypoint.partition(":")
    return getattr(importlib.import_module(module_path.removesuffix(".py").replace("/", ".")), function)


def test_every_deployment_points_at_a_flow_and_its_parameters_fit_the_flow_schema():
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools import validate

    names = set()
    for deployment in _deployments():
        names.add(deployment["name"])
        flow = _flow(deployment["entrypoint"])
        assert hasattr(flow, "fn"), f"{deployment['entrypoint']} is not a Prefect flow"
        parameters = deployment["parameters"]
        schema = parameter_schema(flow).model_dump_for_openapi()  # as `prefect deploy` makes it
        # What the server checks when the deployment is created or run (schema enforcement), and
        # what the flow run itself checks; the schema alone lets unknown top-level keys through.
        validate(parameters, schema, raise_on_error=True)
        assert set(parameters) <= set(schema["properties"]), (deployment["name"], set(parameters) - set(schema["properties"]))
        flow.validate_parameters(parameters)
    assert {"ingest-archive", "train-pose", "extract-features", "train-gait", "describe", "evaluate",
            "run-pipeline", "reprocess-archive", "synthesize-archive", "enroll-gallery", "identify-footage"} <= names


def test_deployment_parameters_are_the_flows_own_keywords_not_one_blob():
    for deployment in _deployments():
        assert "params" not in deployment["parameters"], deployment["name"]
    ingest = next(d for d in _deployments() if d["name"] == "ingest-archive")
    assert ingest["parameters"]["frame_size"] == 136 and ingest["parameters"]["compute"]["n_workers"] >= 1


def test_reprocessing_is_scheduled():
    scheduled = {d["name"]: d.get("schedules") for d in _deployments()}
    assert scheduled["reprocess-archive"][0]["cron"]
    assert scheduled["identify-footage"][0]["interval"] > 0


def test_new_footage_is_identified_on_a_schedule_with_the_shared_settings():
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    identify = next(d for d in document["deployments"] if d["name"] == "identify-footage")
    assert identify["parameters"]["only_new"] is True
    assert identify["parameters"]["footage"] == document["definitions"]["footage"]
    assert identify["parameters"]["compute"] == document["definitions"]["compute"]


def test_model_references_are_the_packaged_model_or_an_explicit_placeholder():
    from pretrained import PACKAGED_MODELS

    # No made-up paths: training writes <kind>-<digest>.keras, whose name nobody knows in advance.
    for deployment in _deployments():
        for key, value in deployment["parameters"].items():
            if key.endswith("_model"):
                assert value in PACKAGED_MODELS or value == "set-me", (deployment["name"], key, value)
