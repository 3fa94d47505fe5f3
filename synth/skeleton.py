"""The 16 MPII joints, in MPII order; left and right are the person's own."""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)
JOINT_COUNT = len(JOINT_NAMES)
JOINT = {name: i for i, name in enumerate(JOINT_NAMES)}

# Per side (0 = right, 1 = left) the joint indices of the leg and the arm.
ANKLE = (JOINT["r_ankle"], JOINT["l_ankle"])
KNEE = (JOINT["r_knee"], JOINT["l_knee"])
HIP = (JOINT["r_hip"], JOINT["l_hip"])
SHOULDER = (JOINT["r_shoulder"], JOINT["l_shoulder"])
ELBOW = (JOINT["r_elbow"], JOINT["l_elbow"])
WRIST = (JOINT["r_wrist"], JOINT["l_wrist"])
PELVIS = JOINT["pelvis"]
THORAX = JOINT["thorax"]
UPPER_NECK = JOINT["upper_neck"]
HEAD_TOP = JOINT["head_top"]
