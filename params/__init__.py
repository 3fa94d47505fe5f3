"""The parameters of gaitflow's flows: one declaration of every field's type, default, bounds
and description, read by the flows' signatures (and so by Prefect's parameter schema and
deployments), by the tasks and by the command line.

A leaf: it imports nothing of the project, so any layer may import it (an import-linter
contract in pyproject.toml holds it to that). Unknown keys are rejected everywhere.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticUndefined


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _local_path(value: Any) -> Any:
    """Paths only: a URL would otherwise become a local folder named after its scheme
    ("s3://bucket/x" -> "s3:/bucket/x"). `file://` URLs are taken as their path."""
    if isinstance(value, str) and "://" in value:
        scheme, rest = value.split("://", 1)
        if scheme.lower() == "file":
            return rest
        raise ValueError(f"{value}: the {scheme}:// scheme is not supported; the store and archives take a local or "
                         "mounted path (or a file:// URL)")
    return value


# A folder or file on a local or mounted file system.
LocalPath = Annotated[Path, BeforeValidator(_local_path)]

# URL schemes of the object stores a store may live on (storage.object_store.SCHEMES).
STORE_SCHEMES = ("s3",)


def _store_location(value: Any) -> Any:
    """A store's place: a local path (a Path), or an object-storage URL kept as text, since a Path
    would fold its "//". Other schemes are refused, naming the supported ones."""
    if isinstance(value, str) and "://" in value:
        scheme, rest = value.split("://", 1)
        if scheme.lower() in STORE_SCHEMES:
            if not rest.split("/", 1)[0]:
                raise ValueError(f"{value}: no bucket; write {scheme}://bucket/prefix")
            return f"{scheme.lower()}://{rest.rstrip('/')}"
        if scheme.lower() != "file":
            raise ValueError(f"{value}: the {scheme}:// scheme is not supported; a store is a local path, a file:// "
                             f"URL or {' or '.join(s + '://bucket/prefix' for s in STORE_SCHEMES)}")
        value = rest
    return Path(value) if isinstance(value, str) else value


# A gaitflow store: a local folder, or a prefix on object storage (s3://bucket/prefix).
StoreLocation = Annotated[Path | str, BeforeValidator(_store_location)]

# Fields that several flows share, declared once; each flow's model gives the default.
VideoArchive = Annotated[LocalPath, Field(description="Top folder of the video archive.")]
Layout = Annotated[Literal["casia-b", "tum-gaid", "folder"], Field(
    description="How the archive names sequences: casia-b: SSS-cc-NN-VVV videos; tum-gaid: pNNN/n01 image "
    "folders; folder: any videos, the id is the relative path.",
)]
FrameRate = Annotated[float | None, Field(
    gt=0, le=240, description="Resample to this frame rate; None keeps the source's.",
)]
Crop = Annotated[Literal["center", "person", "track"], Field(
    description="center: the largest centred square; person: follow the moving person (static camera); track: "
    "find and follow every walker (static camera), one sequence <source id>#tNNN per walker.",
)]
MinTrackFrames = Annotated[int, Field(
    ge=2, le=100000,
    description="With crop track: least frames a walker's track needs to become a sequence (shorter ones are "
    "listed and skipped).",
)]
View = Annotated[int, Field(ge=0, le=180, multiple_of=18, description="A camera view in degrees.")]
Classifiers = Annotated[tuple[Literal["svm", "nn"], ...], Field(min_length=1, description="Classifiers to report.")]


def _regular_expression(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a regular expression ({error})") from None
    return pattern


def _folder_or_nothing(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} is a file, not a folder")
    return path


# Sequences a stage runs in the flow's own process when `ComputeParams.in_process_sequences` is
# unset and no scheduler address is given (`flows.compute.in_process_limit`).
IN_PROCESS_SEQUENCES = 16


class ComputeParams(Params):
    """Where tasks run."""

    dask_address: str | None = Field(
        None, description="Address of an existing Dask scheduler (tcp://host:8786); None starts a local cluster."
    )
    n_workers: int = Field(2, ge=1, le=256, description="Worker processes of the local cluster.")
    threads_per_worker: int = Field(1, ge=1, le=64, description="Threads per local worker (also TensorFlow's).")
    scratch_dir: Path | None = Field(None, description="Dask's spill and scratch folder for local workers.")
    in_process_sequences: int | None = Field(
        None, ge=0, le=100_000,
        description="A stage with at most this many sequences left to process runs them in the flow's own process, "
        "not on Dask workers (a cold worker spends seconds importing TensorFlow and loading the model before its "
        f"first frame); 0: always on Dask. None: {IN_PROCESS_SEQUENCES}, or 0 with dask_address (that cluster's "
        "workers may see a store or devices this process does not).",
    )


class TrackingParams(Params):
    """Where runs are recorded."""

    tracking_uri: str = Field(
        "sqlite:///.gaitflow/mlflow.db", min_length=1, description="MLflow tracking URI (a SQLite file by default)."
    )
    experiment: str = Field("gaitflow", min_length=1, max_length=200, description="MLflow experiment name.")
    artifact_root: Path | None = Field(
        Path(".gaitflow/mlartifacts"), description="Folder for artifacts of experiments this run creates."
    )
    parent_run_id: str | None = Field(None, description="MLflow run to nest this run under.")


class FeatureOptions(Params):
    """How pose features are computed."""

    batch_frames: int = Field(32, ge=1, le=1024, description="Frames per feature chunk (and network call on a GPU).")
    network_batch: int | None = Field(
        None, ge=1, le=1024,
        description="Frames per network call; None: the whole chunk on a GPU, on a CPU as few as keep activations "
        "in cache (8 at 136 px, 2 at 299 px).",
    )
    sequences_per_task: int = Field(8, ge=1, le=1024, description="Sequences one Dask task processes in a row.")
    dtype: Literal["float16", "float32"] = Field("float16", description="Stored precision of the spatial features.")
    device: Literal["auto", "cpu", "gpu"] = Field("auto", description="auto: a GPU when TensorFlow sees one.")
    mixed_precision: bool = Field(
        False, description="Compute in mixed float16 (fast on GPUs with tensor cores, slow on CPUs)."
    )


class IngestParams(Params):
    """Parameters of `ingest_archive`."""

    archive: VideoArchive
    store: StoreLocation = Field(description="The zarr store to write (created if missing).")
    layout: Layout = "casia-b"
    frame_size: int = Field(299, ge=16, le=2048, description="Side of the stored square frames in pixels.")
    fps: FrameRate = None
    crop: Crop = "center"
    min_track_frames: MinTrackFrames = 25
    chunk_frames: int = Field(16, ge=1, le=1024, description="Frames per zarr chunk along time.")
    allow_partial: bool = Field(
        False, description="Store sources with damaged or missing frames without them (recorded in the sequence's "
        "attributes); off, such a source fails with the file and frame named.",
    )
    sequences_per_task: int = Field(8, ge=1, le=10000, description="Sequences one Dask task hashes and decodes.")
    pose_model: str | None = Field(
        None, description="Also compute this pose model's features (.keras, MLflow URI, 'synthetic' or seed TF1 "
        "checkpoint prefix), streamed: each bundle's right after its frames are stored, in the same Dask task.",
    )
    features: FeatureOptions = Field(
        default_factory=FeatureOptions, description="How streamed pose features are computed (with pose_model)."
    )
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class SynthesizeParams(Params):
    """Parameters of `synthesize_archive`: a labelled synthetic walking archive."""

    archive: LocalPath = Field(description="Folder to write the archive into (created if missing).")
    layout: Literal["casia-b", "tum-gaid"] = Field("casia-b", description="Which data set's layout to imitate.")
    subjects: int = Field(10, ge=2, le=2000, description="Number of people.")
    views: tuple[View, ...] | None = Field(
        None, description="Camera views in degrees (multiples of 18 within 0..180); None: the layout's default."
    )
    frames: int = Field(60, ge=8, le=2000, description="Frames per walk.")
    size: int = Field(128, ge=32, le=1024, multiple_of=2, description="Side of the square video frames in pixels.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of everything random; same seed, same archive.")
    difficulty: float = Field(
        1.0, ge=0.0, le=3.0, description="Scales walk-to-walk drift, covariate ranges and degradation (1: nominal)."
    )
    spread: float = Field(1.0, ge=0.0, le=3.0, description="Scales between-person variability of body and gait.")
    style: Literal["standard", "shifted"] = Field(
        "standard", description="standard: the look pose training uses; shifted: textures, palette, shading, "
        "backgrounds, camera noise and body proportions it never saw, to test pose quality out of style.",
    )
    jobs_per_task: int = Field(11, ge=1, le=1000, description="Walk views one Dask task renders in a row.")
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class ProtocolOptions(Params):
    """Which evaluation protocol and train/test split."""

    protocol: Literal["casia-b", "tum-gaid"] = Field("casia-b", description="Evaluation protocol.")
    train_subjects: str | None = Field(
        None, pattern=r"^\d+(-\d+)?$",
        description="Training subjects: N (the first N) or A-B (numbers A to B); None: the data set's standard split.",
    )


class PoseTrainingOptions(Params):
    """How HumanPoseNN is trained on stored frames with ground-truth joints."""

    backbone: Literal["small", "inception_resnet_v2"] = Field("small", description="Pose network trunk.")
    loss: Literal["sce", "mse"] = Field("sce", description="The seed's heat-map loss: SCE on disks or MSE on Gaussians.")
    epochs: int = Field(8, ge=1, le=1000, description="Training epochs.")
    batch_size: int = Field(16, ge=1, le=512, description="Frames per step.")
    learning_rate: float = Field(1e-3, gt=0, le=1.0, description="Adam's initial learning rate (cosine decay to 1 % over the epochs).")
    frames_per_sequence: int = Field(
        6, ge=1, le=1000,
        description="Frames of each sequence an epoch trains on; every epoch takes new ones (evenly spaced) until a "
                    "sequence's frames or frames_memory_gb run out.",
    )
    frames_memory_gb: float = Field(
        3.0, gt=0, le=1024,
        description="Most memory the sampled training frames may take; beyond it, epochs repeat frames.",
    )
    validation_fraction: float = Field(0.15, ge=0.05, le=0.5, description="Share of subjects held out for validation.")
    augment: bool = Field(True, description="Random flips (with left/right swap), scale and shift.")
    appearance_jitter: bool = Field(
        False, description="With augment: a random look (colour, contrast, blur, noise, JPEG) for half the training "
        "frames. Off by default: on synthetic walkers it moved held-out PCK by -0.02 and style-shift PCK by +0.02.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of sampling, splits and initialisation.")
    initial_model: str | None = Field(
        None, min_length=1,
        description="Weights to start from (fine-tuning): 'synthetic' (the small pose model that ships with gaitflow, "
        "trained on 96 synthetic walkers of a seed no demo, test or benchmark archive uses), a saved .keras pose "
        "model, an MLflow model URI, or a seed TF1 checkpoint prefix. Its trunk must be `backbone`. None: random "
        "initialisation.",
    )


class TrainPoseParams(Params):
    """Parameters of `train_pose`."""

    store: StoreLocation = Field(description="Store whose sequences carry ground-truth joints.")
    protocol: ProtocolOptions | None = Field(
        None, description="When given, only this protocol's training people are used, so test people stay unseen."
    )
    training: PoseTrainingOptions = Field(default_factory=PoseTrainingOptions)
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class ExtractFeaturesParams(Params):
    """Parameters of `extract_features`."""

    store: StoreLocation = Field(description="Store with ingested frames.")
    pose_model: str = Field(
        min_length=1, description="A saved .keras pose model, an MLflow model URI (runs:/...), 'synthetic' (the small "
        "model that ships with gaitflow, trained on synthetic walkers only), or the prefix of a seed TF1 checkpoint "
        "(.../MPII+LSP.ckpt, converted once).",
    )
    options: FeatureOptions = Field(default_factory=FeatureOptions)
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class GaitTrainingOptions(Params):
    """How GaitNN is trained on stored pose features."""

    recurrent_unit: Literal["GRU", "LSTM"] = Field("GRU", description="Recurrent cell of 512 units.")
    rnn_layers: int = Field(2, ge=1, le=4, description="Stacked recurrent layers.")
    residual_blocks: Literal["discarded", "chained"] = Field(
        "discarded",
        description="The seed's extra residual blocks: 'discarded' computes what the seed computed (its repeat "
        "blocks' outputs were thrown away), about 3x faster to train on a CPU; 'chained' applies them.",
    )
    feature_centering: Literal["walk", "none"] = Field(
        "none",
        description="none: the seed's input; walk: subtract each walk's mean features first, so GaitNN sees the "
        "motion and not what stays constant through a walk (clothing, position, but also body shape).",
    )
    loss: Literal["softmax", "triplet", "softmax+triplet"] = Field(
        "softmax+triplet",
        description="The seed's softmax cross-entropy, batch-hard triplet on the normalised embedding, or their "
        "sum (as OpenGait's GaitBase trains).",
    )
    epochs: int = Field(30, ge=1, le=5000, description="Maximum epochs (passes over the training sequences).")
    people_per_batch: int = Field(8, ge=2, le=256, description="People in each batch.")
    sequences_per_person: int = Field(4, ge=1, le=64, description="Sequences of each person in a batch.")
    clip_frames: int = Field(40, ge=4, le=2000, description="Frames of the random clip cut from each training sequence.")
    learning_rate: float = Field(1e-3, gt=0, le=1.0, description="Adam's initial learning rate.")
    schedule: Literal["cosine", "seed"] = Field(
        "cosine", description="cosine: decay to 1 % over all epochs; seed: x0.96 every two epochs (staircase).",
    )
    patience: int = Field(6, ge=1, le=1000, description="Epochs without better validation rank-1 before stopping.")
    validation_fraction: float = Field(0.2, ge=0.0, le=0.5, description="Share of training subjects held out.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of sampling and initialisation.")


class TrainGaitParams(Params):
    """Parameters of `train_gait`."""

    store: StoreLocation = Field(description="Store with pose features.")
    features: str = Field(min_length=1, description="Tag of the pose model whose features to train on.")
    protocol: ProtocolOptions = Field(default_factory=ProtocolOptions)
    training: GaitTrainingOptions = Field(default_factory=GaitTrainingOptions)
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class DescribeParams(Params):
    """Parameters of `describe`."""

    store: StoreLocation = Field(description="Store with pose features.")
    gait_model: str = Field(min_length=1, description="A saved .keras GaitNN, or an MLflow model URI (runs:/...).")
    features: str | None = Field(
        None, description="Tag of the pose features the model reads; None: what the model's training recorded."
    )
    sequences_per_task: int = Field(32, ge=1, le=100000, description="Sequences one Dask task describes.")
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class EvaluateParams(Params):
    """Parameters of `evaluate`."""

    store: StoreLocation = Field(description="Store with identification vectors.")
    descriptors: str = Field(min_length=1, description="Tag of the GaitNN whose identification vectors to evaluate.")
    protocol: ProtocolOptions = Field(default_factory=ProtocolOptions)
    classifiers: Classifiers = ("svm", "nn")
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class SyntheticPoseData(Params):
    """The synthetic archive `run_pipeline` renders to train the pose network on when the
    archive has no ground-truth joints and no pose model is given."""

    subjects: int = Field(12, ge=2, le=500, description="People in the synthetic archive.")
    views: tuple[View, ...] = Field((0, 36, 72, 90, 108, 144, 180), description="Views in degrees.")
    frames: int = Field(40, ge=8, le=500, description="Frames per walk.")
    seed: int = Field(7919, ge=0, le=2**31 - 1, description="Seed of the synthetic archive.")


class PipelineParams(Params):
    """Parameters of `run_pipeline`: from a video archive to identification results."""

    archive: VideoArchive
    store: StoreLocation = Field(description="The zarr store for every stage's arrays (created if missing).")
    layout: Layout = "casia-b"
    protocol: ProtocolOptions = Field(default_factory=ProtocolOptions)
    pose_model: str | None = Field(
        None, description="A trained pose model (.keras, MLflow URI, 'synthetic' or seed TF1 checkpoint prefix); None "
        "trains one on ground-truth joints."
    )
    frame_size: int | None = Field(
        None, ge=16, le=2048, description="Stored frame side in px; None: the pose network's input size."
    )
    fps: FrameRate = None
    crop: Crop = "center"
    min_track_frames: MinTrackFrames = 25
    pose_training: PoseTrainingOptions = Field(default_factory=PoseTrainingOptions)
    synthetic_pose_data: SyntheticPoseData = Field(default_factory=SyntheticPoseData)
    features: FeatureOptions = Field(default_factory=FeatureOptions)
    gait_training: GaitTrainingOptions = Field(default_factory=GaitTrainingOptions)
    classifiers: Classifiers = ("svm", "nn")
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


GalleryName = Annotated[str, Field(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="Name of the gallery in the store.",
)]


class EnrollParams(Params):
    """Parameters of `enroll_gallery`: people added to a named gallery of the store, either one
    person from videos of them walking or the labelled people of a store."""

    gallery: GalleryName
    store: StoreLocation = Field(description="The zarr store that keeps the gallery (created if missing).")
    gait_model: str = Field(min_length=1, description="A saved .keras GaitNN, or an MLflow model URI (runs:/...).")
    pose_model: str = Field(
        min_length=1, description="The pose model (.keras, MLflow URI, 'synthetic' or seed checkpoint prefix) whose features the "
        "gait model reads; identification computes new footage's features with it.",
    )
    name: str | None = Field(
        None, min_length=1, max_length=200, description="With videos: the person's name (each video's longest walker).",
    )
    videos: tuple[Path, ...] = Field((), description="Videos of the person named by `name` walking.")
    from_store: StoreLocation | None = Field(
        None, description="A store whose labelled sequences (their subject labels) are enrolled; vectors missing "
        "for the gait model are computed there first.",
    )
    subjects: tuple[str, ...] | None = Field(None, description="With from_store: only these subjects.")
    sequences: Annotated[str, AfterValidator(_regular_expression)] | None = Field(
        None, min_length=1, max_length=500,
        description="With from_store: only sequences whose id matches this regular expression (e.g. -nm-0[1-4]-).",
    )
    features: str | None = Field(
        None, description="Tag of the pose features the gait model reads; None: what the model's training recorded.",
    )
    frame_size: int | None = Field(
        None, ge=16, le=2048, description="With videos: stored frame side in px; None: the pose network's input size.",
    )
    fps: FrameRate = None
    min_track_frames: MinTrackFrames = 25
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


class IdentifyParams(Params):
    """Parameters of `identify_footage`: who walks in new footage, against a gallery."""

    footage: LocalPath = Field(description="A video, or a folder of videos (static camera).")
    store: StoreLocation = Field(description="The store that keeps the gallery; the footage's walkers are stored there too.")
    gallery: GalleryName
    far: float = Field(
        0.01, ge=0.0, lt=1.0,
        description="False-accept rate of the open-set threshold, set on the store's labelled walks of people "
        "outside the gallery (else on the gallery's own people): a track whose best score misses it is 'unknown'.",
    )
    classifier: Literal["nn", "svm"] = Field(
        "nn", description="Who a track is matched to: nn, the person of its nearest enrolled walk; svm, the linear "
        "SVM's best person. Either way the distance to that person's nearest walk decides 'unknown'.",
    )
    min_track_frames: MinTrackFrames = 25
    fps: FrameRate = None
    only_new: bool = Field(
        False, description="Answer only for footage not identified before (sources stored by this run).",
    )
    out: Annotated[Path, AfterValidator(_folder_or_nothing)] | None = Field(
        None, description="Folder for the annotated contact sheet and the tracks table; None: <store>/identified/.",
    )
    compute: ComputeParams = Field(default_factory=ComputeParams)
    tracking: TrackingParams = Field(default_factory=TrackingParams)


# A flow's keyword parameters, made from its model.

Result = TypeVar("Result")


def field_annotation(field) -> Any:
    """The field's type with its bounds and description, as a function parameter's annotation.

    Prefect's parameter schema takes a parameter's constraints from its annotation only, so
    they travel inside `Annotated` rather than in the default.
    """
    metadata = [*field.metadata]
    if field.description:
        metadata.append(Field(description=field.description))
    return Annotated[(field.annotation, *metadata)] if metadata else field.annotation


def model_signature(model: type[Params], returns: Any = inspect.Signature.empty) -> inspect.Signature:
    """Keyword-only parameters, one per field of `model`, in declaration order."""
    parameters = []
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        parameters.append(inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=field_annotation(field),
            default=inspect.Parameter.empty if default is PydanticUndefined else default,
        ))
    return inspect.Signature(parameters, return_annotation=returns)


def field_description(field) -> str | None:
    """The field's description; for a nested group without one, the first line of its model's docstring."""
    if field.description:
        return field.description
    group = field.annotation if isinstance(field.annotation, type) and issubclass(field.annotation, Params) else None
    return inspect.getdoc(group).splitlines()[0] if group is not None and group.__doc__ else None


def _with_arguments_section(doc: str | None, model: type[Params]) -> str:
    """`doc` with a Google-style Args section: Prefect's parameter schema reads parameter
    descriptions from the docstring, not from the annotation."""
    lines = [inspect.cleandoc(doc or model.__doc__ or ""), "", "Args:"]
    for name, field in model.model_fields.items():
        description = " ".join((field_description(field) or name.replace("_", " ")).split())
        lines.append(f"    {name}: {description}")
    return "\n".join(lines)


def keyword_parameters(model: type[Params]) -> Callable[[Callable[[Any], Result]], Callable[..., Result]]:
    """`fn(params: model)` becomes `fn(**fields of model)`: its signature lists the model's fields.

    Goes under `@flow`, so Prefect's parameter schema, deployments and `--param key=value` see
    each field as a parameter with its type, default, bounds and description, while the body
    keeps receiving one validated model. The model stays the one declaration of the fields.
    """

    def decorate(fn: Callable[[Any], Result]) -> Callable[..., Result]:
        def call(**fields: Any) -> Result:
            return fn(model(**fields))

        # No __wrapped__: Prefect would then bind arguments against `fn`'s own signature.
        for attribute in ("__module__", "__name__", "__qualname__"):
            setattr(call, attribute, getattr(fn, attribute))
        call.__doc__ = _with_arguments_section(fn.__doc__, model)
        signature = model_signature(model, inspect.signature(fn).return_annotation)
        call.__signature__ = signature
        call.__annotations__ = {
            **{name: parameter.annotation for name, parameter in signature.parameters.items()},
            "return": signature.return_annotation,
        }
        return call

    return decorate
