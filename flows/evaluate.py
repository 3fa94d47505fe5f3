"""Flow `evaluate`: identification vectors of a store scored under a data set's protocol."""

from __future__ import annotations

import tempfile

from prefect import flow

from evaluation.report import ProtocolReport
from flows.common import tracked_run
from params import EvaluateParams, keyword_parameters
from tasks.evaluate import choose_split, evaluate_protocol, load_descriptors, write_report_files
from tracking.flow_runs import log_run_artifacts, log_run_metrics


@flow(name="evaluate")
@keyword_parameters(EvaluateParams)
def evaluate_descriptors(params: EvaluateParams) -> dict:
    """Rank-1 tables, CMC, mAP and EER per classifier; tables and plots go to MLflow."""
    with tracked_run(params.tracking, "evaluate", params) as run_id:
        _, vectors, labels = load_descriptors(str(params.store), params.descriptors)
        train, test = choose_split(labels, params.protocol.protocol, params.protocol.train_subjects)
        results = {}
        for classifier in params.classifiers:
            report = evaluate_protocol(vectors, labels, params.protocol.protocol, classifier, train)
            metrics = ProtocolReport.from_dict(report).to_metrics()
            log_run_metrics(params.tracking, run_id, {f"{classifier}/{k}": v for k, v in metrics.items()})
            with tempfile.TemporaryDirectory(prefix="gaitflow-report-") as folder:
                write_report_files(report, folder)
                log_run_artifacts(params.tracking, run_id, folder, f"evaluation/{classifier}")
            results[classifier] = report
    return {
        "protocol": params.protocol.protocol,
        "descriptors": params.descriptors,
        "train_subjects": len(train),
        "test_subjects": len(test),
        "mlflow_run_id": run_id,
        "results": results,
    }
