"""The synthetic walker: labelled walking videos whose identity lives only in body and motion.

Modules, one job each:
  seeds       integer-keyed random generators (never Python's salted hash()).
  skeleton    the 16 MPII joints and the names of body parts.
  body        per-person body proportions (BodyShape).
  gait        per-person gait style as Fourier joint-angle curves, and per-walk drift (GaitStyle).
  kinematics  physically consistent walking in world coordinates: planted feet, two-link IK,
              pelvis height from the loaded leg (WalkMotion).
  covariates  per-walk and per-view conditions independent of identity (outfit, bag, coat, ...).
  camera      a panning pinhole camera at one of the views 0..180 degrees.
  figure      capsules and ellipsoids dressing a WalkMotion (Figure).
  raster      the z-buffer rasteriser of capsules and ellipsoids.
  scenery     procedural backgrounds (panorama) and the soft ground shadow.
  render      one walk seen by one camera: frames, 2-D joints and their visibility.
  style       the rendering styles: "standard" (training's look) and "shifted" (a held-out look).
  video       writing frames as a PyAV video or a JPEG folder.
  sidecar     the ground-truth sidecar (DEVELOPMENT.md format).
  archive     ArchiveSpec -> WalkJobs -> files in the casia-b / tum-gaid layouts.
  baseline    identification from ground-truth joints (the honest upper reference).
  scene       several walkers at once before a static camera, with true boxes and identities
              (ground truth for person detection and tracking in footage).
"""
