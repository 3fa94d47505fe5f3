"""prefect.yaml: every deployment names a real flow and parameters its model accepts."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _deployments():
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_every_deployment_points_at_a_flow_and_validates_its_parameters():
    import inspect

    names = set()
    for deployment in _deployments():
        names.add(deployment["name"])
        module_path, _, function = deployment["entrypoint"].partition(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, function)
        assert hasattr(flow, "fn"), f"{deployment['entrypoint']} is not a Prefect flow"
        model = inspect.signature(flow.fn).parameters["params"].annotation
        model = getattr(module, model) if isinstance(model, str) else model
        model.model_validate(deployment["parameters"]["params"])
    assert {"ingest-archive", "train-pose", "extract-features", "train-gait", "describe", "evaluate",
            "run-pipeline", "reprocess-archive", "synthesize-archive"} <= names


def test_reprocessing_is_scheduled():
    scheduled = {d["name"]: d.get("schedules") for d in _deployments()}
    assert scheduled["reprocess-archive"][0]["cron"]
