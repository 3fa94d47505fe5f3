"""Identification from ground-truth joints: the honest upper reference for the archive.

A sequence's descriptor combines body proportions (2-D bone lengths relative to the body's
image height) with its phase-aligned joint trajectories (a few Fourier harmonics of each
joint's position over the gait cycle) and the stride frequency. Everything temporal is in
seconds, not frames, because frame rates differ between walks. `LdaProjection`, fitted on
people outside the test set, maps descriptors to a space where nearest-neighbour matching
(evaluation.protocols.evaluate(..., classifier="nn")) identifies people.

The gait phase comes from the legs' vertical extent: a swinging leg's ankle comes up towards
its hip, so "left extent minus right extent" peaks once per stride in every view (except
from above), which also tells left from right.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.preprocessing import StandardScaler

from synth.skeleton import ANKLE, ELBOW, HEAD_TOP, HIP, JOINT_COUNT, KNEE, PELVIS, SHOULDER, THORAX, UPPER_NECK, WRIST

HARMONICS = 3
STRIDE_FREQUENCIES = np.linspace(0.5, 1.6, 221)  # Hz searched for the stride frequency
BONES: tuple[tuple[int, int], ...] = (
    (HIP[0], KNEE[0]), (HIP[1], KNEE[1]), (KNEE[0], ANKLE[0]), (KNEE[1], ANKLE[1]),
    (SHOULDER[0], ELBOW[0]), (SHOULDER[1], ELBOW[1]), (ELBOW[0], WRIST[0]), (ELBOW[1], WRIST[1]),
    (PELVIS, THORAX), (THORAX, UPPER_NECK), (UPPER_NECK, HEAD_TOP), (HIP[0], HIP[1]), (SHOULDER[0], SHOULDER[1]),
)
TRAJECTORY_JOINTS = tuple(j for j in range(JOINT_COUNT) if j != PELVIS)


def gait_descriptor(joints_xy: np.ndarray, fps: float) -> np.ndarray:
    """One sequence's descriptor.

    Args:
      joints_xy: (T, 16, 2) pixel coordinates in MPII order, T >= 8.
      fps: the sequence's frame rate.

    Returns:
      (D,) float64: bone ratios (2 per bone), trajectory harmonics
      (15 joints x 2 coordinates x (1 + 2 * HARMONICS)), stride frequency in Hz.
    """
    joints = np.asarray(joints_xy, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (JOINT_COUNT, 2):
        raise ValueError(f"joints_xy must be (T, 16, 2), got {joints.shape}")
    if len(joints) < 8:
        raise ValueError(f"a gait descriptor needs at least 8 frames, got {len(joints)}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    time = np.arange(len(joints)) / fps
    normalised = _normalised(joints, time)
    frequency, phase = stride_phase(normalised, time)
    bones = _bone_ratios(normalised)
    design = _fourier_design(phase)  # (T, 1 + 2K)
    trajectories = normalised[:, TRAJECTORY_JOINTS, :].reshape(len(joints), -1)  # (T, 30)
    coefficients, *_ = np.linalg.lstsq(design, trajectories, rcond=None)  # (1 + 2K, 30)
    return np.concatenate([bones, coefficients.T.ravel(), [frequency]])


def stride_phase(normalised: np.ndarray, time: np.ndarray) -> tuple[float, np.ndarray]:
    """(stride frequency in Hz, phase (T,) in cycles) of normalised joints (T, 16, 2).

    Phase 0 is where the right leg is shortest in the image relative to the left (mid
    right swing).
    """
    extent = normalised[:, ANKLE, 1] - normalised[:, HIP, 1]  # (T, 2) image y grows downwards
    swing = extent[:, 1] - extent[:, 0]
    swing = swing - swing.mean()
    # The ankles' separation along their main direction also beats at the stride frequency.
    separation = normalised[:, ANKLE[0]] - normalised[:, ANKLE[1]]
    separation = separation - separation.mean(axis=0)
    _, _, axes = np.linalg.svd(separation, full_matrices=False)
    along = separation @ axes[0]
    waves = np.exp(-2j * np.pi * STRIDE_FREQUENCIES[:, None] * time[None, :])  # (F, T)
    power = np.abs(waves @ (swing / (swing.std() + 1e-9))) ** 2 + np.abs(waves @ (along / (along.std() + 1e-9))) ** 2
    frequency = float(STRIDE_FREQUENCIES[int(np.argmax(power))])
    component = np.sum(swing * np.exp(-2j * np.pi * frequency * time))
    phase = frequency * time + np.angle(component) / (2 * np.pi)
    return frequency, phase


@dataclasses.dataclass
class LdaProjection:
    """Standardise -> PCA -> LDA, fitted on training people; `transform` gives the space
    in which nearest neighbours identify.

    Attributes:
      variance: share of variance the PCA keeps before LDA (regularises few-walk classes).
    """

    variance: float = 0.99

    def fit(self, descriptors: np.ndarray, subjects: np.ndarray) -> "LdaProjection":
        """Fits on (N, D) descriptors of at least two subjects (N,) with two walks or more."""
        descriptors = np.asarray(descriptors, dtype=np.float64)
        subjects = np.asarray(subjects)
        if descriptors.ndim != 2 or len(descriptors) != len(subjects):
            raise ValueError(f"descriptors (N, D) and subjects (N,) must pair up, got {descriptors.shape} and {subjects.shape}")
        classes = np.unique(subjects)
        if classes.size < 2:
            raise ValueError(f"LDA needs at least two training subjects, got {classes.size}")
        self.scaler_ = StandardScaler().fit(descriptors)
        scaled = self.scaler_.transform(descriptors)
        components = min(len(descriptors) - classes.size, scaled.shape[1])
        self.pca_ = PCA(n_components=max(1, components), random_state=0).fit(scaled)
        keep = int(np.searchsorted(np.cumsum(self.pca_.explained_variance_ratio_), self.variance) + 1)
        self.keep_ = max(1, min(keep, self.pca_.n_components_))
        reduced = self.pca_.transform(scaled)[:, : self.keep_]
        self.lda_ = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(reduced, subjects)
        return self

    def transform(self, descriptors: np.ndarray) -> np.ndarray:
        """(N, D) descriptors -> (N, d) projected, d <= subjects - 1."""
        reduced = self.pca_.transform(self.scaler_.transform(np.asarray(descriptors, dtype=np.float64)))[:, : self.keep_]
        return self.lda_.transform(reduced)


def _normalised(joints: np.ndarray, time: np.ndarray) -> np.ndarray:
    """(T, 16, 2) joints relative to the pelvis, in units of the body's image height.

    The height is a straight-line fit over time of the head-top to mean-ankle distance, so
    it follows a walker coming closer without wobbling with the gait.
    """
    ankles = joints[:, ANKLE].mean(axis=1)
    height = np.linalg.norm(joints[:, HEAD_TOP] - ankles, axis=1)
    slope, intercept = np.polyfit(time, height, 1)
    scale = np.maximum(slope * time + intercept, 1e-3)
    return (joints - joints[:, PELVIS : PELVIS + 1]) / scale[:, None, None]


def _bone_ratios(normalised: np.ndarray) -> np.ndarray:
    """(2 * bones,): per bone its median and 90th-percentile image length (a bone is longest
    when it lies parallel to the image)."""
    lengths = np.stack([np.linalg.norm(normalised[:, a] - normalised[:, b], axis=1) for a, b in BONES], axis=1)
    return np.concatenate([np.median(lengths, axis=0), np.percentile(lengths, 90, axis=0)])


def _fourier_design(phase: np.ndarray) -> np.ndarray:
    columns = [np.ones_like(phase)]
    for k in range(1, HARMONICS + 1):
        columns += [np.cos(2 * np.pi * k * phase), np.sin(2 * np.pi * k * phase)]
    return np.stack(columns, axis=1)
