"""Gait-recognition evaluation: pure numpy/scikit-learn functions on descriptor arrays.

Modules:
  labels: SequenceLabels, the per-sequence subject/condition/index/view/session arrays.
  metrics: rank-k, CMC, mAP (scikit-learn), MRR, ROC and EER from probe x gallery score or
    distance matrices.
  classifiers: linear SVM and nearest neighbour -> probe x gallery-subject score matrices.
  protocols: evaluate() for the CASIA-B (single-view gallery, identical view excluded) and
    TUM GAID protocols; split_subjects().
  report: ProtocolReport and its JSON, Markdown and metric views.
  plots: the report's PNG plots (matplotlib, no pyplot).

Nothing here is imported by this file, so `import evaluation.labels` stays light.
"""
