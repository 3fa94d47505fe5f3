"""Neural networks of gaitflow: HumanPoseNN, GaitNN and what trains and loads them.

Modules (import them directly; this package imports nothing, so that importing it stays
free of TensorFlow until a network is needed):

- `nets.pose_network`: `HumanPoseNN(backbone="inception_resnet_v2" | "small", ...)`, the
  output names, `INPUT_SIZES` / `model_input_size`, `feature_extractor`, `JOINT_NAMES`.
- `nets.gait_network`: `GaitNN(recurrent_unit=..., rnn_layers=..., num_identities=...)`,
  `pad_sequences`, `gait_descriptors`.
- `nets.layers`: the custom Keras layers (serialisable, package "gaitflow").
- `nets.heatmaps`: binary-disk and Gaussian heat-map targets.
- `nets.losses`: the seed's SCE and MSE heat-map losses, batch-hard triplet loss.
- `nets.metrics`: mean joint distance, PCK.
- `nets.checkpoints`: `.keras` save/load, import of the seed's TF1 checkpoints.
- `nets.pose_api`: `estimate_poses`, `draw_skeleton`.
- `nets.pose_training`: `fit_pose`.  `nets.gait_training`: `fit_gait`.
- `nets.model_flops`: analytic operation counts (for benchmarks).

Nothing here imports prefect, zarr or mlflow.
"""
